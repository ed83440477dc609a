//! Through PgBouncer in transaction mode (`DATABASE_URL` the pooler, `DATABASE_DIRECT_URL` the
//! database): every statement inside a transaction, LISTEN and session locks on the direct
//! connection. `make test` also runs several of the server's test modules through it
//! (`DEVPULSE_TEST_POOLER=1`); these two always go through it.

use std::time::Duration;

use futures::StreamExt;

use reqwest::Method;
use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use store::testing::TestDb;
use tokio_tungstenite::tungstenite::Message;

use crate::{
    common::{call, login, seed_two_tenants, user_id, TestServer},
    live_metrics::{closed_within, connect, key_of, send_tools},
};

/// The harness is what catches a statement run outside a transaction, so it must: the same
/// statement fails on its own and works in a transaction.
#[tokio::test]
async fn the_test_pooler_refuses_a_statement_outside_a_transaction() {
    let db = TestDb::new().await;
    let (_, url) = db.pooled_env().remove(0);
    let options: PgConnectOptions = url.parse().unwrap();
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options.statement_cache_capacity(0))
        .await
        .unwrap();
    let alone = sqlx::query_scalar::<_, i32>("SELECT $1::int4")
        .bind(7)
        .fetch_one(&pool)
        .await;
    let error = alone
        .expect_err("a prepared statement outside a transaction")
        .to_string();
    assert!(error.contains("does not exist"), "{error}");
    let mut tx = pool.begin().await.unwrap();
    let seven: i32 = sqlx::query_scalar("SELECT $1::int4")
        .bind(7)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(seven, 7);
}

/// Sign-in, keys, ingest, the dashboard, the console, a background job and live feeds, all
/// through the pooler.
#[tokio::test]
async fn the_server_works_through_pgbouncer_in_transaction_mode() {
    let mut server = TestServer::start_pooled().await;
    seed_two_tenants(&server).await;
    let root = login(&server, "", "root@devpulse.test", "demo-superadmin-pass").await;
    let (status, health) = call(
        &server,
        Method::GET,
        "/api/v1/admin/health",
        Some(&root),
        None,
    )
    .await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(
        health["database"]["mode"],
        "external, through a transaction pooler"
    );
    assert_eq!(health["schemas"]["behind"], json!([]));
    // Not only said: the server's pool logged in through PgBouncer.
    let logged_in = format!("login attempt: db={} ", server.db.name);
    let log = store::testing::pooler().log();
    assert!(
        log.contains(&logged_in),
        "no `{logged_in}` in PgBouncer's log"
    );

    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let key = key_of(&server, &admin, "laptop").await;
    let bearer = |t: &str| [("authorization", format!("Bearer {t}"))];
    let mut admin_feed = connect(&server, "/ws/metrics", &bearer(&admin))
        .await
        .unwrap();
    let mut dev_feed = connect(&server, "/ws/metrics", &bearer(&dev))
        .await
        .unwrap();
    send_tools(&server, &key, "pooled", 20).await;
    // Updates may be coalesced or split; together they count the batch.
    let mut heard = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while heard < 20 {
        match tokio::time::timeout_at(deadline, admin_feed.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                if v["type"] == "metrics_update" {
                    heard += v["events"].as_u64().unwrap();
                }
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("{heard} of 20 events heard on the feed, then {other:?}"),
        }
    }
    assert_eq!(heard, 20);

    // The key's workspace is found and entered in one transaction.
    let (status, summary) = call(
        &server,
        Method::GET,
        "/api/v1/dashboard/summary?from=2025-09-01T00:00:00Z&to=2025-09-02T00:00:00Z",
        Some(&key),
        None,
    )
    .await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["total"]["tool_executions"], 20, "{summary}");

    // A background job, queued and run: a person's data export.
    let dev_id = user_id(&server, &admin, "dev@demo.test").await;
    let (status, r) = call(
        &server,
        Method::POST,
        &format!("/api/v1/users/{dev_id}/export"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 202, "{r}");
    let done = crate::gdpr::wait_done(&server, &admin, r["request"].as_str().unwrap()).await;
    assert!(done["archive_bytes"].as_i64().unwrap() > 0, "{done}");

    // Deactivation reaches the open feed through the database's notices, heard by a LISTEN on
    // the direct connection: it closes in seconds, well before the periodic recheck.
    let path = format!("/api/v1/users/{dev_id}/deactivate");
    assert_eq!(
        call(&server, Method::POST, &path, Some(&admin), None)
            .await
            .0,
        200
    );
    assert_eq!(
        closed_within(&mut dev_feed, Duration::from_secs(10)).await,
        Some(1008)
    );

    let (status, jobs) = call(
        &server,
        Method::GET,
        "/api/v1/admin/jobs",
        Some(&root),
        None,
    )
    .await;
    assert_eq!(status, 200, "{jobs}");
    assert!(
        jobs["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["state"] == "done"),
        "{jobs}"
    );
    server.shutdown().await;
}
