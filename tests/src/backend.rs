//! Which database the test servers run on, decided here and nowhere else.
//!
//! `BEATBOOK_TEST_BACKEND=postgres` gives every test data directory its own
//! new PostgreSQL database (in the throwaway cluster of
//! [`beatbook_store_postgres::testing`]); unset or `sqlite`, the server's
//! default SQLite file in the data directory. A PostgreSQL database's URL
//! is recorded in the data directory ([`DATABASE_FILE`]), so a restart, a
//! seeded directory served by the binary, or a test reading the store after
//! the server stopped all find the same database.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use beatbook_server::{Config, Database};
use beatbook_store::Store;

/// The environment variable that picks the backend.
pub const BACKEND_VAR: &str = "BEATBOOK_TEST_BACKEND";

/// The file in a data directory that names its PostgreSQL database.
pub const DATABASE_FILE: &str = "test-database.url";

/// A storage backend the tests can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the data directory (the server's default).
    Sqlite,
    /// A new database per data directory in the test PostgreSQL cluster.
    Postgres,
}

impl Backend {
    /// The backend of this test run, from [`BACKEND_VAR`]; said once per
    /// process on standard error (past the test harness's capture). Panics
    /// on a value it does not know.
    pub fn current() -> Self {
        static CURRENT: OnceLock<Backend> = OnceLock::new();
        *CURRENT.get_or_init(|| {
            let value = std::env::var(BACKEND_VAR).unwrap_or_default();
            let backend = Self::parse(&value).unwrap_or_else(|e| panic!("{e}"));
            let _ = writeln!(
                std::io::stderr(),
                "beatbook-tests: test servers run on {backend:?} ({BACKEND_VAR}={value:?})"
            );
            backend
        })
    }

    /// The backend a value of [`BACKEND_VAR`] names (empty: SQLite).
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            _ => Err(format!(
                "{BACKEND_VAR}={value:?} is not a backend: use `sqlite` (the default) or `postgres`"
            )),
        }
    }
}

/// The database of the test data directory `dir`: `None` on SQLite (the
/// server's default file in `dir`); on PostgreSQL the one recorded in
/// `dir`, else a new empty one, recorded there.
pub fn database(dir: &Path) -> Option<Database> {
    match Backend::current() {
        Backend::Sqlite => None,
        Backend::Postgres => Some(Database::Postgres(postgres_url(dir))),
    }
}

/// The default test configuration over the data directory `dir`, on the
/// database [`database`] gives it.
pub fn config(dir: &Path) -> Config {
    Config {
        data_dir: dir.to_owned(),
        database: database(dir),
        ..Config::default()
    }
}

/// A store of its own on the database of the test data directory `dir`,
/// whichever backend it is: for reading what a server left behind, or
/// writing beside running servers as another process would.
pub async fn open_store(dir: &Path) -> anyhow::Result<Arc<dyn Store>> {
    let config = config(dir);
    beatbook_server::open_store(&config)
        .await
        .with_context(|| format!("cannot open the {}", config.database()))
}

fn postgres_url(dir: &Path) -> String {
    let file = dir.join(DATABASE_FILE);
    match std::fs::read_to_string(&file) {
        Ok(url) => url.trim().to_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let url = new_postgres_database();
            std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::write(&file, &url))
                .unwrap_or_else(|e| {
                    panic!("cannot record the database in {}: {e}", file.display())
                });
            url
        }
        Err(e) => panic!("cannot read {}: {e}", file.display()),
    }
}

/// A new database, made on a thread of its own with its own runtime: a
/// runtime cannot be entered from inside another, and async tests ask too.
fn new_postgres_database() -> String {
    std::thread::spawn(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime to create the test database")
            .block_on(beatbook_store_postgres::testing::fresh_database())
    })
    .join()
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_names_sqlite_or_postgres_and_nothing_else() {
        for (value, backend) in [
            ("", Backend::Sqlite),
            ("sqlite", Backend::Sqlite),
            ("postgres", Backend::Postgres),
            (" PostgreSQL\n", Backend::Postgres),
        ] {
            assert_eq!(Backend::parse(value), Ok(backend), "{value:?}");
        }
        let refused = Backend::parse("mysql").expect_err("not a backend");
        assert!(
            refused.contains("BEATBOOK_TEST_BACKEND=\"mysql\""),
            "{refused}"
        );
        assert!(refused.contains("`postgres`"), "{refused}");
    }
}
