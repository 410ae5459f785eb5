//! The scale run: the same load against SQLite (one instance), PostgreSQL
//! with one instance and PostgreSQL with two, one after another in one run,
//! written to a JSON file (by default `docs/bench/scale.json`) from which
//! `beatbook-bench report` renders the README's table.

use std::path::PathBuf;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::load::{self, Measured, Workload};
use crate::servers::Backend;
use crate::{commit, machine, write_results};

/// The configurations measured, in order.
const CONFIGURATIONS: &[(Backend, usize)] = &[
    (Backend::Sqlite, 1),
    (Backend::Postgres, 1),
    (Backend::Postgres, 2),
];

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub workload: Workload,
    /// Where the results go.
    #[arg(long, default_value = "docs/bench/scale.json")]
    pub out: PathBuf,
}

/// The results file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScaleFile {
    /// Cores, CPU model and memory.
    pub machine: String,
    /// When the run ended (UTC, RFC 3339).
    pub date: String,
    /// The commit measured (`-dirty` when the work tree had changes).
    pub commit: String,
    /// The load of every configuration.
    pub args: Workload,
    /// One entry per configuration, in the order of [`CONFIGURATIONS`].
    pub configurations: Vec<Measured>,
}

/// Measures every configuration and writes the file; returns it.
pub async fn run(args: &Args) -> Result<ScaleFile> {
    let mut configurations = Vec::new();
    for &(backend, instances) in CONFIGURATIONS {
        let m = load::measure(&args.workload, backend, instances).await?;
        eprintln!(
            "{backend:?} × {instances}: push p50 {:.0} ms, {:.0} records/s, exactly once: {}",
            m.push_ms.p50, m.records_per_s, m.exactly_once.ok
        );
        configurations.push(m);
    }
    let file = ScaleFile {
        machine: machine(),
        date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        commit: commit(),
        args: args.workload.clone(),
        configurations,
    };
    write_results(&args.out, &file)?;
    eprintln!("results written to {}", args.out.display());
    Ok(file)
}
