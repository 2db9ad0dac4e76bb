//! `entman generate`'s bulk load on SQLite: the session table's secondary
//! indexes are dropped for the load and built at its end, and a load killed
//! half-way is finished by the next connect.

use entman_store::prelude::*;
use entman_store::Scope;
use entman_store_sql::{BulkLoad, SqlStore};
use entman_testkit::{fixture, TestDb};
use sqlx::Connection;

/// The secondary indexes of `failover_sessions`, by name.
async fn session_indexes(db: &TestDb) -> Vec<String> {
    let mut conn = sqlx::SqliteConnection::connect(&db.url()).await.unwrap();
    sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'failover_sessions' \
         AND sql IS NOT NULL ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn indexes_dropped_for_a_bulk_load_come_back_at_its_end_or_at_the_next_connect() {
    let db = TestDb::sqlite();
    let store = SqlStore::connect(&db.url()).await.unwrap();
    fixture::load(&store).await;
    let indexes = session_indexes(&db).await;
    assert!(indexes.len() >= 5, "{indexes:?}");
    let stored = store.list_sessions(Scope::All, None).await.unwrap();

    // A load no larger than what is stored keeps the indexes.
    assert_eq!(store.begin_bulk_load(0).await.unwrap(), BulkLoad::Direct);
    assert_eq!(session_indexes(&db).await, indexes);

    // A larger one drops them until it ends; what is stored reads the same.
    assert_eq!(
        store.begin_bulk_load(1_000_000).await.unwrap(),
        BulkLoad::Deferred
    );
    assert!(session_indexes(&db).await.is_empty());
    assert_eq!(store.list_sessions(Scope::All, None).await.unwrap(), stored);
    store.end_bulk_load().await.unwrap();
    assert_eq!(session_indexes(&db).await, indexes);
    // Ending again is harmless.
    store.end_bulk_load().await.unwrap();

    // Killed half-way: the next connect builds them before anything reads.
    assert_eq!(
        store.begin_bulk_load(1_000_000).await.unwrap(),
        BulkLoad::Deferred
    );
    store.close().await;
    drop(store);
    let store = SqlStore::connect(&db.url()).await.unwrap();
    assert_eq!(session_indexes(&db).await, indexes);
    assert_eq!(store.meta("bulk_load_deferred").await.unwrap(), None);
    assert_eq!(store.list_sessions(Scope::All, None).await.unwrap(), stored);
}

#[tokio::test]
async fn postgres_loads_with_its_indexes_in_place() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let store = SqlStore::connect(&db.url()).await.unwrap();
    assert_eq!(
        store.begin_bulk_load(1_000_000).await.unwrap(),
        BulkLoad::Direct
    );
    store.end_bulk_load().await.unwrap();
}
