//! Filter nodes (one tree per customer). What a node means is the filter crate's business; the
//! store keeps the tree well-formed: one root per customer, parents of the same customer, no
//! cycles, subtree deletes.

use sqlx::AnyConnection;
use sqlx::Row;

use crate::{FilterRecord, Store, StoreError, StoreTx};

// === impl StoreTx ===

impl StoreTx {
    /// Inserts a filter node and returns its id. `parent_id: None` makes it the customer's root,
    /// which only works when the customer has none.
    ///
    /// # Errors
    /// `MissingReference { field: "customer_id" | "parent_id" }` (the parent must exist and
    /// belong to the same customer), `Conflict { field: "parent_id" }` for a second root,
    /// `Database`.
    pub async fn insert_filter(
        &mut self,
        customer_id: i64,
        parent_id: Option<i64>,
        filter_type: &str,
        field_type: &str,
        operator: Option<&str>,
        threshold: Option<f64>,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM customers WHERE id = $1")
            .bind(customer_id)
            .fetch_one(self.conn())
            .await?;
        if row.try_get::<i64, _>("n")? == 0 {
            return Err(StoreError::MissingReference {
                field: "customer_id",
            });
        }
        if let Some(parent) = parent_id {
            check_parent(self.conn(), customer_id, parent).await?;
        }
        let row = sqlx::query(
            "INSERT INTO filters (customer_id, parent_id, filter_type, field_type, operator, threshold) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(customer_id)
        .bind(parent_id)
        .bind(filter_type)
        .bind(field_type)
        .bind(operator)
        .bind(threshold)
        // Not cached: sqlx 0.9's Any driver sends `None::<f64>` as a float4 NULL, and a
        // statement prepared with that type rejects a later float8 value on PostgreSQL.
        .persistent(false)
        .fetch_one(self.conn())
        .await
        .map_err(|e| StoreError::from_write(e, "parent_id", "parent_id"))?;
        Ok(row.try_get("id")?)
    }

    /// Replaces a node's parent, types, operator and threshold (its customer and list stay).
    ///
    /// # Errors
    /// `NotFound`; `MissingReference { field: "parent_id" }`; `Invalid { field: "parent_id" }`
    /// when the new parent is the node itself or one of its descendants; `Conflict { field:
    /// "parent_id" }` when it would become a second root; `Database`.
    pub async fn update_filter(
        &mut self,
        id: i64,
        parent_id: Option<i64>,
        filter_type: &str,
        field_type: &str,
        operator: Option<&str>,
        threshold: Option<f64>,
    ) -> Result<FilterRecord, StoreError> {
        let current = fetch(self.conn(), id).await?.ok_or(StoreError::NotFound)?;
        if let Some(parent) = parent_id
            && current.parent_id != Some(parent)
        {
            check_parent(self.conn(), current.customer_id, parent).await?;
            if subtree_ids(self.conn(), id).await?.contains(&parent) {
                return Err(StoreError::Invalid {
                    field: "parent_id",
                    message: "a filter cannot move under itself or its own descendants",
                });
            }
        }
        sqlx::query(
            "UPDATE filters SET parent_id = $1, filter_type = $2, field_type = $3, operator = $4, \
             threshold = $5 WHERE id = $6",
        )
        .bind(parent_id)
        .bind(filter_type)
        .bind(field_type)
        .bind(operator)
        .bind(threshold)
        .bind(id)
        // Not cached: see `insert_filter`.
        .persistent(false)
        .execute(self.conn())
        .await
        .map_err(|e| StoreError::from_write(e, "parent_id", "parent_id"))?;
        fetch(self.conn(), id).await?.ok_or(StoreError::NotFound)
    }

    /// Deletes a node with all its descendants and their lists; returns how many nodes went.
    ///
    /// # Errors
    /// `NotFound`; `Invalid { field: "id" }` for a root (a customer always keeps its root);
    /// `Database`.
    pub async fn delete_filter_subtree(&mut self, id: i64) -> Result<u64, StoreError> {
        let current = fetch(self.conn(), id).await?.ok_or(StoreError::NotFound)?;
        if current.parent_id.is_none() {
            return Err(StoreError::Invalid {
                field: "id",
                message: "the root filter cannot be deleted",
            });
        }
        let ids = subtree_ids(self.conn(), id).await?;
        // Children first keeps every statement valid whatever the cascade settings.
        for node in ids.iter().rev() {
            sqlx::query("DELETE FROM filters WHERE id = $1")
                .bind(*node)
                .execute(self.conn())
                .await?;
        }
        Ok(ids.len() as u64)
    }

    /// Reads one filter node inside this transaction.
    ///
    /// # Errors
    /// `Database`.
    pub async fn filter(&mut self, id: i64) -> Result<Option<FilterRecord>, StoreError> {
        fetch(self.conn(), id).await
    }

    /// A customer's filter nodes inside this transaction (see [`Store::filters_of`]).
    ///
    /// # Errors
    /// `Database`.
    pub async fn filters_of(&mut self, customer_id: i64) -> Result<Vec<FilterRecord>, StoreError> {
        fetch_of(self.conn(), customer_id).await
    }
}

async fn check_parent(
    conn: &mut AnyConnection,
    customer_id: i64,
    parent: i64,
) -> Result<(), StoreError> {
    match fetch(&mut *conn, parent).await? {
        Some(p) if p.customer_id == customer_id => Ok(()),
        _ => Err(StoreError::MissingReference { field: "parent_id" }),
    }
}

/// `id` and all its descendants, parents before children.
async fn subtree_ids(conn: &mut AnyConnection, id: i64) -> Result<Vec<i64>, StoreError> {
    // UNION (not UNION ALL) stops even if the data ever held a cycle.
    let rows = sqlx::query(
        "WITH RECURSIVE sub(id, depth) AS ( \
             SELECT id, 0 FROM filters WHERE id = $1 \
             UNION \
             SELECT f.id, sub.depth + 1 FROM filters f JOIN sub ON f.parent_id = sub.id \
             WHERE sub.depth < 10000 \
         ) SELECT id, MIN(depth) AS depth FROM sub GROUP BY id ORDER BY MIN(depth), id",
    )
    .bind(id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| r.try_get::<i64, _>("id").map_err(StoreError::from))
        .collect()
}

async fn fetch<'c, E>(executor: E, id: i64) -> Result<Option<FilterRecord>, StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let row = sqlx::query(
        "SELECT id, customer_id, parent_id, filter_type, field_type, operator, threshold, \
         list_len, list_version FROM filters WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(executor)
    .await?;
    Ok(row.as_ref().map(FilterRecord::from_row).transpose()?)
}

async fn fetch_of<'c, E>(executor: E, customer_id: i64) -> Result<Vec<FilterRecord>, StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let rows = sqlx::query(
        "SELECT id, customer_id, parent_id, filter_type, field_type, operator, threshold, \
         list_len, list_version FROM filters WHERE customer_id = $1 ORDER BY id",
    )
    .bind(customer_id)
    .fetch_all(executor)
    .await?;
    Ok(rows
        .iter()
        .map(FilterRecord::from_row)
        .collect::<Result<_, _>>()?)
}

pub(crate) async fn fetch_all<'c, E>(executor: E) -> Result<Vec<FilterRecord>, StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let rows = sqlx::query(
        "SELECT id, customer_id, parent_id, filter_type, field_type, operator, threshold, \
         list_len, list_version FROM filters ORDER BY id",
    )
    .fetch_all(executor)
    .await?;
    Ok(rows
        .iter()
        .map(FilterRecord::from_row)
        .collect::<Result<_, _>>()?)
}

// === impl Store ===

impl Store {
    /// A customer's filter nodes (root included, lists excluded), by id; empty for an unknown
    /// customer.
    ///
    /// # Errors
    /// `Database`.
    pub async fn filters_of(&self, customer_id: i64) -> Result<Vec<FilterRecord>, StoreError> {
        fetch_of(self.pool(), customer_id).await
    }

    /// One filter node, without its list.
    ///
    /// # Errors
    /// `Database`.
    pub async fn filter(&self, id: i64) -> Result<Option<FilterRecord>, StoreError> {
        fetch(self.pool(), id).await
    }
}
