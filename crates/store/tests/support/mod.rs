//! The two-engine harness: every test body runs on a fresh SQLite file and, when
//! `BIDSIEVE_TEST_PG_URL` is set, on a fresh PostgreSQL database created for it alone.

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use bidsieve_store::{CustomerInput, NewUser, Store, StreamInput};
use sqlx::Connection;

/// What a test body gets: the store and the URL it was opened with (to open a second
/// `Store`, as another process would, or to inspect tables directly).
pub struct Db {
    pub store: Store,
    pub url: String,
}

/// Declares `mod $name { sqlite(), postgres() }` running `$body(Db)` on each engine.
macro_rules! both_engines {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                crate::support::run_sqlite(super::$name).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                crate::support::run_postgres(stringify!($name), super::$name).await;
            }
        }
    )*};
}
pub(crate) use both_engines;

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos
    )
}

/// A fresh directory under the system temp dir (removed by the caller).
pub fn temp_dir() -> PathBuf {
    std::env::temp_dir().join(format!("bidsieve-store-test-{}", unique_suffix()))
}

pub async fn run_sqlite<F, Fut>(body: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = temp_dir();
    // A directory that does not exist yet: connect must create it.
    let url = format!("sqlite://{}/nested/store.db", dir.display());
    let store = Store::connect(&url).await.unwrap();
    let outcome = tokio::spawn(body(Db {
        store: store.clone(),
        url,
    }))
    .await;
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// `url` with its database name replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    format!("{host_part}/{db}{query}")
}

#[allow(clippy::print_stderr)] // the skip must be visible in the test output
fn skip_message(test: &str) {
    eprintln!("skipping the PostgreSQL run of `{test}`: BIDSIEVE_TEST_PG_URL is not set");
}

pub async fn run_postgres<F, Fut>(test: &str, body: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Ok(admin_url) = std::env::var("BIDSIEVE_TEST_PG_URL") else {
        skip_message(test);
        return;
    };
    let name = format!("bidsieve_test_{}", unique_suffix());
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let url = with_database(&admin_url, &name);
    let outcome = match Store::connect(&url).await {
        Ok(store) => {
            let outcome = tokio::spawn(body(Db {
                store: store.clone(),
                url,
            }))
            .await;
            store.close().await;
            outcome.map_err(|e| e.into_panic())
        }
        Err(e) => Err(Box::new(format!("connect failed: {e}")) as Box<dyn std::any::Any + Send>),
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

// === fixtures ===

pub fn customer_input(slug: &str) -> CustomerInput {
    CustomerInput {
        name: format!("Customer {slug}"),
        slug: slug.to_owned(),
        qps: 1000,
        redirect_wins: false,
        inject_tag: true,
        keep_nurl: false,
    }
}

/// A new customer's user-list leaf (`white`, `user`, `equals`) under its root: its filter id.
pub async fn leaf(store: &Store) -> i64 {
    let c = store
        .create_customer(&customer_input("acme"))
        .await
        .unwrap();
    let root = store.filters_of(c.id).await.unwrap()[0].id;
    let mut tx = store.begin().await.unwrap();
    let id = tx
        .insert_filter(c.id, Some(root), "white", "user", Some("equals"), None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

pub fn stream_input(customer_id: i64, supplier_id: i64) -> StreamInput {
    StreamInput {
        client_id: None,
        supplier_id,
        customer_id,
        seat_id: "seat-1".to_owned(),
        customer_endpoint: "http://127.0.0.1:9000/bid".to_owned(),
    }
}

pub fn user_input(email: &str, customer_id: Option<i64>) -> NewUser {
    NewUser {
        email: email.to_owned(),
        // A syntactically valid argon2id PHC string; the store never checks passwords.
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
            .to_owned(),
        role: if customer_id.is_some() {
            "customer"
        } else {
            "operator"
        }
        .to_owned(),
        customer_id,
    }
}

/// Rows in `table` (for checking cascades from outside the store's API).
pub async fn count_rows(url: &str, table: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    let row: (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(&mut conn)
        .await
        .unwrap();
    row.0
}

#[test]
fn database_name_replacement() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/test?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
}
