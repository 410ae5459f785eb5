//! The schema: migrations apply once, whatever the number of instances
//! starting at once, and the tables match the SQLite backend's.

use beatbook_store_postgres::{testing, PgStore};

#[tokio::test]
async fn instances_starting_at_once_migrate_once() {
    let url = testing::fresh_database().await;
    let starts = (0..4).map(|_| PgStore::connect(&url, 2));
    for store in futures_util::future::join_all(starts).await {
        store.expect("connect and migrate");
    }
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let version: i64 = client
        .query_one("SELECT version FROM schema_version", &[])
        .await
        .expect("version")
        .get(0);
    assert_eq!(version, 9, "every migration applied once");
    let head: i64 = client
        .query_one("SELECT cursor FROM log_head", &[])
        .await
        .expect("head")
        .get(0);
    assert_eq!(head, 0);
}

/// The tables and their columns, in order, as the SQLite backend creates
/// them: a SQLite deployment copies into PostgreSQL table by table.
#[tokio::test]
async fn tables_and_columns_match_the_sqlite_backend() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("server.db");
    beatbook_store_sqlite::SqliteStore::open(&path).expect("a SQLite database");
    let sqlite = rusqlite::Connection::open(&path).expect("open it again");
    let mut stmt = sqlite
        .prepare(
            "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
             WHERE m.type = 'table' AND m.name <> 'sqlite_sequence' ORDER BY m.name, p.cid",
        )
        .expect("query");
    let sqlite_columns: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("columns")
        .collect::<Result<_, _>>()
        .expect("columns");

    let url = testing::fresh_database().await;
    PgStore::connect(&url, 1)
        .await
        .expect("connect and migrate");
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let rows = client
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name NOT IN ('log_head', 'schema_version')
             ORDER BY table_name COLLATE \"C\", ordinal_position",
            &[],
        )
        .await
        .expect("columns");
    let pg_columns: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert!(sqlite_columns.len() > 50, "{sqlite_columns:?}");
    assert_eq!(pg_columns, sqlite_columns);
}

/// A database that cannot be reached is `Unavailable` (the client retries),
/// not a failed statement.
#[tokio::test]
async fn unreachable_database_is_unavailable() {
    // Port 1 on loopback: nothing listens there.
    let err = PgStore::connect("postgres://postgres@127.0.0.1:1/beatbook", 1)
        .await
        .err()
        .expect("no database there");
    assert!(
        matches!(err, beatbook_store::StoreError::Unavailable(_)),
        "{err:?}"
    );
}

/// Text compares byte by byte whatever the database's locale: ids and
/// times order as they do in SQLite (most locales, here ICU's en-US, skip
/// `-` and `:` and fold case on a first pass).
#[tokio::test]
async fn text_columns_order_bytewise_in_an_english_database() {
    let base = testing::base_url();
    let (admin, connection) =
        tokio_postgres::connect(&format!("{base}/postgres"), tokio_postgres::NoTls)
            .await
            .expect("connect to the cluster");
    tokio::spawn(connection);
    // Named as testing names its databases, so a later run drops it.
    let name = format!("beatbook_test_{}_english", std::process::id());
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .await
        .expect("drop");
    admin
        .batch_execute(&format!(
            "CREATE DATABASE {name} TEMPLATE template0 LOCALE 'C.UTF-8'
             LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
        ))
        .await
        .expect("an English database");
    let url = format!("{base}/{name}");
    PgStore::connect(&url, 1)
        .await
        .expect("connect and migrate");
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let english: Vec<String> = client
        .query(
            "SELECT x FROM unnest(ARRAY['a-b', 'ab', 'aB']) AS x ORDER BY x",
            &[],
        )
        .await
        .expect("select")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_ne!(
        english,
        ["a-b", "aB", "ab"],
        "the database's own order is not bytewise"
    );
    for id in ["a-b", "a_b", "aB", "ab", "Ab"] {
        client
            .execute("INSERT INTO stations (id, name) VALUES ($1, '')", &[&id])
            .await
            .expect("insert");
    }
    let rows = client
        .query("SELECT id FROM stations ORDER BY id", &[])
        .await
        .expect("select");
    let ids: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(ids, ["Ab", "a-b", "aB", "a_b", "ab"]);
}
