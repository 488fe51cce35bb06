//! The one error type of the store: what went wrong, in words a caller can map to a response
//! (not found, conflict, no seat left) without looking at SQL.

use crate::secrets::SecretError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("schema migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL (use sqlite:// or postgres://): {0}")]
    UnsupportedUrl(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("all {seat_count} seats of the contract are held")]
    NoSeatLeft { seat_count: u32 },
    #[error("{0}")]
    Invalid(String),
    /// A stored value the store cannot read back: it was written by something else or damaged.
    #[error("stored data cannot be read: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
    #[error("the data directory cannot be used: {0}")]
    DataDir(#[source] std::io::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    pub(crate) fn corrupt(what: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(what.to_string())
    }

    /// Unique-constraint violations become `Conflict(message)`; everything else stays as it was.
    pub(crate) fn on_unique(self, message: &str) -> Self {
        match &self {
            StoreError::Database(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                StoreError::Conflict(message.to_owned())
            }
            _ => self,
        }
    }

    /// Foreign-key violations (a reference to a row the tenant does not have) become `Invalid`.
    pub(crate) fn on_foreign_key(self, message: &str) -> Self {
        match &self {
            StoreError::Database(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                StoreError::Invalid(message.to_owned())
            }
            _ => self,
        }
    }
}
