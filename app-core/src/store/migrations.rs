//! Append-only, numbered migrations of the device database.

/// Entry `i` brings the schema to version `i + 1` (`PRAGMA user_version`).
pub const MIGRATIONS: &[&str] = &[
    // 1: forms, records with their local state, the outbox, attachments.
    r#"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE forms (
        form_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        definition TEXT NOT NULL,
        PRIMARY KEY (form_id, version)
    );
    CREATE TABLE records (
        id TEXT PRIMARY KEY,
        form_id TEXT NOT NULL,
        form_version INTEGER NOT NULL,
        grid TEXT NOT NULL,
        author TEXT NOT NULL,
        device TEXT NOT NULL,
        state TEXT NOT NULL,
        vals TEXT NOT NULL,
        attachments TEXT NOT NULL DEFAULT '[]',
        -- The server revision local edits are based on, and its values:
        -- a change carries only what the officer changed since then. ''
        -- means the same as vals (migration 5): a synced record's values are
        -- stored once, not twice.
        base_revision INTEGER NOT NULL DEFAULT 0,
        base_vals TEXT NOT NULL DEFAULT '{}',
        -- A pulled version held back while local edits are pending.
        held TEXT,
        review TEXT,
        problem TEXT,
        conflicted INTEGER NOT NULL DEFAULT 0,
        deleted INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX records_form ON records (form_id, updated_at);
    CREATE INDEX records_state ON records (state);
    -- Changes waiting for the server's acknowledgement. A row leaves only
    -- when the server has acknowledged its change.
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        change_id TEXT NOT NULL UNIQUE,
        record_id TEXT NOT NULL,
        change TEXT NOT NULL,
        batch_id TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX outbox_record ON outbox (record_id);
    CREATE TABLE attachments (
        sha256 TEXT PRIMARY KEY,
        content_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        uploaded INTEGER NOT NULL DEFAULT 0
    );
    "#,
    // 2: indexes for what grows with the records: the previous record of a
    // form (carry-forward, on every new record) and a batch's outbox rows.
    r#"
    CREATE INDEX records_form_created ON records (form_id, created_at, id);
    CREATE INDEX outbox_batch ON outbox (batch_id);
    "#,
    // 3: the ids of records written since the in-memory pick-list index last
    // looked (every write path, pulls included, is caught by the triggers),
    // and the order the record lists page in. The triggers test for the id
    // rather than INSERT OR IGNORE: a statement's own conflict policy (the
    // pull's upsert) overrides the one of a statement in a trigger.
    r#"
    CREATE TABLE records_changed (id TEXT PRIMARY KEY) WITHOUT ROWID;
    CREATE TRIGGER records_changed_insert AFTER INSERT ON records
        WHEN NOT EXISTS (SELECT 1 FROM records_changed WHERE id = NEW.id)
        BEGIN INSERT INTO records_changed (id) VALUES (NEW.id); END;
    CREATE TRIGGER records_changed_update AFTER UPDATE ON records
        WHEN NOT EXISTS (SELECT 1 FROM records_changed WHERE id = NEW.id)
        BEGIN INSERT INTO records_changed (id) VALUES (NEW.id); END;
    CREATE TRIGGER records_changed_delete AFTER DELETE ON records
        WHEN NOT EXISTS (SELECT 1 FROM records_changed WHERE id = OLD.id)
        BEGIN INSERT INTO records_changed (id) VALUES (OLD.id); END;
    -- Lists page through this (newest first) without sorting the table:
    -- it holds every column a list filters on.
    CREATE INDEX records_recent ON records (updated_at, id, state, deleted, form_id, author);
    -- The houses at an address, the residents of a house, without reading
    -- every record of the form.
    CREATE INDEX records_address ON records (form_id, json_extract(vals, '$.address'));
    CREATE INDEX records_house ON records (form_id, json_extract(vals, '$.house'));
    "#,
    // 4: the officer's values that lost a same-field conflict, until
    // re-applied or dismissed (store::lost). `lost_write` is the losing
    // write's clock (JSON): one row per loss, however often it is reported.
    r#"
    CREATE TABLE lost_values (
        record_id TEXT NOT NULL,
        field TEXT NOT NULL,
        lost_write TEXT NOT NULL,
        mine TEXT NOT NULL,
        winning TEXT NOT NULL,
        winner_name TEXT,
        winner_device TEXT NOT NULL,
        PRIMARY KEY (record_id, field, lost_write)
    );
    "#,
    // 5: a base equal to the values is stored as '' (see `base_vals!`).
    r#"
    UPDATE records SET base_vals = '' WHERE base_vals = vals;
    "#,
    // 6: only the columns the pick-list index reads count as a change: an
    // acknowledgement (state, base) no longer marks every pushed record for
    // the index to read again.
    r#"
    DROP TRIGGER records_changed_update;
    CREATE TRIGGER records_changed_update
        AFTER UPDATE OF form_id, vals, deleted, updated_at ON records
        WHEN NOT EXISTS (SELECT 1 FROM records_changed WHERE id = NEW.id)
        BEGIN INSERT INTO records_changed (id) VALUES (NEW.id); END;
    "#,
    // 7: a batch's changes are listed in a table of their own: marking them
    // in the outbox rewrote every change's row (and encrypted its pages)
    // once more before it was sent. `sole`: the change was made while no
    // other change of its record waited, so its fields on the base give the
    // record's values of that moment (see `apply_push`).
    r#"
    CREATE TABLE outbox_batches (
        seq INTEGER PRIMARY KEY,
        batch_id TEXT NOT NULL
    );
    CREATE INDEX outbox_batches_batch ON outbox_batches (batch_id);
    INSERT INTO outbox_batches (seq, batch_id)
        SELECT seq, batch_id FROM outbox WHERE batch_id IS NOT NULL;
    DROP INDEX outbox_batch;
    ALTER TABLE outbox DROP COLUMN batch_id;
    ALTER TABLE outbox ADD COLUMN sole INTEGER NOT NULL DEFAULT 0;
    "#,
    // 8: an edit (typed or pulled) rewrites the entry of every index over a
    // column it sets, each on a page of its own that is encrypted again at
    // the commit. `records_form` moved with every `updated_at`; lookups by
    // form have `records_form_created`. The address and house indexes
    // changed with every `vals` of every form: now they hold only the
    // records that have the field, and an edit of any other record skips
    // them (a lookup `= ?` implies `IS NOT NULL`, so it still uses them).
    r#"
    DROP INDEX records_form;
    DROP INDEX records_address;
    DROP INDEX records_house;
    CREATE INDEX records_address ON records (form_id, json_extract(vals, '$.address'))
        WHERE json_extract(vals, '$.address') IS NOT NULL;
    CREATE INDEX records_house ON records (form_id, json_extract(vals, '$.house'))
        WHERE json_extract(vals, '$.house') IS NOT NULL;
    "#,
    // 9: the index on a record's state holds only the records not synced.
    // An acknowledged record left its place among the few waiting for a
    // random one among the thousands synced, a page encrypted again at the
    // commit; now it only leaves, and a pulled record never enters. A query
    // by state says `state <> 'synced'` for SQLite to use it (`UNSENT`).
    r#"
    DROP INDEX records_state;
    CREATE INDEX records_unsynced ON records (state) WHERE state <> 'synced';
    "#,
];
