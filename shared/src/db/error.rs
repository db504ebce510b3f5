use tokio_postgres::error::SqlState;

/// A database failure. Named constraint violations that mean something to a caller
/// become their own variants; the rest stay infrastructure errors.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("the tenant already has a pending or running run")]
    RunInProgress,
    #[error("no database connection is available: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("database error: {}", describe(.0))]
    Postgres(tokio_postgres::Error),
    #[error("the database configuration is invalid: {0}")]
    Config(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("a stored {column} is invalid: {reason}")]
    Corrupt { column: &'static str, reason: String },
}

/// The server's own words when it sent some (tokio-postgres alone says only "db error").
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} {}: {}", db.severity(), db.code().code(), db.message()),
        None => error.to_string(),
    }
}

impl From<tokio_postgres::Error> for DbError {
    fn from(error: tokio_postgres::Error) -> Self {
        let constraint = error.as_db_error().and_then(|db| db.constraint());
        match (error.code(), constraint) {
            (Some(&SqlState::UNIQUE_VIOLATION), Some("cogs_runs_one_active")) => DbError::RunInProgress,
            _ => DbError::Postgres(error),
        }
    }
}

impl DbError {
    /// True when a statement was cancelled, by its timeout or by the server.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, DbError::Postgres(error) if error.code() == Some(&SqlState::QUERY_CANCELED))
    }

    /// For `map_err`: a stored value that fails the model's validation.
    pub(crate) fn corrupt<E: std::fmt::Display>(column: &'static str) -> impl Fn(E) -> DbError {
        move |error| DbError::Corrupt { column, reason: error.to_string() }
    }

    /// True for failures worth retrying: lost connections (also as a pooler reports
    /// them, SQLSTATE class 08), serialization failures, deadlocks, a statement or lock
    /// wait that ran out of time, an exhausted pool or a server shutting down.
    pub fn is_transient(&self) -> bool {
        match self {
            DbError::Pool(_) => true,
            DbError::Postgres(error) => {
                error.is_closed()
                    || matches!(
                        error.code(),
                        Some(&SqlState::T_R_SERIALIZATION_FAILURE)
                            | Some(&SqlState::T_R_DEADLOCK_DETECTED)
                            | Some(&SqlState::ADMIN_SHUTDOWN)
                            | Some(&SqlState::CANNOT_CONNECT_NOW)
                            | Some(&SqlState::QUERY_CANCELED)
                            | Some(&SqlState::LOCK_NOT_AVAILABLE)
                    )
                    || error.code().is_some_and(|code| code.code().starts_with("08"))
                    || error.code().is_none()
            }
            _ => false,
        }
    }
}
