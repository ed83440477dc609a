//! The usage page's numbers through the API: activity per day from the rollups, storage from
//! the catalog, the write path's refusals by reason, and the keys' last use.

use std::time::Duration;

use chrono::Utc;
use reqwest::Method;
use serde_json::json;

use crate::common::{call, client, login, seed_two_tenants, server_fn, TestServer};

#[tokio::test]
async fn usage_counts_activity_storage_refusals_and_key_use() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let (_, key) = call(
        &server,
        Method::POST,
        "/api/v1/api-keys",
        Some(&dev),
        Some(json!({ "name": "laptop", "scopes": ["ingest"] })),
    )
    .await;
    let key = key["key"].as_str().unwrap();
    let now = Utc::now().to_rfc3339();
    // Two good tool runs and one item that is not one.
    let (status, answer) = call(
        &server,
        Method::POST,
        "/api/v1/ingest/batch",
        Some(key),
        Some(json!([
            { "type": "tool_use", "tool_name": "Read", "tool_use_id": "u1", "timestamp": now },
            { "type": "tool_use", "tool_name": "Bash", "tool_use_id": "u2", "timestamp": now },
            { "type": "no_such_type" },
        ])),
    )
    .await;
    assert_eq!(
        (status.as_u16(), answer["rejected"].as_i64()),
        (200, Some(1)),
        "{answer}"
    );
    // A hook that is not one, twice: refused as a whole.
    for _ in 0..2 {
        let r = client()
            .post(server.url("/api/v1/hooks/claude-code"))
            .header("x-api-key", key)
            .json(&json!({ "hook_event_name": 42 }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
    }

    // Refusals are counted in memory and written every few seconds; PostgreSQL's statistics
    // reach other sessions within about ten seconds of going idle.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let usage = loop {
        let (status, usage) = call(&server, Method::GET, "/api/v1/usage", Some(&admin), None).await;
        assert_eq!(status, 200, "{usage}");
        let counted = usage["rejections"].as_array().unwrap().len() >= 2
            && usage["events_estimate"].as_i64() >= Some(2);
        if counted || tokio::time::Instant::now() > deadline {
            break usage;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let refused: Vec<(String, i64)> = usage["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["reason"].as_str().unwrap().to_string(),
                r["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(
        refused.contains(&("requests with invalid data".into(), 2)),
        "{refused:?}"
    );
    assert!(
        refused.contains(&("batch items rejected".into(), 1)),
        "{refused:?}"
    );

    // Two tool runs make at least two events.
    assert!(usage["events_estimate"].as_i64().unwrap() >= 2, "{usage}");
    let today = &usage["days"][0];
    assert_eq!(
        (today["people"].as_i64(), today["tool_runs"].as_i64()),
        (Some(1), Some(2)),
        "{usage}"
    );

    // Storage is every table of the schema, partitions under their table.
    let tables: Vec<&str> = usage["storage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    assert!(
        tables.contains(&"events") && tables.contains(&"rollups"),
        "{tables:?}"
    );
    assert!(
        !tables.iter().any(|t| t.starts_with("events_")),
        "{tables:?}"
    );
    // Sizes move while the writes settle (a page added, a free-space map made), so the page's
    // total is compared once two readings of the disk around it agree.
    let on_disk = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'tenant_demo' AND c.relkind = 'r'",
        )
        .fetch_one(server.db.store.pool())
        .await
        .unwrap()
    };
    for attempt in 0.. {
        let before = on_disk().await;
        let (_, again) = call(&server, Method::GET, "/api/v1/usage", Some(&admin), None).await;
        let after = on_disk().await;
        if before == after {
            let total: i64 = again["storage"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["bytes"].as_i64().unwrap())
                .sum();
            assert_eq!(total, after);
            break;
        }
        assert!(attempt < 50, "the schema's size never settled");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let laptop = usage["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "laptop")
        .expect("the key");
    assert_eq!(laptop["owner"], "dev@demo.test");
    assert!(laptop["last_used_at"].is_string(), "{laptop}");

    // The page reads the same thing.
    let (status, page) = server_fn(&server, &admin, "usage/get", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(page["rejections"], usage["rejections"]);
    assert_eq!(page["keys"], usage["keys"]);
    server.shutdown().await;
}
