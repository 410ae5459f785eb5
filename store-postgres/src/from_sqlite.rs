//! Moving a SQLite deployment into PostgreSQL (`beatbook-server migrate-to`):
//! every table, every row, the same values, so enrolled devices keep
//! syncing from the cursors they stored — no re-enrollment, no download
//! from scratch.
//!
//! The SQLite file is read in one read transaction (one snapshot; the
//! server should be stopped, or what it writes after the snapshot stays
//! behind). The target must be empty: [`copy`] refuses a database where any
//! table it writes holds a row. Tables are copied parents first with binary
//! COPY, streamed in chunks, inside one PostgreSQL transaction, so a copy
//! that fails leaves the target as empty as it found it. Before commit, the
//! log head is set to the largest copied cursor (new changes get cursors
//! above every device's) and the identity columns restart after their
//! largest ids. After commit, every table is read back in primary-key
//! order and its row count and SHA-256 compared with what was read from
//! SQLite, both rendered the same canonical way (JSON as parsed values with
//! sorted keys, booleans as 0/1, bytes as hex).

mod source;
mod tables;
mod target;

use std::path::{Path, PathBuf};

use crate::PgStore;
use source::Piece;
use tables::TABLES;
use target::Copy;

/// What [`copy`] is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Copying rows into PostgreSQL.
    Copy,
    /// Reading a table back to check it.
    Verify,
}

/// Progress of [`copy`], reported per chunk of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// What is being done.
    pub step: Step,
    /// The table.
    pub table: &'static str,
    /// Rows done.
    pub done: u64,
    /// Rows the table holds.
    pub total: u64,
}

/// One verified table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableReport {
    /// The table.
    pub table: &'static str,
    /// Rows, the same on both sides.
    pub rows: u64,
    /// SHA-256 (hex) of the rows in primary-key order, the same on both sides.
    pub checksum: String,
}

/// What [`copy`] copied and verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Every table, in copy order.
    pub tables: Vec<TableReport>,
    /// The log head: the next change gets a cursor above it.
    pub log_head: u64,
}

/// Why a copy failed. Until the commit, nothing of it is stored.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The SQLite file could not be opened or read.
    #[error("cannot read the SQLite database {path}: {detail}")]
    Source {
        /// The file.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
    /// The two schemas are at different versions.
    #[error(
        "the SQLite database is at schema version {sqlite}, this release's PostgreSQL schema \
         at {postgres}; they must be equal: run migrate-to with the beatbook-server release \
         that last served the SQLite database (it brings an older file up to date itself)"
    )]
    SchemaVersion {
        /// `PRAGMA user_version` of the SQLite file.
        sqlite: usize,
        /// `schema_version` of the PostgreSQL database.
        postgres: usize,
    },
    /// The SQLite file has tables or columns this copy does not know.
    #[error(
        "the SQLite database's tables differ from what this release copies ({0}): \
         run migrate-to with the release that last served it"
    )]
    UnknownSchema(String),
    /// The target database holds data.
    #[error(
        "the target database is not empty: table {table} holds data. migrate-to copies only \
         into an empty database: create a new one (CREATE DATABASE …) and run migrate-to \
         against it before any server starts on it"
    )]
    NotEmpty {
        /// The first table found holding a row.
        table: &'static str,
    },
    /// A value could not be converted.
    #[error("table {table}: {detail}")]
    Convert {
        /// The table.
        table: &'static str,
        /// The column and what is wrong.
        detail: String,
    },
    /// PostgreSQL refused or failed a statement on a table.
    #[error("copying table {table} failed: {detail}")]
    Copy {
        /// The table.
        table: &'static str,
        /// PostgreSQL's message.
        detail: String,
    },
    /// PostgreSQL could not be reached, or failed outside any one table.
    #[error("PostgreSQL: {0}")]
    Target(String),
    /// What was read back differs from what was read from SQLite.
    #[error(
        "verification failed for table {table}: {detail}. The copy is committed but not \
         faithful: do not start servers on it; drop the database and report this"
    )]
    Mismatch {
        /// The table.
        table: &'static str,
        /// Rows and checksums of both sides.
        detail: String,
    },
}

/// Copies the SQLite database at `sqlite` into the empty PostgreSQL
/// database at `url` (bringing its schema up to date first), verifies the
/// copy, and reports per table. `progress` hears of every chunk copied and
/// every table verified.
pub async fn copy(
    sqlite: &Path,
    url: &str,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Report, MigrateError> {
    let store = PgStore::connect(url, 1)
        .await
        .map_err(|e| MigrateError::Target(e.to_string()))?;
    let mut client = store
        .client()
        .await
        .map_err(|e| MigrateError::Target(beatbook_store::StoreError::from(e).to_string()))?;

    let tx = client
        .transaction()
        .await
        .map_err(|e| target::failed(None, e))?;
    let version = target::claim(&tx).await?;
    let (mut pieces, reader) = source::read(sqlite, version);
    let copied = copy_tables(&tx, &mut pieces, progress).await;
    // Stops the reader if the copy failed first.
    drop(pieces);
    let read = reader
        .await
        .map_err(|e| MigrateError::Source {
            path: sqlite.to_owned(),
            detail: format!("the reading task failed: {e}"),
        })
        .and_then(|r| r);
    // The reader's error is the cause when both failed: the copy then only
    // saw the rows stop coming.
    read?;
    let sources = copied?;
    let log_head = target::advance_counters(&tx).await?;
    tx.commit().await.map_err(|e| target::failed(None, e))?;

    let stored = target::checksums(&mut client, &mut |table, rows| {
        progress(Progress {
            step: Step::Verify,
            table,
            done: rows,
            total: rows,
        })
    })
    .await?;
    for (source, (rows, checksum)) in sources.iter().zip(&stored) {
        if source.rows != *rows || source.checksum != *checksum {
            return Err(MigrateError::Mismatch {
                table: source.table,
                detail: format!(
                    "SQLite {} rows, SHA-256 {}; PostgreSQL {rows} rows, SHA-256 {checksum}",
                    source.rows, source.checksum
                ),
            });
        }
    }
    Ok(Report {
        tables: sources,
        log_head,
    })
}

/// Copies the tables as the reader sends them; returns what it read of each.
async fn copy_tables(
    tx: &tokio_postgres::Transaction<'_>,
    pieces: &mut tokio::sync::mpsc::Receiver<Piece>,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Vec<TableReport>, MigrateError> {
    let mut read = Vec::with_capacity(TABLES.len());
    let mut current: Option<(Copy, Progress)> = None;
    while let Some(piece) = pieces.recv().await {
        match (piece, current.as_mut()) {
            (Piece::Start { table, total }, None) => {
                let at = Progress {
                    step: Step::Copy,
                    table: table.name,
                    done: 0,
                    total,
                };
                progress(at);
                current = Some((Copy::start(tx, table).await?, at));
            }
            (Piece::Rows(rows), Some((copy, at))) => {
                copy.write(&rows).await?;
                at.done += rows.len() as u64;
                progress(*at);
            }
            (Piece::End { rows, checksum }, Some(_)) => {
                let Some((copy, at)) = current.take() else {
                    break;
                };
                let stored = copy.finish().await?;
                if stored != rows {
                    return Err(MigrateError::Mismatch {
                        table: at.table,
                        detail: format!("read {rows} rows from SQLite, COPY stored {stored}"),
                    });
                }
                read.push(TableReport {
                    table: at.table,
                    rows,
                    checksum,
                });
            }
            _ => break,
        }
    }
    if read.len() != TABLES.len() {
        let table = TABLES.get(read.len()).map_or("?", |t| t.name);
        return Err(MigrateError::Copy {
            table,
            detail: "the SQLite reader stopped before the table's end".into(),
        });
    }
    Ok(read)
}

/// Whether `url` is a PostgreSQL connection string this backend accepts
/// (checked before anything is copied). The error never repeats the URL.
pub fn check_url(url: &str) -> Result<(), MigrateError> {
    url.parse::<tokio_postgres::Config>()
        .map(drop)
        .map_err(|e| MigrateError::Target(format!("the PostgreSQL URL is not valid: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_url_is_refused_without_being_repeated() {
        assert!(check_url("postgres://beatbook:S3cret@10.0.0.5:6432/district").is_ok());
        let err = check_url("postgres://u:S3cret@host:notaport/d").expect_err("bad port");
        assert!(!err.to_string().contains("S3cret"), "{err}");
    }
}
