//! Streams and their generated client ids.

use rand::Rng;
use sqlx::Row;

use crate::{Store, StoreError, StoreTx, Stream, StreamInput};

/// Length of a stream's client id: 32 lowercase hex chars (128 random bits).
const CLIENT_ID_LEN: usize = 32;

/// 128 random bits as 32 lowercase hex chars.
fn generate_client_id() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes: [u8; CLIENT_ID_LEN / 2] = rand::rng().random();
    let mut id = String::with_capacity(CLIENT_ID_LEN);
    for b in bytes {
        id.push(char::from(HEX[usize::from(b >> 4)]));
        id.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    id
}

fn validate_client_id(id: &str) -> Result<(), StoreError> {
    let ok =
        id.len() == CLIENT_ID_LEN && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            field: "client_id",
            message: "must be 32 lowercase hex characters",
        })
    }
}

// === impl StoreTx ===

impl StoreTx {
    /// Creates a stream; its `client_id` is generated unless the input gives one.
    ///
    /// # Errors
    /// `Invalid { field: "client_id" }` (not 32 lowercase hex), `Conflict { field: "client_id" }`,
    /// `MissingReference { field: "customer_id" | "supplier_id" }`, `Database`.
    pub async fn create_stream(&mut self, input: &StreamInput) -> Result<Stream, StoreError> {
        let client_id = match &input.client_id {
            Some(given) => {
                validate_client_id(given)?;
                given.clone()
            }
            None => generate_client_id(),
        };
        self.check_stream_refs(input).await?;
        let row = sqlx::query(
            "INSERT INTO streams (client_id, supplier_id, customer_id, seat_id, customer_endpoint) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(client_id.as_str())
        .bind(input.supplier_id)
        .bind(input.customer_id)
        .bind(input.seat_id.as_str())
        .bind(input.customer_endpoint.as_str())
        .fetch_one(self.conn())
        .await
        .map_err(|e| StoreError::from_write(e, "client_id", "customer_id"))?;
        Ok(Stream {
            id: row.try_get("id")?,
            client_id,
            supplier_id: input.supplier_id,
            customer_id: input.customer_id,
            seat_id: input.seat_id.clone(),
            customer_endpoint: input.customer_endpoint.clone(),
        })
    }

    /// Reads one stream inside this transaction.
    ///
    /// # Errors
    /// `NotFound`, `Database`.
    pub async fn stream(&mut self, id: i64) -> Result<Stream, StoreError> {
        fetch(self.conn(), id).await
    }

    /// Replaces a stream's fields; `client_id: None` keeps the current client id.
    ///
    /// # Errors
    /// As [`StoreTx::create_stream`], plus `NotFound`.
    pub async fn update_stream(
        &mut self,
        id: i64,
        input: &StreamInput,
    ) -> Result<Stream, StoreError> {
        let current = fetch(self.conn(), id).await?;
        let client_id = match &input.client_id {
            Some(given) => {
                validate_client_id(given)?;
                given.clone()
            }
            None => current.client_id,
        };
        self.check_stream_refs(input).await?;
        sqlx::query(
            "UPDATE streams SET client_id = $1, supplier_id = $2, customer_id = $3, seat_id = $4, \
             customer_endpoint = $5 WHERE id = $6",
        )
        .bind(client_id.as_str())
        .bind(input.supplier_id)
        .bind(input.customer_id)
        .bind(input.seat_id.as_str())
        .bind(input.customer_endpoint.as_str())
        .bind(id)
        .execute(self.conn())
        .await
        .map_err(|e| StoreError::from_write(e, "client_id", "customer_id"))?;
        Ok(Stream {
            id,
            client_id,
            supplier_id: input.supplier_id,
            customer_id: input.customer_id,
            seat_id: input.seat_id.clone(),
            customer_endpoint: input.customer_endpoint.clone(),
        })
    }

    /// Deletes a stream.
    ///
    /// # Errors
    /// `NotFound`, `Database`.
    pub async fn delete_stream(&mut self, id: i64) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM streams WHERE id = $1")
            .bind(id)
            .execute(self.conn())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn check_stream_refs(&mut self, input: &StreamInput) -> Result<(), StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM customers WHERE id = $1) AS customers, \
                    (SELECT COUNT(*) FROM suppliers WHERE id = $2) AS suppliers",
        )
        .bind(input.customer_id)
        .bind(input.supplier_id)
        .fetch_one(self.conn())
        .await?;
        if row.try_get::<i64, _>("customers")? == 0 {
            return Err(StoreError::MissingReference {
                field: "customer_id",
            });
        }
        if row.try_get::<i64, _>("suppliers")? == 0 {
            return Err(StoreError::MissingReference {
                field: "supplier_id",
            });
        }
        Ok(())
    }
}

async fn fetch<'c, E>(executor: E, id: i64) -> Result<Stream, StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let row = sqlx::query(
        "SELECT id, client_id, supplier_id, customer_id, seat_id, customer_endpoint \
         FROM streams WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(executor)
    .await?
    .ok_or(StoreError::NotFound)?;
    Ok(Stream::from_row(&row)?)
}

pub(crate) async fn fetch_all<'c, E>(executor: E) -> Result<Vec<Stream>, StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let rows = sqlx::query(
        "SELECT id, client_id, supplier_id, customer_id, seat_id, customer_endpoint \
         FROM streams ORDER BY id",
    )
    .fetch_all(executor)
    .await?;
    Ok(rows
        .iter()
        .map(Stream::from_row)
        .collect::<Result<_, _>>()?)
}

// === impl Store ===

impl Store {
    /// Creates a stream.
    ///
    /// # Errors
    /// See [`StoreTx::create_stream`].
    pub async fn create_stream(&self, input: &StreamInput) -> Result<Stream, StoreError> {
        let mut tx = self.begin().await?;
        let stream = tx.create_stream(input).await?;
        tx.commit().await?;
        Ok(stream)
    }

    /// One stream.
    ///
    /// # Errors
    /// `NotFound`, `Database`.
    pub async fn stream(&self, id: i64) -> Result<Stream, StoreError> {
        fetch(self.pool(), id).await
    }

    /// The stream suppliers post to as `/{client_id}/bids`, if any.
    ///
    /// # Errors
    /// `Database`.
    pub async fn stream_by_client_id(&self, client_id: &str) -> Result<Option<Stream>, StoreError> {
        let row = sqlx::query(
            "SELECT id, client_id, supplier_id, customer_id, seat_id, customer_endpoint \
             FROM streams WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(Stream::from_row).transpose()?)
    }

    /// All streams, by id.
    ///
    /// # Errors
    /// `Database`.
    pub async fn streams(&self) -> Result<Vec<Stream>, StoreError> {
        fetch_all(self.pool()).await
    }

    /// A customer's streams, by id (empty for an unknown customer).
    ///
    /// # Errors
    /// `Database`.
    pub async fn streams_of(&self, customer_id: i64) -> Result<Vec<Stream>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, client_id, supplier_id, customer_id, seat_id, customer_endpoint \
             FROM streams WHERE customer_id = $1 ORDER BY id",
        )
        .bind(customer_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(Stream::from_row)
            .collect::<Result<_, _>>()?)
    }

    /// Replaces a stream's fields.
    ///
    /// # Errors
    /// See [`StoreTx::update_stream`].
    pub async fn update_stream(&self, id: i64, input: &StreamInput) -> Result<Stream, StoreError> {
        let mut tx = self.begin().await?;
        let stream = tx.update_stream(id, input).await?;
        tx.commit().await?;
        Ok(stream)
    }

    /// Deletes a stream.
    ///
    /// # Errors
    /// See [`StoreTx::delete_stream`].
    pub async fn delete_stream(&self, id: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        tx.delete_stream(id).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_client_ids_are_32_lowercase_hex_and_differ() {
        let a = generate_client_id();
        let b = generate_client_id();
        assert!(validate_client_id(&a).is_ok(), "{a}");
        assert!(validate_client_id(&b).is_ok(), "{b}");
        assert_ne!(a, b);
    }

    #[test]
    fn client_id_validation() {
        assert!(validate_client_id("0123456789abcdef0123456789abcdef").is_ok());
        assert!(validate_client_id("0123456789ABCDEF0123456789abcdef").is_err());
        assert!(validate_client_id("0123456789abcdef0123456789abcde").is_err());
        assert!(validate_client_id("0123456789abcdef0123456789abcdeg").is_err());
        assert!(validate_client_id("").is_err());
    }
}
