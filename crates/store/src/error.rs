//! `StoreError`: everything a store call can fail with.

use sqlx::error::ErrorKind;

/// What went wrong in a store call.
///
/// `NotFound`, `Conflict`, `MissingReference` and `Invalid` are outcomes the admin API maps to
/// 404, 409 and 400; `Database`, `Migrate` and `Io` are internal failures (500, never shown).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record addressed by id does not exist.
    #[error("not found")]
    NotFound,
    /// A unique field is already taken, or the record is still in use (`field` says which).
    #[error("conflict on {field}")]
    Conflict {
        /// The field at fault: `slug`, `client_id`, `email`, `streams`, `parent_id`.
        field: &'static str,
    },
    /// A field names a record that does not exist (e.g. a stream's `customer_id`).
    #[error("{field} refers to a record that does not exist")]
    MissingReference {
        /// The referencing field.
        field: &'static str,
    },
    /// A value the store refuses to keep.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The field at fault.
        field: &'static str,
        /// Why.
        message: &'static str,
    },
    /// The store URL is neither `sqlite:` nor `postgres:`/`postgresql:`.
    #[error("unsupported store url (expected sqlite://PATH or postgres://...)")]
    UnsupportedUrl,
    /// The operation needs PostgreSQL (LISTEN/NOTIFY).
    #[error("{0} needs a PostgreSQL store")]
    NeedsPostgres(&'static str),
    /// Creating the SQLite file's directory failed.
    #[error("cannot create the store directory: {0}")]
    Io(#[from] std::io::Error),
    /// A migration failed or the applied migrations do not match this build.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A background job's thread could not start (or no async runtime was running).
    #[error("cannot start a background job: {0}")]
    JobThread(std::io::Error),
    /// A background job's thread ended without a result (it panicked).
    #[error("a background job ended without a result")]
    JobLost,
    /// Any other database failure (connection, I/O, SQL).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// Maps a unique violation to `Conflict { field }` and a foreign-key violation to
    /// `MissingReference { field: reference }`; everything else stays a database error.
    pub(crate) fn from_write(
        err: sqlx::Error,
        unique: &'static str,
        reference: &'static str,
    ) -> Self {
        if let sqlx::Error::Database(db) = &err {
            match db.kind() {
                ErrorKind::UniqueViolation => return StoreError::Conflict { field: unique },
                ErrorKind::ForeignKeyViolation => {
                    return StoreError::MissingReference { field: reference };
                }
                _ => {}
            }
        }
        StoreError::Database(err)
    }
}
