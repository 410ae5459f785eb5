//! Append-only, numbered schema migrations. A released migration is never
//! edited: changes come as a new entry at the end. The one-row table
//! `schema_version` records how many have been applied.
//!
//! Entry `i` matches the SQLite backend's migration `i + 1`: the same tables,
//! columns, names and indexes, so a SQLite deployment at `user_version = n`
//! copies table by table into a PostgreSQL database at `schema_version = n`.
//! Types are mapped: ids and RFC 3339 times stay TEXT (written in the same
//! format as the SQLite backend writes them), INTEGER becomes BIGINT, the
//! flags `users.disabled` and `records.deleted` BOOLEAN, BLOB BYTEA,
//! `records.state` JSONB, and the SQLite rowid ids (`conflicts.id`,
//! `audit_log.id`) identity columns. Every TEXT column is `COLLATE "C"`:
//! SQLite compares text byte by byte, and ordering by ids and times must not
//! depend on the database's locale (most locales skip punctuation such as
//! `-` and `:` when they compare).
//!
//! Two additions of this backend: `log_head`, the one row whose lock hands
//! out change-log cursors in commit order (see the crate docs), and
//! `schema_version`.

use deadpool_postgres::Client;

use beatbook_store::StoreError;

use crate::error::Error;

/// The migrations, in order. Entry `i` brings the schema to version `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: organisation, devices, forms, the change log (and its head), records,
    // batches, blobs.
    r#"
    CREATE TABLE meta (key TEXT COLLATE "C" PRIMARY KEY, value TEXT COLLATE "C" NOT NULL);
    CREATE TABLE stations (id TEXT COLLATE "C" PRIMARY KEY, name TEXT COLLATE "C" NOT NULL);
    CREATE TABLE grids (
        id TEXT COLLATE "C" PRIMARY KEY,
        station_id TEXT COLLATE "C" NOT NULL REFERENCES stations(id),
        name TEXT COLLATE "C" NOT NULL
    );
    CREATE TABLE users (
        id TEXT COLLATE "C" PRIMARY KEY,
        badge TEXT COLLATE "C" NOT NULL UNIQUE,
        name TEXT COLLATE "C" NOT NULL,
        role TEXT COLLATE "C" NOT NULL,
        station_id TEXT COLLATE "C" NOT NULL REFERENCES stations(id),
        password_hash TEXT COLLATE "C" NOT NULL,
        disabled BOOLEAN NOT NULL DEFAULT FALSE
    );
    CREATE TABLE user_grids (
        user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id),
        grid_id TEXT COLLATE "C" NOT NULL REFERENCES grids(id),
        PRIMARY KEY (user_id, grid_id)
    );
    CREATE TABLE devices (
        id TEXT COLLATE "C" PRIMARY KEY,
        user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id),
        name TEXT COLLATE "C" NOT NULL,
        token_hash BYTEA UNIQUE,
        issued_at TEXT COLLATE "C" NOT NULL,
        enrolled_at TEXT COLLATE "C" NOT NULL,
        last_seen_at TEXT COLLATE "C",
        revoked_at TEXT COLLATE "C"
    );
    CREATE TABLE forms (
        form_id TEXT COLLATE "C" NOT NULL,
        version BIGINT NOT NULL,
        definition TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (form_id, version)
    );
    -- Every committed change gets a cursor; a pull reads the log in cursor order.
    -- `item` is the PullItem JSON exactly as sent to devices.
    CREATE TABLE changelog (
        cursor BIGINT PRIMARY KEY,
        grid_id TEXT COLLATE "C",
        item TEXT COLLATE "C" NOT NULL
    );
    CREATE INDEX changelog_grid ON changelog (grid_id, cursor);
    -- The last cursor handed out. A writer takes its cursors from this row as
    -- its transaction's last step; the row lock, held until commit, makes
    -- cursors visible in cursor order.
    CREATE TABLE log_head (
        id BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
        cursor BIGINT NOT NULL
    );
    INSERT INTO log_head (id, cursor) VALUES (TRUE, 0);
    CREATE TABLE records (
        id TEXT COLLATE "C" PRIMARY KEY,
        form_id TEXT COLLATE "C" NOT NULL,
        grid_id TEXT COLLATE "C" NOT NULL,
        revision BIGINT NOT NULL,
        deleted BOOLEAN NOT NULL,
        state JSONB NOT NULL
    );
    CREATE INDEX records_form ON records (form_id, deleted);
    -- Every version of every record (the audit trail), pointing at its log item.
    CREATE TABLE record_versions (
        record_id TEXT COLLATE "C" NOT NULL,
        revision BIGINT NOT NULL,
        cursor BIGINT NOT NULL UNIQUE REFERENCES changelog(cursor),
        change_id TEXT COLLATE "C",
        batch_id TEXT COLLATE "C",
        PRIMARY KEY (record_id, revision)
    );
    -- Exactly-once: one row per change ever processed, with the answer given.
    CREATE TABLE changes (
        change_id TEXT COLLATE "C" PRIMARY KEY,
        batch_id TEXT COLLATE "C" NOT NULL,
        record_id TEXT COLLATE "C" NOT NULL,
        device_id TEXT COLLATE "C" NOT NULL,
        outcome TEXT COLLATE "C" NOT NULL,
        received_at TEXT COLLATE "C" NOT NULL
    );
    CREATE INDEX changes_batch ON changes (batch_id);
    CREATE TABLE batches (
        id TEXT COLLATE "C" PRIMARY KEY,
        device_id TEXT COLLATE "C" NOT NULL,
        user_id TEXT COLLATE "C" NOT NULL,
        received_at TEXT COLLATE "C" NOT NULL,
        stored BIGINT NOT NULL DEFAULT 0,
        rejected BIGINT NOT NULL DEFAULT 0,
        conflicts BIGINT NOT NULL DEFAULT 0
    );
    CREATE INDEX batches_received ON batches (received_at);
    CREATE TABLE conflicts (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        record_id TEXT COLLATE "C" NOT NULL,
        revision BIGINT NOT NULL,
        change_id TEXT COLLATE "C" NOT NULL,
        detail TEXT COLLATE "C" NOT NULL
    );
    CREATE INDEX conflicts_record ON conflicts (record_id);
    CREATE TABLE blobs (
        sha256 TEXT COLLATE "C" PRIMARY KEY,
        size BIGINT NOT NULL,
        content_type TEXT COLLATE "C" NOT NULL,
        stored_at TEXT COLLATE "C" NOT NULL
    );
    CREATE TABLE record_blobs (
        sha256 TEXT COLLATE "C" NOT NULL,
        record_id TEXT COLLATE "C" NOT NULL,
        grid_id TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (sha256, record_id)
    );
    "#,
    // 2: the review pages: web sessions, the audit log, and indexes to list
    // a batch's records and a station's records.
    r#"
    CREATE TABLE web_sessions (
        id_hash BYTEA PRIMARY KEY,
        user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id),
        created_at TEXT COLLATE "C" NOT NULL,
        expires_at TEXT COLLATE "C" NOT NULL,
        last_seen_at TEXT COLLATE "C" NOT NULL
    );
    CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
    CREATE TABLE audit_log (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        at TEXT COLLATE "C" NOT NULL,
        user_id TEXT COLLATE "C" NOT NULL,
        badge TEXT COLLATE "C" NOT NULL,
        name TEXT COLLATE "C" NOT NULL,
        station_id TEXT COLLATE "C" NOT NULL,
        action TEXT COLLATE "C" NOT NULL,
        target TEXT COLLATE "C" NOT NULL,
        detail TEXT COLLATE "C" NOT NULL
    );
    CREATE INDEX audit_station ON audit_log (station_id, id);
    CREATE INDEX record_versions_batch ON record_versions (batch_id);
    CREATE INDEX records_grid_form ON records (grid_id, form_id);
    "#,
    // 3: attachments in scope (SQLite's migration 3): `record_blobs` follows
    // each record's current version, `blob_history` keeps every attachment
    // any version carried, `blob_uploads` says which device uploaded which
    // blob. SQLite's rebuild of `record_blobs` from older data has nothing to
    // do here: no PostgreSQL database ever stood at version 2 with records.
    r#"
    CREATE TABLE blob_history (
        sha256 TEXT COLLATE "C" NOT NULL,
        record_id TEXT COLLATE "C" NOT NULL,
        grid_id TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (sha256, record_id, grid_id)
    );
    CREATE INDEX record_blobs_record ON record_blobs (record_id);
    CREATE TABLE blob_uploads (
        sha256 TEXT COLLATE "C" NOT NULL,
        device_id TEXT COLLATE "C" NOT NULL,
        uploaded_at TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (sha256, device_id)
    );
    CREATE INDEX blob_uploads_device ON blob_uploads (device_id);
    "#,
    // 4: failed sign-ins (SQLite's migration 4), shared by every instance.
    // `key` is a hash (never a badge); a row lives for one window from
    // `window_start_ms` (Unix milliseconds).
    r#"
    CREATE TABLE signin_failures (
        key BYTEA PRIMARY KEY,
        failures BIGINT NOT NULL,
        window_start_ms BIGINT NOT NULL
    );
    CREATE INDEX signin_failures_window ON signin_failures (window_start_ms);
    "#,
    // 5: enrollment codes (SQLite's migration 5), stored as a hash.
    r#"
    CREATE TABLE enrollment_codes (
        code_hash BYTEA PRIMARY KEY,
        user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id),
        created_by TEXT COLLATE "C" NOT NULL REFERENCES users(id),
        created_at TEXT COLLATE "C" NOT NULL,
        expires_at TEXT COLLATE "C" NOT NULL,
        used_at TEXT COLLATE "C",
        used_by_device TEXT COLLATE "C"
    );
    CREATE INDEX enrollment_codes_expires ON enrollment_codes (expires_at);
    "#,
    // 6: duplicate people (SQLite's migration 6): each live person record's
    // ID number, the count of records per number (its row lock serializes
    // writers of one number, so two instances indexing it at once count
    // both), and the pairs marked distinct.
    r#"
    CREATE TABLE person_ids (
        record_id TEXT COLLATE "C" PRIMARY KEY,
        id_number TEXT COLLATE "C" NOT NULL,
        grid_id TEXT COLLATE "C" NOT NULL
    );
    CREATE INDEX person_ids_number ON person_ids (id_number);
    INSERT INTO person_ids (record_id, id_number, grid_id)
        SELECT id, upper(btrim(state->'fields'->'id_number'->>'value')), grid_id
        FROM records
        WHERE form_id = 'person' AND NOT deleted
          AND jsonb_typeof(state->'fields'->'id_number'->'value') = 'string'
          AND btrim(state->'fields'->'id_number'->>'value') <> '';
    CREATE TABLE person_id_counts (
        id_number TEXT COLLATE "C" PRIMARY KEY,
        records BIGINT NOT NULL
    );
    INSERT INTO person_id_counts (id_number, records)
        SELECT id_number, COUNT(*) FROM person_ids GROUP BY id_number;
    CREATE INDEX person_id_counts_held_twice ON person_id_counts (id_number) WHERE records > 1;
    CREATE TABLE duplicate_distinct (
        record_a TEXT COLLATE "C" NOT NULL,
        record_b TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (record_a, record_b)
    );
    "#,
    // 7: the change log holds each record's current version only (SQLite's
    // migration 7): a superseded version's item moves into
    // `record_versions.item`, which also keeps a copy of every version that
    // resolved hard conflicts (such a version stays in the log). `item IS
    // NULL`: the version lives in the log alone. The foreign key from
    // `record_versions` to the log goes: the log now forgets items.
    r#"
    ALTER TABLE record_versions DROP CONSTRAINT record_versions_cursor_fkey;
    ALTER TABLE record_versions ADD COLUMN item TEXT COLLATE "C";
    UPDATE record_versions v SET item = l.item FROM changelog l
        WHERE l.cursor = v.cursor
          AND (v.revision < (SELECT MAX(w.revision) FROM record_versions w
                             WHERE w.record_id = v.record_id)
               OR (l.item::jsonb -> 'version' -> 'conflicts') IS NOT NULL);
    CREATE INDEX record_versions_in_log ON record_versions (record_id) WHERE item IS NULL;
    DELETE FROM changelog l USING record_versions v
        WHERE v.cursor = l.cursor AND v.item IS NOT NULL
          AND (v.item::jsonb -> 'version' -> 'conflicts') IS NULL;
    "#,
    // 8: a record's state may write each clock once (`clocks`, and `at` in
    // each field: store/src/state.rs), which a server that knows 7
    // migrations cannot read. No table changes: the number is the point
    // (PostgreSQL refuses a server older than its schema, and migrate-to
    // copies only between equal versions).
    r#"
    -- records.state: clocks written once (no table changes)
    "#,
    // 9: a record version's item is written once, into its version row; its
    // log row points at it by cursor (`item` NULL) and is deleted when the
    // version is superseded (SQLite's migration 9). A version that resolved
    // hard conflicts keeps a copy in its log row, which stays.
    r#"
    ALTER TABLE changelog ALTER COLUMN item DROP NOT NULL;
    WITH moved AS (
        UPDATE record_versions v SET item = l.item FROM changelog l
        WHERE v.item IS NULL AND l.cursor = v.cursor
        RETURNING v.cursor
    )
    UPDATE changelog SET item = NULL WHERE cursor IN (SELECT cursor FROM moved);
    DROP INDEX record_versions_in_log;
    "#,
];

/// The advisory lock key (two-int form, a key space apart from the record
/// locks' one-bigint form) that serializes migrations between instances.
const MIGRATION_LOCK: (i32, i32) = (0x6262_6b00, 1);

/// Brings the database to the latest schema. Instances starting at once
/// take turns on an advisory lock; each applies what the previous left to do
/// (usually nothing). All pending migrations commit together.
pub(crate) async fn migrate(client: &mut Client) -> Result<usize, Error> {
    let tx = client.transaction().await?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, $2)",
        &[&MIGRATION_LOCK.0, &MIGRATION_LOCK.1],
    )
    .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
             id BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
             version BIGINT NOT NULL
         );
         INSERT INTO schema_version (id, version) VALUES (TRUE, 0) ON CONFLICT (id) DO NOTHING;",
    )
    .await?;
    let applied: i64 = tx
        .query_one("SELECT version FROM schema_version", &[])
        .await?
        .get(0);
    let applied = usize::try_from(applied).unwrap_or(usize::MAX);
    if applied > MIGRATIONS.len() {
        return Err(Error::Store(StoreError::newer_schema(
            applied,
            MIGRATIONS.len(),
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.batch_execute(sql).await?;
        tx.execute("UPDATE schema_version SET version = $1", &[&(i as i64 + 1)])
            .await?;
    }
    tx.commit().await?;
    Ok(MIGRATIONS.len())
}

#[cfg(test)]
mod tests {
    use beatbook_store::conformance::migration::{
        check_after_7, check_after_9, item, FORM_ITEM, LOGGED_AFTER_7, VERSIONS,
    };

    use super::MIGRATIONS;
    use crate::testing;

    /// A fresh database at schema 6 whose log holds every version of
    /// [`VERSIONS`] and a form item (cursor 5).
    async fn logged_at_6() -> tokio_postgres::Client {
        let url = testing::fresh_database().await;
        let (c, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(connection);
        for sql in &MIGRATIONS[..6] {
            c.batch_execute(sql).await.expect("migrations 1 to 6");
        }
        c.execute(
            "INSERT INTO changelog (cursor, grid_id, item) VALUES (5, NULL, $1)",
            &[&FORM_ITEM],
        )
        .await
        .expect("a form item");
        for (cursor, record, revision, conflicts) in VERSIONS {
            c.execute(
                "INSERT INTO changelog (cursor, grid_id, item) VALUES ($1, 'G1', $2)",
                &[&cursor, &item(cursor, record, revision, conflicts)],
            )
            .await
            .expect("log item");
            c.execute(
                "INSERT INTO record_versions (record_id, revision, cursor) VALUES ($1, $2, $3)",
                &[&record, &revision, &cursor],
            )
            .await
            .expect("version");
        }
        c
    }

    async fn logged(c: &tokio_postgres::Client) -> Vec<i64> {
        c.query("SELECT cursor FROM changelog ORDER BY cursor", &[])
            .await
            .expect("log")
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    #[tokio::test]
    async fn migration_7_leaves_current_and_conflict_versions_in_the_log_and_keeps_every_item() {
        let c = logged_at_6().await;
        c.batch_execute(MIGRATIONS[6]).await.expect("migration 7");

        assert_eq!(logged(&c).await, LOGGED_AFTER_7);
        for (cursor, ..) in VERSIONS {
            let row = c
                .query_one(
                    "SELECT v.item, COALESCE(v.item, l.item) FROM record_versions v
                     LEFT JOIN changelog l ON l.cursor = v.cursor WHERE v.cursor = $1",
                    &[&cursor],
                )
                .await
                .expect("version row");
            check_after_7(cursor, row.get(0), row.get(1));
        }
    }

    #[tokio::test]
    async fn migration_9_writes_every_item_once_into_its_version_row() {
        let c = logged_at_6().await;
        for sql in &MIGRATIONS[6..9] {
            c.batch_execute(sql).await.expect("migrations 7 to 9");
        }

        assert_eq!(logged(&c).await, LOGGED_AFTER_7);
        for (cursor, ..) in VERSIONS {
            let row = c
                .query_one(
                    "SELECT v.item, l.item, COALESCE(l.item, v.item) FROM record_versions v
                     LEFT JOIN changelog l ON l.cursor = v.cursor WHERE v.cursor = $1",
                    &[&cursor],
                )
                .await
                .expect("version row");
            check_after_9(cursor, row.get(0), row.get(1), row.get(2));
        }
        let form: Option<String> = c
            .query_one("SELECT item FROM changelog WHERE cursor = 5", &[])
            .await
            .expect("the form item")
            .get(0);
        assert_eq!(form.as_deref(), Some(FORM_ITEM));
    }
}
