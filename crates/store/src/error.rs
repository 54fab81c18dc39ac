//! What can go wrong in the store, as values the shell can map to exit codes and HTTP status.

use jianghai_core::{EventError, LifecycleError, Vin, ledger::Break};

/// Opening a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    #[error("store URL {0:?} is not understood: use sqlite://PATH or postgres://USER@HOST:PORT/DB")]
    BadUrl(String),
    #[error("cannot connect to the store: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot apply the schema migrations: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("cannot create this month's reading partitions: {0}")]
    Partitions(#[source] StoreError),
}

/// Appending events. Nothing of a batch is recorded when any of these is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    #[error("event {index}: {error}")]
    Invalid { index: usize, error: EventError },
    #[error("event {index}: VIN {vin}: {error}")]
    Lifecycle {
        index: usize,
        vin: Vin,
        error: LifecycleError,
    },
    #[error("event id {event_id} was already used for a different event")]
    Conflict { event_id: uuid::Uuid },
    #[error("event {index}: unknown organisation {id:?}")]
    UnknownOrganisation { index: usize, id: String },
    #[error("event {index}: unknown facility {id:?}")]
    UnknownFacility { index: usize, id: String },
    #[error("event {index}: unknown voyage {id:?}")]
    UnknownVoyage { index: usize, id: String },
    #[error("a batch holds {count} events; at most {max} are allowed")]
    BatchTooLarge { count: usize, max: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A failure of the database itself.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("{what} {id:?} already exists")]
    Exists { what: &'static str, id: String },
    #[error("{what} {id:?} does not exist")]
    Missing { what: &'static str, id: String },
    /// Input the store refuses to keep (too long, of an unknown kind, …); nothing was written.
    #[error("{0}")]
    Invalid(String),
    /// The failure of a write shared by several callers (a group commit).
    #[error(transparent)]
    Shared(std::sync::Arc<StoreError>),
}

/// Verifying the ledger.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    #[error("ledger does not verify: {0}")]
    Broken(#[from] Break),
    #[error("ledger verifies, but the {table} table disagrees with it: {detail}")]
    Projection { table: &'static str, detail: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for AppendError {
    fn from(e: sqlx::Error) -> Self {
        AppendError::Store(StoreError::Database(e))
    }
}

impl From<sqlx::Error> for VerifyError {
    fn from(e: sqlx::Error) -> Self {
        VerifyError::Store(StoreError::Database(e))
    }
}
