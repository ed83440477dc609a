//! The pools' check of a connection before handing it out.

use std::time::Duration;

use store::{testing::TestDb, PoolConfig, Store, UNCHECKED_IDLE};

async fn backend(store: &Store) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(store.pool())
        .await
}

/// A connection idle past the window is pinged, and one the database dropped meanwhile is
/// replaced instead of failing the request that gets it.
#[tokio::test]
async fn an_idle_connection_the_database_dropped_is_replaced_unseen() {
    let db = TestDb::new().await;
    let store = Store::connect_lazy(
        db.url().parse().unwrap(),
        &PoolConfig {
            max_connections: 1,
            ..PoolConfig::default()
        },
    );
    let first = backend(&store).await.unwrap();
    // sqlx pings a connection as it returns to the pool, in a task of its own: let that be
    // done, so the connection the database drops below sits in the pool looking alive.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(first)
        .fetch_one(db.store.pool())
        .await
        .unwrap();
    assert!(ended);
    tokio::time::sleep(UNCHECKED_IDLE + Duration::from_millis(200)).await;
    let second = backend(&store).await.expect("a fresh connection, unseen");
    assert_ne!(first, second);
}
