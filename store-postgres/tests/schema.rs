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
    assert_eq!(version, 3);
    let head: i64 = client
        .query_one("SELECT cursor FROM log_head", &[])
        .await
        .expect("head")
        .get(0);
    assert_eq!(head, 0);
}
