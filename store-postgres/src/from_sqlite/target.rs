//! The PostgreSQL side: refusing a database that already holds data,
//! copying a table with binary COPY, moving the log head and the identity
//! columns past the copied rows, and hashing what was stored.

use std::pin::pin;

use futures_util::TryStreamExt;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;
use tokio_postgres::{IsolationLevel, Transaction};

use super::tables::{Cell, Checksum, Kind, Row, Table, IDENTITIES, TABLES};
use super::MigrateError;
use crate::error::Error;

/// A failed statement, as the backend reports it, naming `table` if any.
pub(crate) fn failed(table: Option<&'static str>, e: tokio_postgres::Error) -> MigrateError {
    let detail = beatbook_store::StoreError::from(Error::from(e)).to_string();
    match table {
        Some(table) => MigrateError::Copy { table, detail },
        None => MigrateError::Target(detail),
    }
}

/// Locks every table the copy writes (a server started on the database
/// meanwhile waits for the copy to commit), then refuses if any holds a row
/// or the log head has moved. Returns the database's schema version.
pub(crate) async fn claim(tx: &Transaction<'_>) -> Result<usize, MigrateError> {
    let names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
    tx.batch_execute(&format!(
        "SET LOCAL lock_timeout = '30s'; LOCK TABLE {}, log_head IN EXCLUSIVE MODE",
        names.join(", ")
    ))
    .await
    .map_err(|e| failed(None, e))?;
    for table in TABLES {
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {})", table.name);
        let any: bool = tx
            .query_one(&sql, &[])
            .await
            .map_err(|e| failed(Some(table.name), e))?
            .get(0);
        if any {
            return Err(MigrateError::NotEmpty { table: table.name });
        }
    }
    let head: i64 = tx
        .query_one("SELECT cursor FROM log_head", &[])
        .await
        .map_err(|e| failed(Some("log_head"), e))?
        .get(0);
    if head != 0 {
        return Err(MigrateError::NotEmpty { table: "log_head" });
    }
    let version: i64 = tx
        .query_one("SELECT version FROM schema_version", &[])
        .await
        .map_err(|e| failed(Some("schema_version"), e))?
        .get(0);
    Ok(usize::try_from(version).unwrap_or(usize::MAX))
}

/// A table's binary COPY under way.
pub(crate) struct Copy {
    writer: std::pin::Pin<Box<BinaryCopyInWriter>>,
    table: &'static Table,
}

impl Copy {
    /// Starts copying into `table`.
    pub(crate) async fn start(
        tx: &Transaction<'_>,
        table: &'static Table,
    ) -> Result<Copy, MigrateError> {
        let sql = format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            table.name,
            table.column_list()
        );
        let sink = tx
            .copy_in(&sql)
            .await
            .map_err(|e| failed(Some(table.name), e))?;
        let types: Vec<Type> = table.columns.iter().map(|(_, k)| k.pg_type()).collect();
        Ok(Copy {
            writer: Box::pin(BinaryCopyInWriter::new(sink, &types)),
            table,
        })
    }

    /// Sends rows.
    pub(crate) async fn write(&mut self, rows: &[Row]) -> Result<(), MigrateError> {
        for row in rows {
            self.writer
                .as_mut()
                .write_raw(row.iter())
                .await
                .map_err(|e| failed(Some(self.table.name), e))?;
        }
        Ok(())
    }

    /// Ends the COPY; returns the rows PostgreSQL stored.
    pub(crate) async fn finish(mut self) -> Result<u64, MigrateError> {
        self.writer
            .as_mut()
            .finish()
            .await
            .map_err(|e| failed(Some(self.table.name), e))
    }
}

/// Hands out change-log cursors after the largest copied one, and identity
/// ids after the largest copied ones. Returns the log head.
pub(crate) async fn advance_counters(tx: &Transaction<'_>) -> Result<u64, MigrateError> {
    let head: i64 = tx
        .query_one(
            // A compacted log may lack the largest cursor handed out; the
            // version rows keep every one.
            "UPDATE log_head SET cursor = GREATEST(
                 (SELECT COALESCE(MAX(cursor), 0) FROM changelog),
                 (SELECT COALESCE(MAX(cursor), 0) FROM record_versions))
             RETURNING cursor",
            &[],
        )
        .await
        .map_err(|e| failed(Some("log_head"), e))?
        .get(0);
    for (table, column) in IDENTITIES {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('{table}', '{column}'),
                           COALESCE(MAX({column}), 0) + 1, false) FROM {table}"
        );
        tx.query_one(&sql, &[])
            .await
            .map_err(|e| failed(Some(table), e))?;
    }
    Ok(head.max(0) as u64)
}

/// Row count and checksum of every table as stored, all read from one
/// snapshot, each in primary-key order, rendered as [`Checksum`] renders
/// the SQLite rows. `progress` hears of each table when done.
pub(crate) async fn checksums(
    client: &mut deadpool_postgres::Client,
    progress: &mut dyn FnMut(&'static str, u64),
) -> Result<Vec<(u64, String)>, MigrateError> {
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(|e| failed(None, e))?;
    let mut out = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let sum = checksum(&tx, table).await?;
        progress(table.name, sum.0);
        out.push(sum);
    }
    tx.commit().await.map_err(|e| failed(None, e))?;
    Ok(out)
}

async fn checksum(
    tx: &Transaction<'_>,
    table: &'static Table,
) -> Result<(u64, String), MigrateError> {
    let select: Vec<String> = table
        .columns
        .iter()
        .map(|(name, kind)| match kind {
            Kind::Json => format!("{name}::text"),
            _ => (*name).to_owned(),
        })
        .collect();
    let sql = format!(
        "SELECT {} FROM {} ORDER BY {}",
        select.join(", "),
        table.name,
        table.key
    );
    let no_params: [&(dyn tokio_postgres::types::ToSql + Sync); 0] = [];
    let rows = tx
        .query_raw(&sql, no_params)
        .await
        .map_err(|e| failed(Some(table.name), e))?;
    let mut rows = pin!(rows);
    let mut sum = Checksum::new();
    while let Some(row) = rows
        .try_next()
        .await
        .map_err(|e| failed(Some(table.name), e))?
    {
        let mut cells = Vec::with_capacity(table.columns.len());
        for (i, (_, kind)) in table.columns.iter().enumerate() {
            let cell = match kind {
                Kind::Text => row
                    .try_get::<_, Option<String>>(i)
                    .map(|v| v.map(Cell::Text)),
                Kind::Json => row
                    .try_get::<_, Option<String>>(i)
                    .map(|v| v.map(Cell::Json)),
                Kind::Int => row.try_get::<_, Option<i64>>(i).map(|v| v.map(Cell::Int)),
                Kind::Bool => row.try_get::<_, Option<bool>>(i).map(|v| v.map(Cell::Bool)),
                Kind::Bytes => row
                    .try_get::<_, Option<Vec<u8>>>(i)
                    .map(|v| v.map(Cell::Bytes)),
            }
            .map_err(|e| failed(Some(table.name), e))?;
            cells.push(cell.unwrap_or(Cell::Null));
        }
        sum.add(&cells).map_err(|e| MigrateError::Convert {
            table: table.name,
            detail: format!("malformed JSON read back: {e}"),
        })?;
    }
    Ok(sum.finish())
}
