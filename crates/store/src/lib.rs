//! bidsieve store: the persistent configuration of bidsieve on SQLite or PostgreSQL.
//!
//! Owns the schema and its migrations (`migrations/sqlite`, `migrations/postgres`), the CRUD of
//! customers, suppliers, streams, users and filter nodes, the storage of big filter lists (hash
//! buckets, see [`ListBuilder`]), generated secrets, and the change feed the proxy follows.
//!
//! Main types:
//! - [`Store`]: a cheap, cloneable handle on a connection pool; every write method runs in its own
//!   transaction.
//! - [`StoreTx`]: a write transaction for multi-step changes (the admin API's validated filter
//!   edits); dropping it without [`StoreTx::commit`] changes nothing.
//! - [`ConfigData`]: the consistent, list-free read the proxy builds its snapshot from; lists are
//!   read bucket by bucket through [`ListReader`].
//! - Change feed: every committed write bumps one version (`config_state`); [`Store::subscribe`]
//!   sees commits made through this `Store` at once, [`Store::listen_changes`] sees every
//!   process's commits on PostgreSQL (LISTEN/NOTIFY), [`Store::config_version`] is the cheap poll.
//! - [`Store::background`], [`low_priority`]: bulk list work on a thread at the lowest normal
//!   priority, with a private connection, so that bids sharing the machine go first.
//!
//! The store deals in plain rows and strings: it does not know what a filter means (the filter
//! crate validates, the admin API decides) and never logs secrets or the store URL.

mod background;
mod changes;
mod customers;
mod error;
mod filters;
mod lists;
mod records;
mod schema;
mod settings;
mod snapshot;
mod streams;
mod suppliers;
mod tx;
mod users;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, AnyPool, Connection};
use tokio::sync::watch;

pub use background::{Job, low_priority};
pub use changes::{CHANGE_CHANNEL, ChangeListener};
pub use error::StoreError;
pub use lists::{
    BucketedList, LIST_BUCKETS, ListBuilder, ListChunk, ListReader, ListState, list_bucket,
};
pub use records::{
    ConfigData, Customer, CustomerInput, FilterRecord, NewUser, Stream, StreamInput, Supplier, User,
};
pub use tx::{StoreTx, WRITE_LOCK_TIMEOUT};

/// Connections kept to a SQLite file (writers take turns anyway; readers run in parallel).
const SQLITE_MAX_CONNECTIONS: u32 = 8;
/// Connections kept to PostgreSQL per process.
const POSTGRES_MAX_CONNECTIONS: u32 = 10;
/// How long a SQLite writer waits for another writer before failing with "database is locked".
const SQLITE_BUSY_TIMEOUT_MS: u128 = WRITE_LOCK_TIMEOUT.as_millis();
/// How long a caller waits for a free pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// Which database engine a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// One local file (`sqlite://path`): the embedded default.
    Sqlite,
    /// A PostgreSQL server (`postgres://...`): many processes share it.
    Postgres,
}

/// A handle on the store: cheap to clone (an `Arc` around the pool and the change feed).
///
/// Clone one `Store` rather than connecting twice in one process: clones share the in-process
/// change notifications of [`Store::subscribe`].
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    pool: AnyPool,
    engine: Engine,
    /// Kept for [`Store::listen_changes`]; may hold a password, so never logged or printed.
    url: String,
    /// Latest version committed through this process (shared with private handles).
    changes: Arc<watch::Sender<i64>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("engine", &self.inner.engine)
            .finish_non_exhaustive()
    }
}

// === impl Store ===

impl Store {
    /// Opens the store at `url` and applies pending migrations.
    ///
    /// `sqlite://PATH` (relative or absolute; `sqlite::memory:` for a private in-memory store)
    /// creates the file and its directory when missing and runs in WAL mode with foreign keys
    /// on; `postgres://...` / `postgresql://...` connects to a server.
    ///
    /// # Errors
    /// `UnsupportedUrl` for another scheme, `Io` when the directory cannot be created,
    /// `Database` when the connection fails, `Migrate` when a migration fails or the database
    /// holds migrations this build does not know.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let engine = engine_of(url)?;
        let (url, memory) = match engine {
            Engine::Postgres => (url.to_owned(), false),
            Engine::Sqlite => match sqlite_target(url) {
                SqliteTarget::Memory => (url.to_owned(), true),
                SqliteTarget::File(path) => {
                    if let Some(dir) = Path::new(path).parent()
                        && !dir.as_os_str().is_empty()
                    {
                        std::fs::create_dir_all(dir)?;
                    }
                    (with_create_mode(url), false)
                }
            },
        };
        if !memory {
            // One direct attempt first: a wrong URL or a server that is down fails at once with
            // the driver's error instead of after the pool's retries.
            let mut conn = AnyConnection::connect(&url).await?;
            if engine == Engine::Sqlite {
                sqlite_session(&mut conn).await?;
            }
            conn.close().await?;
        }
        let pool = pool_options(engine, memory).connect(&url).await?;
        schema::migrate(&pool, engine).await?;
        let version = changes::read_version(&pool).await?;
        let (changes, _) = watch::channel(version);
        tracing::debug!(engine = ?engine, config.version = version, "store opened");
        Ok(Store {
            inner: Arc::new(Inner {
                pool,
                engine,
                url,
                changes: Arc::new(changes),
            }),
        })
    }

    /// The engine this store runs on.
    pub fn engine(&self) -> Engine {
        self.inner.engine
    }

    /// Closes every pooled connection; later calls fail. Waits for checked-out connections.
    pub async fn close(&self) {
        self.inner.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.inner.pool
    }
}

fn engine_of(url: &str) -> Result<Engine, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Engine::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Engine::Postgres)
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}

/// Where a `sqlite:` URL points.
#[derive(Debug, PartialEq, Eq)]
enum SqliteTarget<'a> {
    Memory,
    File(&'a str),
}

fn sqlite_target(url: &str) -> SqliteTarget<'_> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let memory_mode = query.split('&').any(|pair| pair == "mode=memory");
    if path.is_empty() || path == ":memory:" || memory_mode {
        SqliteTarget::Memory
    } else {
        SqliteTarget::File(path)
    }
}

/// Per-connection SQLite settings (journal_mode=WAL also persists in the file).
async fn sqlite_session(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    sqlx::query("PRAGMA journal_mode = WAL")
        .execute(&mut *conn)
        .await?;
    sqlx::query("PRAGMA foreign_keys = ON")
        .execute(&mut *conn)
        .await?;
    let busy = format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}");
    sqlx::query(sqlx::AssertSqlSafe(busy))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// `url` with `mode=rwc` (create the file if missing) unless it names a mode itself.
fn with_create_mode(url: &str) -> String {
    if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

fn pool_options(engine: Engine, memory: bool) -> AnyPoolOptions {
    let options = AnyPoolOptions::new().acquire_timeout(ACQUIRE_TIMEOUT);
    match engine {
        Engine::Postgres => options.max_connections(POSTGRES_MAX_CONNECTIONS),
        Engine::Sqlite => {
            let options = options.after_connect(|conn, _meta| Box::pin(sqlite_session(conn)));
            if memory {
                // Every connection to `:memory:` is a separate database: keep one, forever.
                options
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
            } else {
                options.max_connections(SQLITE_MAX_CONNECTIONS)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_from_url() {
        assert_eq!(engine_of("sqlite://data/x.db").unwrap(), Engine::Sqlite);
        assert_eq!(engine_of("sqlite::memory:").unwrap(), Engine::Sqlite);
        assert_eq!(engine_of("postgres://u@h/db").unwrap(), Engine::Postgres);
        assert_eq!(engine_of("postgresql://u@h/db").unwrap(), Engine::Postgres);
        assert!(matches!(
            engine_of("mysql://h/db"),
            Err(StoreError::UnsupportedUrl)
        ));
        assert!(matches!(
            engine_of("data/x.db"),
            Err(StoreError::UnsupportedUrl)
        ));
    }

    #[test]
    fn create_mode_is_added_unless_given() {
        assert_eq!(with_create_mode("sqlite://a.db"), "sqlite://a.db?mode=rwc");
        assert_eq!(
            with_create_mode("sqlite://a.db?cache=shared"),
            "sqlite://a.db?cache=shared&mode=rwc"
        );
        assert_eq!(
            with_create_mode("sqlite://a.db?mode=ro"),
            "sqlite://a.db?mode=ro"
        );
    }

    #[test]
    fn sqlite_targets() {
        assert_eq!(
            sqlite_target("sqlite://data/bidsieve.db"),
            SqliteTarget::File("data/bidsieve.db")
        );
        assert_eq!(
            sqlite_target("sqlite:///tmp/a.db?mode=rwc"),
            SqliteTarget::File("/tmp/a.db")
        );
        assert_eq!(sqlite_target("sqlite:rel.db"), SqliteTarget::File("rel.db"));
        assert_eq!(sqlite_target("sqlite::memory:"), SqliteTarget::Memory);
        assert_eq!(sqlite_target("sqlite://:memory:"), SqliteTarget::Memory);
        assert_eq!(sqlite_target("sqlite://?mode=memory"), SqliteTarget::Memory);
    }
}
