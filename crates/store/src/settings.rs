//! Generated secrets kept in the store (the JWT secret, the win key), so every process and
//! every restart agrees on them.

use sqlx::Row;

use crate::{Store, StoreError};

impl Store {
    /// The secret stored under `name`; when there is none yet, stores `generate()` and returns
    /// it. Race-safe: when two processes generate at once, both get the one stored first.
    /// Not part of the configuration: does not bump the change feed.
    ///
    /// # Errors
    /// `Database`.
    pub async fn secret(
        &self,
        name: &str,
        generate: impl FnOnce() -> Vec<u8>,
    ) -> Result<Vec<u8>, StoreError> {
        if let Some(value) = self.read_secret(name).await? {
            return Ok(value);
        }
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(generate())
        .execute(self.pool())
        .await?;
        self.read_secret(name).await?.ok_or(StoreError::NotFound)
    }

    async fn read_secret(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("value")).transpose()?)
    }
}
