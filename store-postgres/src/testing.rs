//! Throwaway databases for tests: each call to [`fresh_database`] creates a
//! new, empty, uniquely named database in the test cluster and returns its
//! URL. The cluster is `BEATBOOK_TEST_POSTGRES` (a base URL such as
//! `postgres://postgres@127.0.0.1:5433`) when set, else the one
//! `scripts/postgres.sh ensure` starts or reuses (once per process). Never a
//! server the machine happens to run.
//!
//! Databases are named `beatbook_test_<pid>_<n>`; the first call of a process
//! drops those left by processes that have ended.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use tokio_postgres::NoTls;

/// The environment variable naming the test cluster's base URL.
pub const BASE_URL_VAR: &str = "BEATBOOK_TEST_POSTGRES";

static BASE_URL: OnceLock<String> = OnceLock::new();
static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
static NEXT: AtomicU32 = AtomicU32::new(0);

/// The test cluster's base URL (no database name), starting the cluster if
/// needed. Panics, saying why, when there is no cluster to be had.
pub fn base_url() -> String {
    BASE_URL
        .get_or_init(|| {
            if let Ok(url) = std::env::var(BASE_URL_VAR) {
                return url.trim_end_matches('/').to_owned();
            }
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/postgres.sh");
            let out = Command::new(script)
                .arg("ensure")
                .output()
                .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
            assert!(
                out.status.success(),
                "{script} ensure failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        })
        .clone()
}

/// The URL of a new, empty, uniquely named database in the test cluster.
pub async fn fresh_database() -> String {
    let base = base_url();
    let client = admin_client(&base).await;
    SWEPT.get_or_init(|| drop_orphans(&client)).await;
    let name = format!(
        "beatbook_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    // Two statements: several in one string would run as one transaction,
    // which CREATE DATABASE refuses.
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        client
            .batch_execute(&sql)
            .await
            .unwrap_or_else(|e| panic!("{sql} at {base}: {e:?}"));
    }
    format!("{base}/{name}")
}

async fn admin_client(base: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&format!("{base}/postgres"), NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test cluster at {base}: {e}"));
    tokio::spawn(connection);
    client
}

/// Drops the test databases of processes that have ended.
async fn drop_orphans(client: &tokio_postgres::Client) {
    let rows = client
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE 'beatbook\\_test\\_%'",
            &[],
        )
        .await
        .expect("list test databases");
    for row in rows {
        let name: String = row.get(0);
        let pid = name.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
        // Without /proc (not Linux) no process can be told ended: keep all.
        let proc = std::path::Path::new("/proc");
        let ended = proc.join("self").exists()
            && pid.is_some_and(|pid| !proc.join(pid.to_string()).exists());
        if ended {
            // Another process may be sweeping the same one: ignore its errors.
            let _ = client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        }
    }
}
