//! Suppliers.

use sqlx::Row;

use crate::{Store, StoreError, StoreTx, Supplier};

// === impl StoreTx ===

impl StoreTx {
    /// Creates a supplier.
    ///
    /// # Errors
    /// `Database`.
    pub async fn create_supplier(&mut self, name: &str) -> Result<Supplier, StoreError> {
        let row = sqlx::query("INSERT INTO suppliers (name) VALUES ($1) RETURNING id")
            .bind(name)
            .fetch_one(self.conn())
            .await?;
        Ok(Supplier {
            id: row.try_get("id")?,
            name: name.to_owned(),
        })
    }

    /// Reads one supplier inside this transaction.
    ///
    /// # Errors
    /// `NotFound`, `Database`.
    pub async fn supplier(&mut self, id: i64) -> Result<Supplier, StoreError> {
        fetch(self.conn(), id).await
    }

    /// Renames a supplier.
    ///
    /// # Errors
    /// `NotFound`, `Database`.
    pub async fn update_supplier(&mut self, id: i64, name: &str) -> Result<Supplier, StoreError> {
        let done = sqlx::query("UPDATE suppliers SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(id)
            .execute(self.conn())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(Supplier {
            id,
            name: name.to_owned(),
        })
    }

    /// Deletes a supplier.
    ///
    /// # Errors
    /// `NotFound`; `Conflict { field: "streams" }` while streams still point at it; `Database`.
    pub async fn delete_supplier(&mut self, id: i64) -> Result<(), StoreError> {
        fetch(self.conn(), id).await?;
        let row = sqlx::query("SELECT COUNT(*) AS n FROM streams WHERE supplier_id = $1")
            .bind(id)
            .fetch_one(self.conn())
            .await?;
        if row.try_get::<i64, _>("n")? > 0 {
            return Err(StoreError::Conflict { field: "streams" });
        }
        sqlx::query("DELETE FROM suppliers WHERE id = $1")
            .bind(id)
            .execute(self.conn())
            .await
            .map_err(|e| StoreError::from_write(e, "id", "streams"))?;
        Ok(())
    }
}

async fn fetch<'c, E>(executor: E, id: i64) -> Result<Supplier, StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let row = sqlx::query("SELECT id, name FROM suppliers WHERE id = $1")
        .bind(id)
        .fetch_optional(executor)
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok(Supplier::from_row(&row)?)
}

pub(crate) async fn fetch_all<'c, E>(executor: E) -> Result<Vec<Supplier>, StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let rows = sqlx::query("SELECT id, name FROM suppliers ORDER BY id")
        .fetch_all(executor)
        .await?;
    Ok(rows
        .iter()
        .map(Supplier::from_row)
        .collect::<Result<_, _>>()?)
}

// === impl Store ===

impl Store {
    /// Creates a supplier.
    ///
    /// # Errors
    /// `Database`.
    pub async fn create_supplier(&self, name: &str) -> Result<Supplier, StoreError> {
        let mut tx = self.begin().await?;
        let supplier = tx.create_supplier(name).await?;
        tx.commit().await?;
        Ok(supplier)
    }

    /// One supplier.
    ///
    /// # Errors
    /// `NotFound`, `Database`.
    pub async fn supplier(&self, id: i64) -> Result<Supplier, StoreError> {
        fetch(self.pool(), id).await
    }

    /// All suppliers, by id.
    ///
    /// # Errors
    /// `Database`.
    pub async fn suppliers(&self) -> Result<Vec<Supplier>, StoreError> {
        fetch_all(self.pool()).await
    }

    /// The suppliers of a customer's streams, each once, by id (empty for an unknown customer).
    ///
    /// # Errors
    /// `Database`.
    pub async fn suppliers_of_customer(
        &self,
        customer_id: i64,
    ) -> Result<Vec<Supplier>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name FROM suppliers WHERE id IN \
             (SELECT supplier_id FROM streams WHERE customer_id = $1) ORDER BY id",
        )
        .bind(customer_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(Supplier::from_row)
            .collect::<Result<_, _>>()?)
    }

    /// Renames a supplier.
    ///
    /// # Errors
    /// See [`StoreTx::update_supplier`].
    pub async fn update_supplier(&self, id: i64, name: &str) -> Result<Supplier, StoreError> {
        let mut tx = self.begin().await?;
        let supplier = tx.update_supplier(id, name).await?;
        tx.commit().await?;
        Ok(supplier)
    }

    /// Deletes a supplier.
    ///
    /// # Errors
    /// See [`StoreTx::delete_supplier`].
    pub async fn delete_supplier(&self, id: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        tx.delete_supplier(id).await?;
        tx.commit().await?;
        Ok(())
    }
}
