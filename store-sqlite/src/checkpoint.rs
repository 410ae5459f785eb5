//! WAL checkpoints beside the writer. SQLite's automatic checkpoint runs
//! inside the commit that crosses its threshold, so the push that happened
//! to commit then waited for megabytes of pages to be copied into the
//! database and synced. Here a thread of its own, on its own connection,
//! copies the committed pages (`PASSIVE`: it never blocks the writer or a
//! reader) whenever the writer signals that the log has grown.
//!
//! The log file starts over only when a write begins with every page of it
//! copied. Under a steady stream of writes the background thread never
//! quite catches up, so the writer checkpoints too once the log reaches
//! [`WRITER_CHECKPOINT_PAGES`]: by then most pages are copied, its share is
//! the last few, and the log on disk stays bounded.

use std::path::Path;
use std::sync::mpsc;

use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;
use rusqlite::Connection;

use crate::{open_connection, Error};

/// Pages in the log at which the background thread is asked to checkpoint
/// (SQLite's automatic checkpoint uses the same default).
const BACKGROUND_CHECKPOINT_PAGES: i32 = 1_000;

/// Pages in the log (16 MiB of 4 KiB pages) at which the writer checkpoints
/// itself after a commit.
const WRITER_CHECKPOINT_PAGES: i32 = 4_096;

/// Checkpoints the log `writer` writes on a background thread with its own
/// connection to `path` (and on the writer past the bound). The thread ends
/// when the writer's connection is dropped.
pub(crate) fn beside_writer(writer: &mut Connection, path: &Path) -> Result<(), Error> {
    let background = open_connection(path)?;
    // One pending signal is enough: the checkpoint it starts copies every
    // page committed before it runs.
    let (signal, signals) = mpsc::sync_channel::<()>(1);
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while signals.recv().is_ok() {
                if let Err(e) =
                    background.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                {
                    tracing::warn!(error = %e, "background WAL checkpoint failed");
                }
            }
        })
        .map_err(|e| Error::Store(beatbook_store::StoreError::Task(e.to_string())))?;
    // Setting the hook also turns SQLite's automatic checkpoint off.
    writer.wal_hook(Some(move |wal: &mut Wal, pages: i32| {
        if pages >= WRITER_CHECKPOINT_PAGES {
            // The hook runs after the commit: an error returned from here
            // would make SQLite report the committed statement as failed.
            // Busy means another connection is checkpointing already.
            match wal.checkpoint_v2(CheckpointMode::PASSIVE) {
                Ok(_) => {}
                Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => {}
                Err(e) => tracing::warn!(error = %e, "the writer's WAL checkpoint failed"),
            }
        } else if pages >= BACKGROUND_CHECKPOINT_PAGES {
            let _ = signal.try_send(());
        }
        Ok(())
    }))?;
    Ok(())
}
