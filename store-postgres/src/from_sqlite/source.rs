//! The SQLite side: one read transaction (one consistent snapshot) over the
//! whole file, on a blocking thread, streaming every table in chunks to the
//! copy and hashing each row as it goes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::mpsc;

use super::tables::{Cell, Checksum, Kind, Row, Table, TABLES};
use super::MigrateError;

/// At most this many rows in one chunk...
const CHUNK_ROWS: usize = 2_000;
/// ...and at most about this many bytes.
const CHUNK_BYTES: usize = 4 << 20;

/// What the reader sends, table after table in [`TABLES`] order.
pub(crate) enum Piece {
    /// A table starts; it holds `total` rows.
    Start { table: &'static Table, total: u64 },
    /// Rows of the current table, in primary-key order.
    Rows(Vec<Row>),
    /// The table is done: its rows and checksum as read.
    End { rows: u64, checksum: String },
}

/// Starts reading the SQLite database at `path` on a blocking thread. The
/// pieces arrive on the returned receiver; when it closes, the join handle
/// says whether the read finished or why it stopped. Reading stops early
/// when the receiver is dropped.
pub(crate) fn read(
    path: &Path,
    schema_version: usize,
) -> (
    mpsc::Receiver<Piece>,
    tokio::task::JoinHandle<Result<(), MigrateError>>,
) {
    let (tx, rx) = mpsc::channel(2);
    let path = path.to_owned();
    let handle = tokio::task::spawn_blocking(move || {
        let reader = Reader { path, tx };
        reader.run(schema_version)
    });
    (rx, handle)
}

struct Reader {
    path: PathBuf,
    tx: mpsc::Sender<Piece>,
}

/// Why reading a table ended early.
enum Halt {
    /// Reading failed.
    Failed(MigrateError),
    /// The copy stopped listening (it failed on its side and says why).
    Stopped,
}

impl Reader {
    fn run(&self, schema_version: usize) -> Result<(), MigrateError> {
        let mut conn = Connection::open_with_flags(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| self.error(e))?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(|e| self.error(e))?;
        let snapshot = conn.transaction().map_err(|e| self.error(e))?;
        self.check_schema(&snapshot, schema_version)?;
        for table in TABLES {
            match self.send_table(&snapshot, table) {
                Ok(()) => {}
                Err(Halt::Failed(e)) => return Err(e),
                Err(Halt::Stopped) => return Ok(()),
            }
        }
        Ok(())
    }

    fn error(&self, e: rusqlite::Error) -> MigrateError {
        MigrateError::Source {
            path: self.path.clone(),
            detail: e.to_string(),
        }
    }

    /// Refuses a database at another schema version than the target's, or
    /// with a table or column this copy does not know (a newer release's
    /// migration that this one would silently leave behind).
    fn check_schema(&self, conn: &Connection, expected: usize) -> Result<(), MigrateError> {
        let version: usize = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| self.error(e))?;
        if version != expected {
            return Err(MigrateError::SchemaVersion {
                sqlite: version,
                postgres: expected,
            });
        }
        let columns = |conn: &Connection| -> rusqlite::Result<BTreeMap<String, BTreeSet<String>>> {
            let mut stmt = conn.prepare(
                "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
            )?;
            let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?;
            for row in rows {
                let (table, column) = row?;
                out.entry(table).or_default().insert(column);
            }
            Ok(out)
        };
        let found = columns(conn).map_err(|e| self.error(e))?;
        let known: BTreeMap<String, BTreeSet<String>> = TABLES
            .iter()
            .map(|t| {
                let cols = t.columns.iter().map(|(c, _)| (*c).to_owned()).collect();
                (t.name.to_owned(), cols)
            })
            .collect();
        if found != known {
            let differ: Vec<&str> = found
                .keys()
                .chain(known.keys())
                .filter(|t| found.get(*t) != known.get(*t))
                .map(String::as_str)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            return Err(MigrateError::UnknownSchema(differ.join(", ")));
        }
        Ok(())
    }

    /// Streams one table.
    fn send_table(&self, conn: &Connection, table: &'static Table) -> Result<(), Halt> {
        let total: u64 = conn
            .query_row(&format!("SELECT COUNT(*) FROM {}", table.name), [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n.max(0) as u64)
            .map_err(|e| Halt::Failed(self.error(e)))?;
        self.send(Piece::Start { table, total })?;
        let sql = format!(
            "SELECT {} FROM {} ORDER BY {}",
            table.column_list(),
            table.name,
            table.key
        );
        let mut stmt = conn
            .prepare(&sql)
            .map_err(|e| Halt::Failed(self.error(e)))?;
        let mut rows = stmt.query([]).map_err(|e| Halt::Failed(self.error(e)))?;
        let mut checksum = Checksum::new();
        let mut chunk = Vec::new();
        let mut bytes = 0;
        while let Some(row) = rows.next().map_err(|e| Halt::Failed(self.error(e)))? {
            let mut cells = Vec::with_capacity(table.columns.len());
            for (i, (column, kind)) in table.columns.iter().enumerate() {
                let value = row.get_ref(i).map_err(|e| Halt::Failed(self.error(e)))?;
                let cell = cell(value, *kind).map_err(|what| {
                    Halt::Failed(MigrateError::Convert {
                        table: table.name,
                        detail: format!("column {column}: {what}"),
                    })
                })?;
                bytes += cell.size();
                cells.push(cell);
            }
            checksum.add(&cells).map_err(|e| {
                Halt::Failed(MigrateError::Convert {
                    table: table.name,
                    detail: format!("malformed JSON: {e}"),
                })
            })?;
            chunk.push(cells);
            if chunk.len() >= CHUNK_ROWS || bytes >= CHUNK_BYTES {
                self.send(Piece::Rows(std::mem::take(&mut chunk)))?;
                bytes = 0;
            }
        }
        if !chunk.is_empty() {
            self.send(Piece::Rows(chunk))?;
        }
        let (rows, checksum) = checksum.finish();
        self.send(Piece::End { rows, checksum })?;
        Ok(())
    }

    fn send(&self, piece: Piece) -> Result<(), Halt> {
        self.tx.blocking_send(piece).map_err(|_| Halt::Stopped)
    }
}

/// A SQLite value as the column's kind, or what is wrong with it.
fn cell(value: ValueRef<'_>, kind: Kind) -> Result<Cell, String> {
    let text = |bytes: &[u8]| {
        String::from_utf8(bytes.to_vec()).map_err(|_| "text that is not UTF-8".to_owned())
    };
    match (kind, value) {
        (_, ValueRef::Null) => Ok(Cell::Null),
        (Kind::Text, ValueRef::Text(t)) => Ok(Cell::Text(text(t)?)),
        (Kind::Json, ValueRef::Text(t)) => Ok(Cell::Json(text(t)?)),
        (Kind::Int, ValueRef::Integer(n)) => Ok(Cell::Int(n)),
        (Kind::Bool, ValueRef::Integer(0)) => Ok(Cell::Bool(false)),
        (Kind::Bool, ValueRef::Integer(1)) => Ok(Cell::Bool(true)),
        (Kind::Bool, ValueRef::Integer(n)) => Err(format!("{n} where a flag (0 or 1) belongs")),
        (Kind::Bytes, ValueRef::Blob(b)) => Ok(Cell::Bytes(b.to_vec())),
        (kind, other) => Err(format!(
            "a {:?} value where {kind:?} belongs",
            other.data_type()
        )),
    }
}
