//! What fails inside this backend, and how it becomes a [`StoreError`] at
//! the trait's edge: a connection that cannot be had (pool timeout, server
//! down, too many connections, server shutting down) is `Unavailable` (the
//! client retries); a broken uniqueness rule is `Duplicate`; any other
//! failed statement is `Database`; stored data that does not parse is
//! `Corrupt`.

use beatbook_store::StoreError;
use deadpool_postgres::PoolError;
use tokio_postgres::error::SqlState;

/// An error inside this backend.
#[derive(Debug)]
pub(crate) enum Error {
    Postgres(tokio_postgres::Error),
    Pool(PoolError),
    Store(StoreError),
}

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Postgres(e)
    }
}

impl From<PoolError> for Error {
    fn from(e: PoolError) -> Self {
        Self::Pool(e)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Self::Store(StoreError::Corrupt(e.to_string()))
    }
}

impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        match e {
            Error::Store(e) => e,
            Error::Postgres(e) => from_postgres(e),
            // No connection to be had (refused, timed out, refused login,
            // pool closed or exhausted).
            Error::Pool(e) => StoreError::Unavailable(e.to_string()),
        }
    }
}

fn from_postgres(e: tokio_postgres::Error) -> StoreError {
    // Keep the server's own message (and detail) rather than "db error".
    let text = match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_owned(),
        },
        None => match std::error::Error::source(&e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    };
    match e.code() {
        Some(code) if *code == SqlState::UNIQUE_VIOLATION => StoreError::Duplicate(text),
        // No SQL state: the connection failed (closed, I/O), or the client
        // did (a parameter or column of an unexpected type).
        None if e.is_closed() || io_failure(&e) => StoreError::Unavailable(text),
        None => StoreError::Database(text),
        Some(code)
            if code.code().starts_with("08") // connection exception
                || *code == SqlState::TOO_MANY_CONNECTIONS
                || *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW =>
        {
            StoreError::Unavailable(text)
        }
        Some(_) => StoreError::Database(text),
    }
}

/// Whether the connection's I/O failed under the statement.
fn io_failure(e: &tokio_postgres::Error) -> bool {
    std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
}

impl Error {
    /// `instead`, when this error is a broken integrity rule (a unique key,
    /// a foreign key: the SQLite backend sees both as one constraint
    /// violation and answers both alike); else this error.
    pub(crate) fn on_constraint(self, instead: impl FnOnce() -> StoreError) -> Error {
        match &self {
            Error::Postgres(e) if e.code().is_some_and(|c| c.code().starts_with("23")) => {
                Error::Store(instead())
            }
            _ => self,
        }
    }
}

/// A malformed value read back from the database.
pub(crate) fn corrupt(what: &str, value: &str) -> Error {
    Error::Store(StoreError::Corrupt(format!(
        "malformed {what} in database: {value}"
    )))
}
