//! The server side of one load run: one `beatbook-server` process on a
//! SQLite file, or N processes on one PostgreSQL database and one blob
//! directory, as several instances behind a load balancer. Their CPU time
//! is summed and their peak memory kept per instance.

use std::path::Path;
use std::sync::Arc;

use anyhow::{ensure, Result};
use beatbook_store::Store;
use beatbook_store_postgres::testing;
use beatbook_tests::process::{free_addr, seed_storage, Org, ServerProcess, Storage};
use serde::{Deserialize, Serialize};

use crate::postgres::Cluster;

/// Where the servers keep their records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// One server process with its SQLite file.
    Sqlite,
    /// A fresh database in the test cluster (`BEATBOOK_TEST_POSTGRES`, else
    /// the one `scripts/postgres.sh ensure` starts).
    Postgres,
}

/// The running instances of one load run.
pub struct Servers {
    /// The server processes.
    pub instances: Vec<ServerProcess>,
    /// The PostgreSQL cluster, when the backend is PostgreSQL.
    pub cluster: Option<Cluster>,
    storage: Storage,
}

impl Servers {
    /// Seeds `org` into a new database under `root` (SQLite) or in the test
    /// cluster (PostgreSQL) and starts `n` instances on it.
    pub async fn start(root: &Path, backend: Backend, n: usize, org: &Org) -> Result<Self> {
        ensure!(n >= 1, "at least one instance");
        ensure!(
            backend == Backend::Postgres || n == 1,
            "several instances share a PostgreSQL database: add --backend postgres"
        );
        let (storages, cluster) = match backend {
            Backend::Sqlite => (vec![Storage::local(&root.join("server"))], None),
            Backend::Postgres => {
                let url = testing::fresh_database().await;
                let storages = (0..n)
                    .map(|i| {
                        Storage::shared(
                            &root.join(format!("server-{i}")),
                            &url,
                            &root.join("blobs"),
                        )
                    })
                    .collect();
                (storages, Some(Cluster::of(&url).await?))
            }
        };
        seed_storage(&storages[0], org, &[]).await;
        let mut instances = Vec::with_capacity(n);
        for storage in &storages {
            instances.push(ServerProcess::start_on(storage.clone(), free_addr()).await);
        }
        Ok(Self {
            instances,
            cluster,
            storage: storages[0].clone(),
        })
    }

    /// Each instance's URL.
    pub fn urls(&self) -> Vec<String> {
        self.instances.iter().map(|s| s.url.clone()).collect()
    }

    /// Each instance's CPU seconds so far.
    pub fn cpu_seconds(&self) -> Vec<f64> {
        self.instances
            .iter()
            .map(ServerProcess::cpu_seconds)
            .collect()
    }

    /// Each instance's resident memory now, bytes.
    pub fn rss(&self) -> Vec<u64> {
        self.instances.iter().map(ServerProcess::rss).collect()
    }

    /// Each instance's peak resident memory since [`Self::reset_peak`], bytes.
    pub fn peak_rss(&self) -> Vec<u64> {
        self.instances.iter().map(ServerProcess::peak_rss).collect()
    }

    /// Starts measuring every instance's peak memory from now.
    pub fn reset_peak(&self) {
        for server in &self.instances {
            server.reset_peak();
        }
    }

    /// Stops every instance gracefully.
    pub fn stop(&mut self) {
        for server in &mut self.instances {
            server.stop();
        }
    }

    /// The database the run used, opened as the server opens it.
    pub async fn store(&self) -> Result<Arc<dyn Store>> {
        Ok(beatbook_server::open(self.storage.config()).await?.store)
    }
}
