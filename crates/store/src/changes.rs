//! The change feed: `config_state.version`, in-process notifications and PostgreSQL
//! LISTEN/NOTIFY.

use sqlx::AnyPool;
use sqlx::Row;
use sqlx::postgres::PgListener;
use tokio::sync::watch;

use crate::{Engine, Store, StoreError};

/// The PostgreSQL channel every committed write notifies, with the new version as payload.
pub const CHANGE_CHANNEL: &str = "bidsieve_config";

pub(crate) async fn read_version(pool: &AnyPool) -> Result<i64, StoreError> {
    read_version_in(pool).await
}

pub(crate) async fn read_version_in<'c, E>(executor: E) -> Result<i64, StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let row = sqlx::query("SELECT version FROM config_state WHERE id = 1")
        .fetch_one(executor)
        .await?;
    Ok(row.try_get("version")?)
}

// === impl Store ===

impl Store {
    /// The version of the last committed write, by any process (one indexed single-row read:
    /// cheap enough to poll every few hundred milliseconds).
    ///
    /// # Errors
    /// `Database` when the store cannot be reached.
    pub async fn config_version(&self) -> Result<i64, StoreError> {
        read_version(self.pool()).await
    }

    /// A receiver that sees the version of every write committed through this `Store` (and
    /// its clones) as soon as it commits. Writes by other processes are not seen here: follow
    /// them with [`Store::listen_changes`] (PostgreSQL) or by polling [`Store::config_version`].
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.inner.changes.subscribe()
    }

    /// Follows the commits of every process sharing this PostgreSQL database.
    ///
    /// # Errors
    /// `NeedsPostgres` on SQLite; `Database` when the listening connection cannot be opened.
    pub async fn listen_changes(&self) -> Result<ChangeListener, StoreError> {
        if self.engine() != Engine::Postgres {
            return Err(StoreError::NeedsPostgres("listen_changes"));
        }
        let mut listener = PgListener::connect(&self.inner.url).await?;
        listener.listen(CHANGE_CHANNEL).await?;
        Ok(ChangeListener { listener })
    }

    /// Announces `version` to in-process subscribers; versions only move forward.
    pub(crate) fn publish(&self, version: i64) {
        self.inner.changes.send_if_modified(|current| {
            if version > *current {
                *current = version;
                true
            } else {
                false
            }
        });
    }
}

/// A LISTEN connection on [`CHANGE_CHANNEL`] (PostgreSQL only).
///
/// Notifications are not stored by PostgreSQL: those sent while the connection was down are
/// lost, which [`ChangeListener::recv`] reports as `Ok(None)` so the caller reloads.
pub struct ChangeListener {
    listener: PgListener,
}

impl std::fmt::Debug for ChangeListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeListener").finish_non_exhaustive()
    }
}

impl ChangeListener {
    /// Waits for the next committed change.
    ///
    /// `Ok(Some(version))`: a write committed that version. `Ok(None)`: the connection was lost
    /// and is being re-established; changes may have been missed, so re-read the configuration.
    /// Meant for `tokio::select!` beside a version poll: a change missed by a cancelled call is
    /// still caught by the poll.
    ///
    /// # Errors
    /// `Database` when the connection cannot be re-established; calling again retries.
    pub async fn recv(&mut self) -> Result<Option<i64>, StoreError> {
        loop {
            match self.listener.try_recv().await? {
                None => return Ok(None),
                Some(notification) => match notification.payload().parse::<i64>() {
                    Ok(version) => return Ok(Some(version)),
                    Err(_) => {
                        tracing::debug!(
                            channel = CHANGE_CHANNEL,
                            "ignoring a notification without a version payload"
                        );
                    }
                },
            }
        }
    }
}
