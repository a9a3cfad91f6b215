//! The stored records, the inputs that create them, and row decoding.
//!
//! Booleans are `BOOLEAN` on PostgreSQL and `INTEGER` 0/1 on SQLite; `get_bool` reads both.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A customer (a bidder company).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// Store-generated id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Unique, `[a-z0-9-]+` (validated by the admin API).
    pub slug: String,
    /// Forwarded requests per second over all the customer's streams; 0 pauses forwarding.
    pub qps: i64,
    /// Answer win notices with a 302 instead of calling the nurl server-side.
    pub redirect_wins: bool,
    /// Append the configured tag to HTML `adm`.
    pub inject_tag: bool,
    /// Leave `nurl` untouched in bid responses.
    pub keep_nurl: bool,
}

/// The fields of a customer that callers set (creation and update).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerInput {
    /// Display name.
    pub name: String,
    /// Unique slug.
    pub slug: String,
    /// QPS cap (>= 0).
    pub qps: i64,
    /// See [`Customer::redirect_wins`].
    pub redirect_wins: bool,
    /// See [`Customer::inject_tag`].
    pub inject_tag: bool,
    /// See [`Customer::keep_nurl`].
    pub keep_nurl: bool,
}

/// A supplier (SSP / exchange).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supplier {
    /// Store-generated id.
    pub id: i64,
    /// Display name.
    pub name: String,
}

/// A stream: one supplier's traffic for one customer, posted to `/{client_id}/bids`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stream {
    /// Store-generated id.
    pub id: i64,
    /// 32 lowercase hex chars, unique; the path segment suppliers post to.
    pub client_id: String,
    /// The supplier sending this traffic.
    pub supplier_id: i64,
    /// The customer receiving it.
    pub customer_id: i64,
    /// The customer's seat on this supplier.
    pub seat_id: String,
    /// Absolute http/https URL of the customer's bidder.
    pub customer_endpoint: String,
}

/// The fields of a stream that callers set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamInput {
    /// `None`: generate one on create, keep the current one on update.
    pub client_id: Option<String>,
    /// The supplier sending this traffic.
    pub supplier_id: i64,
    /// The customer receiving it.
    pub customer_id: i64,
    /// The customer's seat on this supplier.
    pub seat_id: String,
    /// Absolute http/https URL of the customer's bidder (validated by the admin API).
    pub customer_endpoint: String,
}

/// A user of the admin API.
///
/// `password_hash` is never serialized and `Debug` hides it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Store-generated id.
    pub id: i64,
    /// Lower-cased, unique.
    pub email: String,
    /// Argon2id PHC string computed by the caller.
    #[serde(skip_serializing)]
    pub password_hash: String,
    /// `operator` or `customer`.
    pub role: String,
    /// Set exactly for customer users.
    pub customer_id: Option<i64>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("password_hash", &"<redacted>")
            .field("role", &self.role)
            .field("customer_id", &self.customer_id)
            .finish()
    }
}

/// The fields of a new user.
#[derive(Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Any case; stored lower-cased.
    pub email: String,
    /// Argon2id PHC string (the store never sees passwords).
    pub password_hash: String,
    /// `operator` or `customer`.
    pub role: String,
    /// Required for customer users, absent for operators.
    pub customer_id: Option<i64>,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("email", &self.email)
            .field("password_hash", &"<redacted>")
            .field("role", &self.role)
            .field("customer_id", &self.customer_id)
            .finish()
    }
}

/// One stored filter node, without its list values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilterRecord {
    /// Store-generated id.
    pub id: i64,
    /// The customer whose tree this node belongs to.
    pub customer_id: i64,
    /// `None` for the root.
    pub parent_id: Option<i64>,
    /// `white`, `black`, `threshold`, `boolean` (validated by the filter crate).
    pub filter_type: String,
    /// The field read (`size`, `country`, ...) or `and`/`or` for boolean nodes.
    pub field_type: String,
    /// `equals`, `greaterthan`, `lessthan`, or none.
    pub operator: Option<String>,
    /// Threshold filters only.
    pub threshold: Option<f64>,
    /// Number of distinct values in the list.
    pub list_len: i64,
    /// Bumped on every list change; with `id` it names one list content for caching.
    pub list_version: i64,
}

/// A consistent, list-free view of everything the proxy's snapshot is built from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigData {
    /// The change-feed version this view was read at.
    pub version: i64,
    /// All customers, by id.
    pub customers: Vec<Customer>,
    /// All suppliers, by id.
    pub suppliers: Vec<Supplier>,
    /// All streams, by id.
    pub streams: Vec<Stream>,
    /// All filter nodes of all customers, by id.
    pub filters: Vec<FilterRecord>,
}

// === row decoding ===

/// Reads a boolean stored as `BOOLEAN` (PostgreSQL) or `INTEGER` 0/1 (SQLite).
fn get_bool(row: &AnyRow, column: &str) -> Result<bool, sqlx::Error> {
    match row.try_get::<i64, _>(column) {
        Ok(v) => Ok(v != 0),
        Err(_) => row.try_get::<bool, _>(column),
    }
}

impl Customer {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Customer {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            slug: row.try_get("slug")?,
            qps: row.try_get("qps")?,
            redirect_wins: get_bool(row, "redirect_wins")?,
            inject_tag: get_bool(row, "inject_tag")?,
            keep_nurl: get_bool(row, "keep_nurl")?,
        })
    }
}

impl Supplier {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Supplier {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
        })
    }
}

impl Stream {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Stream {
            id: row.try_get("id")?,
            client_id: row.try_get("client_id")?,
            supplier_id: row.try_get("supplier_id")?,
            customer_id: row.try_get("customer_id")?,
            seat_id: row.try_get("seat_id")?,
            customer_endpoint: row.try_get("customer_endpoint")?,
        })
    }
}

impl User {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(User {
            id: row.try_get("id")?,
            email: row.try_get("email")?,
            password_hash: row.try_get("password_hash")?,
            role: row.try_get("role")?,
            customer_id: row.try_get("customer_id")?,
        })
    }
}

impl FilterRecord {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(FilterRecord {
            id: row.try_get("id")?,
            customer_id: row.try_get("customer_id")?,
            parent_id: row.try_get("parent_id")?,
            filter_type: row.try_get("filter_type")?,
            field_type: row.try_get("field_type")?,
            operator: row.try_get("operator")?,
            threshold: row.try_get("threshold")?,
            list_len: row.try_get("list_len")?,
            list_version: row.try_get("list_version")?,
        })
    }
}
