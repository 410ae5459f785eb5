//! The PostgreSQL cluster a run uses, seen from the machine: its version
//! and the CPU time of all its processes (the postmaster and every backend
//! and helper it started), read from `/proc` as the servers' own are.

use anyhow::{Context, Result};
use beatbook_tests::process::{self, cpu_seconds_of};
use tokio_postgres::NoTls;

/// The cluster behind one database URL.
pub struct Cluster {
    /// `SHOW server_version`.
    pub version: String,
    /// The postmaster's process id, if its `/proc` entry can be read (a
    /// cluster on this machine).
    postmaster: Option<u32>,
}

impl Cluster {
    /// Finds the cluster serving `url`: asks it for a backend's process id,
    /// whose parent is the postmaster.
    pub async fn of(url: &str) -> Result<Self> {
        let (client, connection) = tokio_postgres::connect(url, NoTls)
            .await
            .context("connect to the benchmark's PostgreSQL database")?;
        let connection = tokio::spawn(connection);
        let version: String = client.query_one("SHOW server_version", &[]).await?.get(0);
        let backend: i32 = client
            .query_one("SELECT pg_backend_pid()", &[])
            .await?
            .get(0);
        // Read while the backend is alive: once the connection closes it
        // exits, and its `/proc` entry with it.
        let postmaster = u32::try_from(backend)
            .ok()
            .and_then(|pid| stat_fields(pid)?.get(1)?.parse().ok());
        drop(client);
        let _ = connection.await;
        Ok(Self {
            version,
            postmaster,
        })
    }

    /// User + system CPU seconds of the whole cluster so far: the
    /// postmaster's own and its reaped children's, plus every live child's.
    /// `None` when `/proc` does not show the cluster.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let postmaster = self.postmaster?;
        let own = stat_fields(postmaster)?;
        // Fields after the command: [11] utime, [12] stime, [13] cutime, [14] cstime.
        let ticks = |f: &[String], i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
        let reaped = ticks(&own, 13)? + ticks(&own, 14)?;
        let mut seconds =
            cpu_seconds_of(&format!("/proc/{postmaster}/stat")) + reaped as f64 / 100.0;
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let parent = stat_fields(pid).and_then(|f| f.get(1)?.parse::<u32>().ok());
            if parent == Some(postmaster) {
                seconds += cpu_seconds_of(&format!("/proc/{pid}/stat"));
            }
        }
        Some(seconds)
    }
}

/// The fields of `/proc/<pid>/stat` after the command name: [0] state,
/// [1] parent's pid, …
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    process::stat_fields(&format!("/proc/{pid}/stat"))
}
