//! `load_config`: one consistent, list-free read of everything the proxy's snapshot needs.

use crate::changes;
use crate::{ConfigData, Engine, Store, StoreError};
use crate::{customers, filters, streams, suppliers};

impl Store {
    /// Reads the version, customers, suppliers, streams and filter nodes (no list values) in
    /// one read transaction, so they agree with each other and with `version`.
    ///
    /// # Errors
    /// `Database`.
    pub async fn load_config(&self) -> Result<ConfigData, StoreError> {
        let mut tx = self.pool().begin().await?;
        if self.engine() == Engine::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await?;
        }
        let version = changes::read_version_in(&mut *tx).await?;
        let customers = customers::fetch_all(&mut *tx).await?;
        let suppliers = suppliers::fetch_all(&mut *tx).await?;
        let streams = streams::fetch_all(&mut *tx).await?;
        let filters = filters::fetch_all(&mut *tx).await?;
        tx.rollback().await?;
        Ok(ConfigData {
            version,
            customers,
            suppliers,
            streams,
            filters,
        })
    }
}
