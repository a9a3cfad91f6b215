//! Customers, created together with their root filter.

use sqlx::Row;

use crate::{Customer, CustomerInput, Store, StoreError, StoreTx};

fn validate(input: &CustomerInput) -> Result<(), StoreError> {
    if input.qps < 0 {
        return Err(StoreError::Invalid {
            field: "qps",
            message: "must be an integer >= 0",
        });
    }
    Ok(())
}

// === impl StoreTx ===

impl StoreTx {
    /// Creates a customer and its root filter (`boolean`/`and`, which passes everything).
    ///
    /// # Errors
    /// `Conflict { field: "slug" }`, `Invalid { field: "qps" }`, `Database`.
    pub async fn create_customer(&mut self, input: &CustomerInput) -> Result<Customer, StoreError> {
        validate(input)?;
        let row = sqlx::query(
            "INSERT INTO customers (name, slug, qps, redirect_wins, inject_tag, keep_nurl) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(input.name.as_str())
        .bind(input.slug.as_str())
        .bind(input.qps)
        .bind(input.redirect_wins)
        .bind(input.inject_tag)
        .bind(input.keep_nurl)
        .fetch_one(self.conn())
        .await
        .map_err(|e| StoreError::from_write(e, "slug", "id"))?;
        let id: i64 = row.try_get("id")?;
        sqlx::query(
            "INSERT INTO filters (customer_id, parent_id, filter_type, field_type) \
             VALUES ($1, NULL, 'boolean', 'and')",
        )
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(Customer {
            id,
            name: input.name.clone(),
            slug: input.slug.clone(),
            qps: input.qps,
            redirect_wins: input.redirect_wins,
            inject_tag: input.inject_tag,
            keep_nurl: input.keep_nurl,
        })
    }

    /// Reads one customer inside this transaction.
    ///
    /// # Errors
    /// `NotFound`, `Database`.
    pub async fn customer(&mut self, id: i64) -> Result<Customer, StoreError> {
        fetch(self.conn(), id).await
    }

    /// Replaces the customer's fields (name, slug, qps and the three flags).
    ///
    /// # Errors
    /// `NotFound`, `Conflict { field: "slug" }`, `Invalid { field: "qps" }`, `Database`.
    pub async fn update_customer(
        &mut self,
        id: i64,
        input: &CustomerInput,
    ) -> Result<Customer, StoreError> {
        validate(input)?;
        let done = sqlx::query(
            "UPDATE customers SET name = $1, slug = $2, qps = $3, redirect_wins = $4, \
             inject_tag = $5, keep_nurl = $6 WHERE id = $7",
        )
        .bind(input.name.as_str())
        .bind(input.slug.as_str())
        .bind(input.qps)
        .bind(input.redirect_wins)
        .bind(input.inject_tag)
        .bind(input.keep_nurl)
        .bind(id)
        .execute(self.conn())
        .await
        .map_err(|e| StoreError::from_write(e, "slug", "id"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        fetch(self.conn(), id).await
    }

    /// Deletes a customer with its users, filters and lists.
    ///
    /// # Errors
    /// `NotFound`; `Conflict { field: "streams" }` while streams still point at it; `Database`.
    pub async fn delete_customer(&mut self, id: i64) -> Result<(), StoreError> {
        fetch(self.conn(), id).await?;
        let row = sqlx::query("SELECT COUNT(*) AS n FROM streams WHERE customer_id = $1")
            .bind(id)
            .fetch_one(self.conn())
            .await?;
        if row.try_get::<i64, _>("n")? > 0 {
            return Err(StoreError::Conflict { field: "streams" });
        }
        // Users, filters and list chunks go with it (ON DELETE CASCADE).
        sqlx::query("DELETE FROM customers WHERE id = $1")
            .bind(id)
            .execute(self.conn())
            .await
            .map_err(|e| StoreError::from_write(e, "id", "streams"))?;
        Ok(())
    }
}

async fn fetch<'c, E>(executor: E, id: i64) -> Result<Customer, StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let row = sqlx::query(
        "SELECT id, name, slug, qps, redirect_wins, inject_tag, keep_nurl \
         FROM customers WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(executor)
    .await?
    .ok_or(StoreError::NotFound)?;
    Ok(Customer::from_row(&row)?)
}

pub(crate) async fn fetch_all<'c, E>(executor: E) -> Result<Vec<Customer>, StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let rows = sqlx::query(
        "SELECT id, name, slug, qps, redirect_wins, inject_tag, keep_nurl \
         FROM customers ORDER BY id",
    )
    .fetch_all(executor)
    .await?;
    Ok(rows
        .iter()
        .map(Customer::from_row)
        .collect::<Result<_, _>>()?)
}

// === impl Store ===

impl Store {
    /// Creates a customer and its root filter, in one transaction.
    ///
    /// # Errors
    /// See [`StoreTx::create_customer`].
    pub async fn create_customer(&self, input: &CustomerInput) -> Result<Customer, StoreError> {
        let mut tx = self.begin().await?;
        let customer = tx.create_customer(input).await?;
        tx.commit().await?;
        Ok(customer)
    }

    /// One customer.
    ///
    /// # Errors
    /// `NotFound`, `Database`.
    pub async fn customer(&self, id: i64) -> Result<Customer, StoreError> {
        fetch(self.pool(), id).await
    }

    /// All customers, by id.
    ///
    /// # Errors
    /// `Database`.
    pub async fn customers(&self) -> Result<Vec<Customer>, StoreError> {
        fetch_all(self.pool()).await
    }

    /// Replaces the customer's fields.
    ///
    /// # Errors
    /// See [`StoreTx::update_customer`].
    pub async fn update_customer(
        &self,
        id: i64,
        input: &CustomerInput,
    ) -> Result<Customer, StoreError> {
        let mut tx = self.begin().await?;
        let customer = tx.update_customer(id, input).await?;
        tx.commit().await?;
        Ok(customer)
    }

    /// Deletes a customer with its users, filters and lists.
    ///
    /// # Errors
    /// See [`StoreTx::delete_customer`].
    pub async fn delete_customer(&self, id: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        tx.delete_customer(id).await?;
        tx.commit().await?;
        Ok(())
    }
}
