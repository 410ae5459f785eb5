//! The tables a SQLite deployment holds, as the copy sees them: each column's
//! kind (how a SQLite value becomes a PostgreSQL one), the order the tables
//! are copied in, and one canonical rendering of a row that both sides hash.

use std::error::Error as StdError;

use bytes::BytesMut;
use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};

/// How one column is stored on each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// TEXT on both sides.
    Text,
    /// INTEGER in SQLite, BIGINT here.
    Int,
    /// INTEGER 0/1 in SQLite, BOOLEAN here.
    Bool,
    /// BLOB in SQLite, BYTEA here.
    Bytes,
    /// JSON text in SQLite, JSONB here.
    Json,
}

impl Kind {
    /// The PostgreSQL type a binary COPY sends for this kind.
    pub(crate) fn pg_type(self) -> Type {
        match self {
            Kind::Text => Type::TEXT,
            Kind::Int => Type::INT8,
            Kind::Bool => Type::BOOL,
            Kind::Bytes => Type::BYTEA,
            Kind::Json => Type::JSONB,
        }
    }
}

/// One table: its columns and the primary key it is read in order of.
#[derive(Debug)]
pub(crate) struct Table {
    /// Same name on both sides.
    pub name: &'static str,
    /// Every column, same names on both sides.
    pub columns: &'static [(&'static str, Kind)],
    /// The primary key's columns, comma-separated (`ORDER BY` this).
    pub key: &'static str,
}

impl Table {
    /// The column names, comma-separated.
    pub(crate) fn column_list(&self) -> String {
        let names: Vec<&str> = self.columns.iter().map(|(name, _)| *name).collect();
        names.join(", ")
    }
}

use Kind::{Bool, Bytes, Int, Json as JsonKind, Text};

/// Every table of the SQLite schema (migrations 1–7), parents before the
/// tables whose foreign keys point at them.
pub(crate) const TABLES: &[Table] = &[
    Table {
        name: "meta",
        columns: &[("key", Text), ("value", Text)],
        key: "key",
    },
    Table {
        name: "stations",
        columns: &[("id", Text), ("name", Text)],
        key: "id",
    },
    Table {
        name: "grids",
        columns: &[("id", Text), ("station_id", Text), ("name", Text)],
        key: "id",
    },
    Table {
        name: "users",
        columns: &[
            ("id", Text),
            ("badge", Text),
            ("name", Text),
            ("role", Text),
            ("station_id", Text),
            ("password_hash", Text),
            ("disabled", Bool),
        ],
        key: "id",
    },
    Table {
        name: "user_grids",
        columns: &[("user_id", Text), ("grid_id", Text)],
        key: "user_id, grid_id",
    },
    Table {
        name: "devices",
        columns: &[
            ("id", Text),
            ("user_id", Text),
            ("name", Text),
            ("token_hash", Bytes),
            ("issued_at", Text),
            ("enrolled_at", Text),
            ("last_seen_at", Text),
            ("revoked_at", Text),
        ],
        key: "id",
    },
    Table {
        name: "forms",
        columns: &[("form_id", Text), ("version", Int), ("definition", Text)],
        key: "form_id, version",
    },
    Table {
        name: "changelog",
        columns: &[("cursor", Int), ("grid_id", Text), ("item", Text)],
        key: "cursor",
    },
    Table {
        name: "records",
        columns: &[
            ("id", Text),
            ("form_id", Text),
            ("grid_id", Text),
            ("revision", Int),
            ("deleted", Bool),
            ("state", JsonKind),
        ],
        key: "id",
    },
    Table {
        name: "record_versions",
        columns: &[
            ("record_id", Text),
            ("revision", Int),
            ("cursor", Int),
            ("change_id", Text),
            ("batch_id", Text),
            ("item", Text),
        ],
        key: "record_id, revision",
    },
    Table {
        name: "changes",
        columns: &[
            ("change_id", Text),
            ("batch_id", Text),
            ("record_id", Text),
            ("device_id", Text),
            ("outcome", Text),
            ("received_at", Text),
        ],
        key: "change_id",
    },
    Table {
        name: "batches",
        columns: &[
            ("id", Text),
            ("device_id", Text),
            ("user_id", Text),
            ("received_at", Text),
            ("stored", Int),
            ("rejected", Int),
            ("conflicts", Int),
        ],
        key: "id",
    },
    Table {
        name: "conflicts",
        columns: &[
            ("id", Int),
            ("record_id", Text),
            ("revision", Int),
            ("change_id", Text),
            ("detail", Text),
        ],
        key: "id",
    },
    Table {
        name: "blobs",
        columns: &[
            ("sha256", Text),
            ("size", Int),
            ("content_type", Text),
            ("stored_at", Text),
        ],
        key: "sha256",
    },
    Table {
        name: "record_blobs",
        columns: &[("sha256", Text), ("record_id", Text), ("grid_id", Text)],
        key: "sha256, record_id",
    },
    Table {
        name: "blob_history",
        columns: &[("sha256", Text), ("record_id", Text), ("grid_id", Text)],
        key: "sha256, record_id, grid_id",
    },
    Table {
        name: "blob_uploads",
        columns: &[("sha256", Text), ("device_id", Text), ("uploaded_at", Text)],
        key: "sha256, device_id",
    },
    Table {
        name: "web_sessions",
        columns: &[
            ("id_hash", Bytes),
            ("user_id", Text),
            ("created_at", Text),
            ("expires_at", Text),
            ("last_seen_at", Text),
        ],
        key: "id_hash",
    },
    Table {
        name: "audit_log",
        columns: &[
            ("id", Int),
            ("at", Text),
            ("user_id", Text),
            ("badge", Text),
            ("name", Text),
            ("station_id", Text),
            ("action", Text),
            ("target", Text),
            ("detail", Text),
        ],
        key: "id",
    },
    Table {
        name: "signin_failures",
        columns: &[("key", Bytes), ("failures", Int), ("window_start_ms", Int)],
        key: "key",
    },
    Table {
        name: "enrollment_codes",
        columns: &[
            ("code_hash", Bytes),
            ("user_id", Text),
            ("created_by", Text),
            ("created_at", Text),
            ("expires_at", Text),
            ("used_at", Text),
            ("used_by_device", Text),
        ],
        key: "code_hash",
    },
    Table {
        name: "person_ids",
        columns: &[("record_id", Text), ("id_number", Text), ("grid_id", Text)],
        key: "record_id",
    },
    Table {
        name: "person_id_counts",
        columns: &[("id_number", Text), ("records", Int)],
        key: "id_number",
    },
    Table {
        name: "duplicate_distinct",
        columns: &[("record_a", Text), ("record_b", Text)],
        key: "record_a, record_b",
    },
];

/// The identity columns (SQLite rowids), restarted after their largest copied value.
pub(crate) const IDENTITIES: &[(&str, &str)] = &[("conflicts", "id"), ("audit_log", "id")];

/// One value on its way from SQLite to PostgreSQL (or read back).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Text(String),
    Int(i64),
    Bool(bool),
    Bytes(Vec<u8>),
    /// JSON text, sent to a JSONB column as is.
    Json(String),
}

impl Cell {
    /// Bytes this value takes, to bound a chunk's memory.
    pub(crate) fn size(&self) -> usize {
        match self {
            Cell::Null | Cell::Int(_) | Cell::Bool(_) => 8,
            Cell::Text(s) | Cell::Json(s) => s.len(),
            Cell::Bytes(b) => b.len(),
        }
    }
}

impl ToSql for Cell {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            Cell::Null => Ok(IsNull::Yes),
            Cell::Text(s) => s.to_sql(ty, out),
            Cell::Int(n) => n.to_sql(ty, out),
            Cell::Bool(b) => b.to_sql(ty, out),
            Cell::Bytes(b) => b.to_sql(ty, out),
            Cell::Json(s) => {
                // JSONB's binary format: a version byte, then the JSON text.
                out.extend_from_slice(&[1]);
                out.extend_from_slice(s.as_bytes());
                Ok(IsNull::No)
            }
        }
    }

    fn accepts(ty: &Type) -> bool {
        [Type::TEXT, Type::INT8, Type::BOOL, Type::BYTEA, Type::JSONB].contains(ty)
    }

    to_sql_checked!();
}

/// A row, one cell per column.
pub(crate) type Row = Vec<Cell>;

/// Row count and SHA-256 over a table's rows in primary-key order, each row
/// rendered canonically: a JSON array of its cells, text as strings,
/// integers as numbers, booleans as 0/1, bytes as lowercase hex, JSON as its
/// parsed value with keys sorted, NULL as null; one line per row. Both sides
/// hash the same rendering, so a value changed in any way by the copy shows.
pub(crate) struct Checksum {
    hasher: Sha256,
    rows: u64,
}

impl Checksum {
    pub(crate) fn new() -> Self {
        Self {
            hasher: Sha256::new(),
            rows: 0,
        }
    }

    /// Adds a row; fails if a JSON cell does not parse.
    pub(crate) fn add(&mut self, row: &[Cell]) -> Result<(), serde_json::Error> {
        let cells = row
            .iter()
            .map(canonical)
            .collect::<Result<Vec<Json>, _>>()?;
        let line = serde_json::to_string(&Json::Array(cells))?;
        self.hasher.update(line.as_bytes());
        self.hasher.update(b"\n");
        self.rows += 1;
        Ok(())
    }

    /// Rows added and the checksum (hex).
    pub(crate) fn finish(self) -> (u64, String) {
        (self.rows, hex::encode(self.hasher.finalize()))
    }
}

fn canonical(cell: &Cell) -> Result<Json, serde_json::Error> {
    Ok(match cell {
        Cell::Null => Json::Null,
        Cell::Text(s) => Json::String(s.clone()),
        Cell::Int(n) => Json::from(*n),
        Cell::Bool(b) => Json::from(u8::from(*b)),
        Cell::Bytes(b) => Json::String(hex::encode(b)),
        Cell::Json(s) => sorted(serde_json::from_str(s)?),
    })
}

/// The value with every object's keys in sorted order (the crate's maps
/// keep insertion order, which JSONB does not preserve).
fn sorted(value: Json) -> Json {
    match value {
        Json::Object(map) => {
            let mut entries: Vec<(String, Json)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sorted(v)))
                    .collect::<Map<_, _>>(),
            )
        }
        Json::Array(items) => Json::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checksum(rows: &[Row]) -> (u64, String) {
        let mut sum = Checksum::new();
        for row in rows {
            sum.add(row).expect("row");
        }
        sum.finish()
    }

    #[test]
    fn json_key_order_and_spacing_do_not_change_the_checksum() {
        let a = checksum(&[vec![Cell::Json(
            r#"{"b": [1, {"y": 2, "x": 1}], "a": "é"}"#.into(),
        )]]);
        let b = checksum(&[vec![Cell::Json(
            r#"{"a":"é","b":[1,{"x":1,"y":2}]}"#.into(),
        )]]);
        assert_eq!(a, b);
    }

    #[test]
    fn any_changed_cell_changes_the_checksum() {
        let row = vec![
            Cell::Text("r1".into()),
            Cell::Int(7),
            Cell::Bool(true),
            Cell::Bytes(vec![0, 255]),
            Cell::Null,
            Cell::Json(r#"{"a":1}"#.into()),
        ];
        let base = checksum(std::slice::from_ref(&row));
        for (i, changed) in [
            Cell::Text("r2".into()),
            Cell::Int(8),
            Cell::Bool(false),
            Cell::Bytes(vec![0, 254]),
            Cell::Text(String::new()),
            Cell::Json(r#"{"a":2}"#.into()),
        ]
        .into_iter()
        .enumerate()
        {
            let mut other = row.clone();
            other[i] = changed;
            assert_ne!(checksum(&[other]), base, "cell {i}");
        }
        // Rows are delimited: the same cells split differently differ.
        let split = checksum(&[vec![Cell::Text("a".into())], vec![Cell::Text("b".into())]]);
        let joined = checksum(&[vec![Cell::Text("a".into()), Cell::Text("b".into())]]);
        assert_ne!(split, joined);
    }

    #[test]
    fn malformed_json_is_an_error() {
        assert!(Checksum::new().add(&[Cell::Json("{".into())]).is_err());
    }
}
