//! Append-only, numbered schema migrations. A released migration is never
//! edited: changes come as a new entry at the end. `PRAGMA user_version`
//! records how many have been applied.

/// The migrations, in order. Entry `i` brings the schema to version `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: organisation, devices, forms, the change log, records, batches, blobs.
    r#"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE stations (id TEXT PRIMARY KEY, name TEXT NOT NULL);
    CREATE TABLE grids (
        id TEXT PRIMARY KEY,
        station_id TEXT NOT NULL REFERENCES stations(id),
        name TEXT NOT NULL
    );
    CREATE TABLE users (
        id TEXT PRIMARY KEY,
        badge TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        station_id TEXT NOT NULL REFERENCES stations(id),
        password_hash TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE user_grids (
        user_id TEXT NOT NULL REFERENCES users(id),
        grid_id TEXT NOT NULL REFERENCES grids(id),
        PRIMARY KEY (user_id, grid_id)
    );
    CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id),
        name TEXT NOT NULL,
        token_hash BLOB UNIQUE,
        issued_at TEXT NOT NULL,
        enrolled_at TEXT NOT NULL,
        last_seen_at TEXT,
        revoked_at TEXT
    );
    CREATE TABLE forms (
        form_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        definition TEXT NOT NULL,
        PRIMARY KEY (form_id, version)
    );
    -- Every committed change gets a cursor; a pull reads the log in cursor order.
    -- `item` is the PullItem JSON exactly as sent to devices.
    CREATE TABLE changelog (
        cursor INTEGER PRIMARY KEY AUTOINCREMENT,
        grid_id TEXT,
        item TEXT NOT NULL
    );
    CREATE INDEX changelog_grid ON changelog (grid_id, cursor);
    CREATE TABLE records (
        id TEXT PRIMARY KEY,
        form_id TEXT NOT NULL,
        grid_id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        deleted INTEGER NOT NULL,
        state TEXT NOT NULL
    );
    CREATE INDEX records_form ON records (form_id, deleted);
    -- Every version of every record (the audit trail), pointing at its log item.
    CREATE TABLE record_versions (
        record_id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        cursor INTEGER NOT NULL UNIQUE REFERENCES changelog(cursor),
        change_id TEXT,
        batch_id TEXT,
        PRIMARY KEY (record_id, revision)
    );
    -- Exactly-once: one row per change ever processed, with the answer given.
    CREATE TABLE changes (
        change_id TEXT PRIMARY KEY,
        batch_id TEXT NOT NULL,
        record_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        outcome TEXT NOT NULL,
        received_at TEXT NOT NULL
    );
    CREATE INDEX changes_batch ON changes (batch_id);
    CREATE TABLE batches (
        id TEXT PRIMARY KEY,
        device_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        received_at TEXT NOT NULL,
        stored INTEGER NOT NULL DEFAULT 0,
        rejected INTEGER NOT NULL DEFAULT 0,
        conflicts INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX batches_received ON batches (received_at);
    CREATE TABLE conflicts (
        id INTEGER PRIMARY KEY,
        record_id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        change_id TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE INDEX conflicts_record ON conflicts (record_id);
    CREATE TABLE blobs (
        sha256 TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        content_type TEXT NOT NULL,
        stored_at TEXT NOT NULL
    );
    CREATE TABLE record_blobs (
        sha256 TEXT NOT NULL,
        record_id TEXT NOT NULL,
        grid_id TEXT NOT NULL,
        PRIMARY KEY (sha256, record_id)
    );
    "#,
    // 2: the review pages: web sessions, the audit log, and indexes to list
    // a batch's records and a station's records.
    r#"
    CREATE TABLE web_sessions (
        id_hash BLOB PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id),
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL
    );
    CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        user_id TEXT NOT NULL,
        badge TEXT NOT NULL,
        name TEXT NOT NULL,
        station_id TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE INDEX audit_station ON audit_log (station_id, id);
    CREATE INDEX record_versions_batch ON record_versions (batch_id);
    CREATE INDEX records_grid_form ON records (grid_id, form_id);
    "#,
    // 3: attachments in scope. `record_blobs` now follows each record's
    // current version (rebuilt here: no deleted records, no attachments a
    // later version dropped, the record's current grid); `blob_history`
    // keeps every attachment any version carried (the review pages show
    // history, and such blobs are never collected); `blob_uploads` says
    // which device uploaded which blob, so a push may attach only what its
    // device uploaded or can already read.
    r#"
    CREATE TABLE blob_history (
        sha256 TEXT NOT NULL,
        record_id TEXT NOT NULL,
        grid_id TEXT NOT NULL,
        PRIMARY KEY (sha256, record_id, grid_id)
    );
    INSERT OR IGNORE INTO blob_history (sha256, record_id, grid_id)
        SELECT sha256, record_id, grid_id FROM record_blobs;
    INSERT OR IGNORE INTO blob_history (sha256, record_id, grid_id)
        SELECT json_extract(a.value, '$.sha256'), r.id, r.grid_id
        FROM records r, json_each(r.state, '$.attachments') a;
    DELETE FROM record_blobs;
    INSERT OR IGNORE INTO record_blobs (sha256, record_id, grid_id)
        SELECT json_extract(a.value, '$.sha256'), r.id, r.grid_id
        FROM records r, json_each(r.state, '$.attachments') a
        WHERE r.deleted = 0;
    CREATE INDEX record_blobs_record ON record_blobs (record_id);
    CREATE TABLE blob_uploads (
        sha256 TEXT NOT NULL,
        device_id TEXT NOT NULL,
        uploaded_at TEXT NOT NULL,
        PRIMARY KEY (sha256, device_id)
    );
    CREATE INDEX blob_uploads_device ON blob_uploads (device_id);
    "#,
    // 4: failed sign-ins, counted here so every server instance on this
    // database holds the same limits. `key` is a hash (never a badge);
    // a row lives for one window from `window_start_ms` (Unix milliseconds).
    r#"
    CREATE TABLE signin_failures (
        key BLOB PRIMARY KEY,
        failures INTEGER NOT NULL,
        window_start_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX signin_failures_window ON signin_failures (window_start_ms);
    "#,
    // 5: enrollment codes, stored as a hash (never the code); times as
    // `stored_time` (fixed width, so text order is time order).
    r#"
    CREATE TABLE enrollment_codes (
        code_hash BLOB PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id),
        created_by TEXT NOT NULL REFERENCES users(id),
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_at TEXT,
        used_by_device TEXT
    ) WITHOUT ROWID;
    CREATE INDEX enrollment_codes_expires ON enrollment_codes (expires_at);
    "#,
    // 6: duplicate people. `person_ids` holds each live person record's ID
    // number (as `beatbook_store::person_id_number` writes it) and grid,
    // `person_id_counts` how many records hold each number, both kept by the
    // transaction that writes a version; `duplicate_distinct` the pairs a
    // supervisor judged to be two people (`record_a` < `record_b`).
    r#"
    CREATE TABLE person_ids (
        record_id TEXT PRIMARY KEY,
        id_number TEXT NOT NULL,
        grid_id TEXT NOT NULL
    );
    CREATE INDEX person_ids_number ON person_ids (id_number);
    INSERT INTO person_ids (record_id, id_number, grid_id)
        SELECT id, upper(trim(json_extract(state, '$.fields.id_number.value'))), grid_id
        FROM records
        WHERE form_id = 'person' AND deleted = 0
          AND json_type(state, '$.fields.id_number.value') = 'text'
          AND trim(json_extract(state, '$.fields.id_number.value')) <> '';
    CREATE TABLE person_id_counts (
        id_number TEXT PRIMARY KEY,
        records INTEGER NOT NULL
    );
    INSERT INTO person_id_counts (id_number, records)
        SELECT id_number, COUNT(*) FROM person_ids GROUP BY id_number;
    CREATE INDEX person_id_counts_held_twice ON person_id_counts (id_number) WHERE records > 1;
    CREATE TABLE duplicate_distinct (
        record_a TEXT NOT NULL,
        record_b TEXT NOT NULL,
        PRIMARY KEY (record_a, record_b)
    );
    "#,
    // 7: the change log holds each record's current version only (a fresh
    // device pulls current versions, not history). A superseded version's
    // item moves into `record_versions.item`, which also holds a copy of
    // every version that resolved hard conflicts: such a version stays in
    // the log (the device whose value lost learns of it from there).
    // `item IS NULL`: the version lives in the log alone, and leaves it when
    // superseded (`record_versions_in_log` finds it). `record_versions` is
    // rebuilt without its foreign key to the log, which now forgets items.
    r#"
    CREATE TABLE record_versions_7 (
        record_id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        cursor INTEGER NOT NULL UNIQUE,
        change_id TEXT,
        batch_id TEXT,
        item TEXT,
        PRIMARY KEY (record_id, revision)
    );
    INSERT INTO record_versions_7 (record_id, revision, cursor, change_id, batch_id, item)
        SELECT v.record_id, v.revision, v.cursor, v.change_id, v.batch_id,
               CASE WHEN v.revision < (SELECT MAX(w.revision) FROM record_versions w
                                       WHERE w.record_id = v.record_id)
                      OR json_extract(l.item, '$.version.conflicts') IS NOT NULL
                    THEN l.item END
        FROM record_versions v LEFT JOIN changelog l ON l.cursor = v.cursor;
    DROP TABLE record_versions;
    ALTER TABLE record_versions_7 RENAME TO record_versions;
    CREATE INDEX record_versions_batch ON record_versions (batch_id);
    CREATE INDEX record_versions_in_log ON record_versions (record_id) WHERE item IS NULL;
    DELETE FROM changelog WHERE cursor IN (
        SELECT cursor FROM record_versions
        WHERE item IS NOT NULL AND json_extract(item, '$.version.conflicts') IS NULL);
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
    // log row points at it by cursor (`item` NULL), so that superseding a
    // version deletes a small log row instead of moving the item out of the
    // log. A version that resolved hard conflicts keeps a copy in its log
    // row, which superseding leaves alone. Both tables are rebuilt: the
    // log's `item` may now be NULL (its AUTOINCREMENT sequence carried
    // over), and a version row is keyed by its cursor, so that a pull reads
    // a version by the log row's cursor in one lookup.
    r#"
    CREATE TEMP TABLE changelog_seq_9 AS
        SELECT seq FROM sqlite_sequence WHERE name = 'changelog';
    CREATE TABLE changelog_9 (
        cursor INTEGER PRIMARY KEY AUTOINCREMENT,
        grid_id TEXT,
        item TEXT
    );
    INSERT INTO changelog_9 (cursor, grid_id, item)
        SELECT l.cursor, l.grid_id,
               CASE WHEN EXISTS (SELECT 1 FROM record_versions v
                                 WHERE v.cursor = l.cursor AND v.item IS NULL)
                    THEN NULL ELSE l.item END
        FROM changelog l;
    CREATE TABLE record_versions_9 (
        record_id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        cursor INTEGER PRIMARY KEY,
        change_id TEXT,
        batch_id TEXT,
        item TEXT,
        UNIQUE (record_id, revision)
    );
    INSERT INTO record_versions_9 (record_id, revision, cursor, change_id, batch_id, item)
        SELECT v.record_id, v.revision, v.cursor, v.change_id, v.batch_id,
               COALESCE(v.item, (SELECT l.item FROM changelog l WHERE l.cursor = v.cursor))
        FROM record_versions v;
    DROP TABLE record_versions;
    DROP TABLE changelog;
    ALTER TABLE changelog_9 RENAME TO changelog;
    ALTER TABLE record_versions_9 RENAME TO record_versions;
    CREATE INDEX changelog_grid ON changelog (grid_id, cursor);
    CREATE INDEX record_versions_batch ON record_versions (batch_id);
    UPDATE sqlite_sequence SET seq = MAX(seq, (SELECT seq FROM temp.changelog_seq_9))
        WHERE name = 'changelog' AND EXISTS (SELECT 1 FROM temp.changelog_seq_9);
    INSERT INTO sqlite_sequence (name, seq)
        SELECT 'changelog', seq FROM temp.changelog_seq_9
        WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'changelog');
    DROP TABLE temp.changelog_seq_9;
    "#,
];

#[cfg(test)]
mod tests {
    use beatbook_store::conformance::migration::{
        check_after_7, check_after_9, item, FORM_ITEM, LOGGED_AFTER_7, VERSIONS,
    };
    use rusqlite::Connection;

    use super::MIGRATIONS;

    fn rows(c: &Connection, sql: &str) -> Vec<(String, String, String)> {
        let mut stmt = c.prepare(sql).expect("query");
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("rows");
        rows.collect::<Result<_, _>>().expect("rows")
    }

    #[test]
    fn a_database_from_a_newer_server_is_refused_and_left_as_it_was() {
        let dir = tempfile::tempdir().expect("directory");
        let path = dir.path().join("beatbook.db");
        drop(crate::SqliteStore::open(&path).expect("a new database"));
        let newer = MIGRATIONS.len() + 1;
        let c = Connection::open(&path).expect("database");
        c.pragma_update(None, "user_version", newer)
            .expect("version");
        drop(c);
        let refused = crate::SqliteStore::open(&path).err().expect("refused");
        assert!(
            refused.to_string().contains(&format!(
                "schema version {newer}, newer than this server knows"
            )),
            "{refused}"
        );
        let c = Connection::open(&path).expect("database");
        let version: usize = c
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
        assert_eq!(version, newer);
    }

    #[test]
    fn migration_3_keeps_only_current_attachments_in_scope_and_all_in_history() {
        let c = Connection::open_in_memory().expect("database");
        for sql in &MIGRATIONS[..2] {
            c.execute_batch(sql).expect("migrations 1 and 2");
        }
        let (a, b, d) = ("a".repeat(64), "b".repeat(64), "d".repeat(64));
        // r1 moved from G1 to G2 and dropped photo b; r2 was deleted.
        let insert = "INSERT INTO records (id, form_id, grid_id, revision, deleted, state)
                      VALUES (?1, 'house', ?2, 2, ?3, ?4)";
        let state = |sha: &str| format!(r#"{{"attachments": [{{"sha256": "{sha}"}}]}}"#);
        c.execute(insert, ("r1", "G2", false, state(&a)))
            .expect("r1");
        c.execute(insert, ("r2", "G1", true, state(&d)))
            .expect("r2");
        for (sha, record) in [(&a, "r1"), (&b, "r1"), (&d, "r2")] {
            c.execute(
                "INSERT INTO record_blobs (sha256, record_id, grid_id) VALUES (?1, ?2, 'G1')",
                (sha, record),
            )
            .expect("scope row");
        }
        c.execute_batch(MIGRATIONS[2]).expect("migration 3");

        let scope = rows(&c, "SELECT sha256, record_id, grid_id FROM record_blobs");
        assert_eq!(scope, vec![(a.clone(), "r1".into(), "G2".into())]);
        let history = rows(
            &c,
            "SELECT sha256, record_id, grid_id FROM blob_history ORDER BY 1, 3",
        );
        assert_eq!(
            history,
            vec![
                (a.clone(), "r1".into(), "G1".into()),
                (a, "r1".into(), "G2".into()),
                (b, "r1".into(), "G1".into()),
                (d, "r2".into(), "G1".into()),
            ]
        );
    }

    /// A database at schema 6 whose log holds every version of [`VERSIONS`]
    /// and a form item (cursor 5).
    fn logged_at_6() -> Connection {
        let c = Connection::open_in_memory().expect("database");
        c.pragma_update(None, "foreign_keys", "ON").expect("pragma");
        for sql in &MIGRATIONS[..6] {
            c.execute_batch(sql).expect("migrations 1 to 6");
        }
        c.execute(
            "INSERT INTO changelog (cursor, grid_id, item) VALUES (5, NULL, ?1)",
            [FORM_ITEM],
        )
        .expect("a form item");
        for (cursor, record, revision, conflicts) in VERSIONS {
            c.execute(
                "INSERT INTO changelog (cursor, grid_id, item) VALUES (?1, 'G1', ?2)",
                (cursor, item(cursor, record, revision, conflicts)),
            )
            .expect("log item");
            c.execute(
                "INSERT INTO record_versions (record_id, revision, cursor) VALUES (?1, ?2, ?3)",
                (record, revision, cursor),
            )
            .expect("version");
        }
        c
    }

    fn logged(c: &Connection) -> Vec<i64> {
        c.prepare("SELECT cursor FROM changelog ORDER BY cursor")
            .expect("query")
            .query_map([], |r| r.get(0))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    #[test]
    fn migration_7_leaves_current_and_conflict_versions_in_the_log_and_keeps_every_item() {
        let c = logged_at_6();
        c.execute_batch(MIGRATIONS[6]).expect("migration 7");

        assert_eq!(logged(&c), LOGGED_AFTER_7);
        for (cursor, ..) in VERSIONS {
            let (kept, history): (Option<String>, Option<String>) = c
                .query_row(
                    "SELECT v.item, COALESCE(v.item, l.item) FROM record_versions v
                     LEFT JOIN changelog l ON l.cursor = v.cursor WHERE v.cursor = ?1",
                    [cursor],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .expect("version row");
            check_after_7(cursor, kept.as_deref(), history.as_deref());
        }
        let (seq, max): (i64, i64) = c
            .query_row(
                "SELECT (SELECT seq FROM sqlite_sequence WHERE name = 'changelog'),
                        (SELECT MAX(cursor) FROM record_versions)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("sequence");
        assert!(seq >= max, "cursors are never handed out again");
    }

    #[test]
    fn migration_9_writes_every_item_once_into_its_version_row() {
        let c = logged_at_6();
        for sql in &MIGRATIONS[6..8] {
            c.execute_batch(sql).expect("migrations 7 and 8");
        }
        // Cursors 6 and 7 were handed out and compacted away.
        c.execute_batch(
            "INSERT INTO changelog (cursor, grid_id, item) VALUES (7, 'G1', '{}');
             DELETE FROM changelog WHERE cursor = 7;",
        )
        .expect("a compacted cursor");
        c.execute_batch(MIGRATIONS[8]).expect("migration 9");

        assert_eq!(logged(&c), LOGGED_AFTER_7);
        for (cursor, ..) in VERSIONS {
            let (kept, in_log, pulled): (Option<String>, Option<String>, Option<String>) = c
                .query_row(
                    "SELECT v.item, l.item, COALESCE(l.item, v.item) FROM record_versions v
                     LEFT JOIN changelog l ON l.cursor = v.cursor WHERE v.cursor = ?1",
                    [cursor],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .expect("version row");
            check_after_9(
                cursor,
                kept.as_deref(),
                in_log.as_deref(),
                pulled.as_deref(),
            );
        }
        let form: Option<String> = c
            .query_row("SELECT item FROM changelog WHERE cursor = 5", [], |r| {
                r.get(0)
            })
            .expect("the form item");
        assert_eq!(form.as_deref(), Some(FORM_ITEM));
        let seq: i64 = c
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'changelog'",
                [],
                |r| r.get(0),
            )
            .expect("sequence");
        assert_eq!(seq, 7, "cursors are never handed out again");
        c.execute(
            "INSERT INTO changelog (grid_id, item) VALUES ('G1', NULL)",
            [],
        )
        .expect("a row pointing at its version");
        assert_eq!(c.last_insert_rowid(), 8);
    }
}
