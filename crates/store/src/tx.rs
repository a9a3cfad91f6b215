//! `StoreTx`: one write transaction that bumps the change feed when it commits.

use sqlx::AnyConnection;
use sqlx::{Any, Row, Transaction};

use crate::{Engine, Store, StoreError};

/// How long [`Store::begin`] waits for another writer before failing.
pub const WRITE_LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A write transaction.
///
/// Starting one takes the store's write lock at once (it bumps `config_state.version` as its
/// first statement), so writers queue instead of failing halfway and versions commit in order.
/// Dropping it without [`StoreTx::commit`] rolls everything back: a failed or rejected change
/// leaves the store as it was.
///
/// After a method returns a `Database` error, `Conflict` or `MissingReference` found by the
/// database, drop the transaction: PostgreSQL refuses every further statement in it. (`NotFound`,
/// `Invalid` and the reference checks made before writing leave it usable.)
///
/// While a task holds a `StoreTx`, it must not call [`Store`]'s write methods (they would wait
/// for this very transaction): use the `StoreTx` methods. A writer that waits longer than
/// [`WRITE_LOCK_TIMEOUT`] fails instead of hanging.
pub struct StoreTx {
    tx: Transaction<'static, Any>,
    store: Store,
    /// The version this transaction publishes when it commits.
    version: i64,
}

impl std::fmt::Debug for StoreTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreTx")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

// === impl Store ===

impl Store {
    /// Starts a write transaction (waiting for any other writer to finish).
    ///
    /// # Errors
    /// `Database` when no connection is available or the lock cannot be taken.
    pub async fn begin(&self) -> Result<StoreTx, StoreError> {
        let mut tx = self.pool().begin().await?;
        if self.engine() == Engine::Postgres {
            // SQLite's equivalent is the connection's busy_timeout.
            let timeout = format!(
                "SET LOCAL lock_timeout = {}",
                WRITE_LOCK_TIMEOUT.as_millis()
            );
            sqlx::query(sqlx::AssertSqlSafe(timeout))
                .execute(&mut *tx)
                .await?;
        }
        let row = sqlx::query(
            "UPDATE config_state SET version = version + 1 WHERE id = 1 RETURNING version",
        )
        .fetch_one(&mut *tx)
        .await?;
        let version = row.try_get("version")?;
        Ok(StoreTx {
            tx,
            store: self.clone(),
            version,
        })
    }
}

// === impl StoreTx ===

impl StoreTx {
    /// Commits and announces the new version: to [`Store::subscribe`] receivers in this
    /// process and, on PostgreSQL, to every [`crate::ChangeListener`]. Returns that version.
    ///
    /// # Errors
    /// `Database` when the commit fails (nothing is then changed).
    pub async fn commit(mut self) -> Result<i64, StoreError> {
        if self.store.engine() == Engine::Postgres {
            // NOTIFY takes no bind parameters; the payload is our own integer.
            let notify = format!("NOTIFY {}, '{}'", crate::CHANGE_CHANNEL, self.version);
            sqlx::query(sqlx::AssertSqlSafe(notify))
                .execute(&mut *self.tx)
                .await?;
        }
        self.tx.commit().await?;
        self.store.publish(self.version);
        Ok(self.version)
    }

    /// Rolls back explicitly (dropping the transaction does the same, a little later).
    ///
    /// # Errors
    /// `Database` when the rollback cannot be sent; the server discards the work anyway.
    pub async fn rollback(self) -> Result<(), StoreError> {
        self.tx.rollback().await?;
        Ok(())
    }

    /// The version this transaction will publish when it commits.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// The engine this transaction runs on.
    pub fn engine(&self) -> Engine {
        self.store.engine()
    }

    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}
