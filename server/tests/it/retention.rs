//! Retention through the server: an admin previews a policy, is asked to confirm a shorter
//! one, sets it, and the job runner applies it; other roles cannot touch it.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{call, client, login, seed_two_tenants, TestServer};

async fn hook(server: &TestServer, key: &str, session: &str, days_ago: i64) {
    let at = Utc::now() - TimeDelta::days(days_ago);
    let r = client()
        .post(server.url("/api/v1/hooks/claude-code"))
        .header("x-api-key", key)
        .json(
            &json!({ "session_id": session, "hook_event_name": "UserPromptSubmit",
                       "prompt": "hi", "_at": at.to_rfc3339() }),
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

async fn events(server: &TestServer) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM tenant_demo.events")
        .fetch_one(server.db.store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn an_admin_confirms_a_shorter_policy_and_the_job_runner_applies_it() {
    let server = TestServer::start().await;
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
    let base = events(&server).await;
    for (i, days) in [1, 5, 40, 80, 120].into_iter().enumerate() {
        hook(&server, key, &format!("s{i}"), days).await;
    }

    let (status, r) = call(
        &server,
        Method::GET,
        "/api/v1/settings/retention",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        r["policy"],
        json!({ "raw_days": null, "minute_days": null, "hour_days": null, "day_days": null })
    );

    let (status, p) = call(
        &server,
        Method::POST,
        "/api/v1/settings/retention/preview",
        Some(&admin),
        Some(json!({ "raw_days": 30 })),
    )
    .await;
    assert_eq!(status, 200, "{p}");
    let older = sqlx::query_scalar::<_, i64>(
        "SELECT count(*) FROM tenant_demo.events WHERE occurred_at < now() - interval '30 days'",
    )
    .fetch_one(server.db.store.pool())
    .await
    .unwrap();
    assert!(older >= 3, "{older}");
    assert_eq!(p["raw_events"], older);

    // Finer data kept longer than coarser, and shortening without confirming: both refused
    // by field, nothing saved.
    for (body, pointer) in [
        (json!({ "raw_days": 30, "minute_days": 10 }), "/minute_days"),
        (json!({ "raw_days": 2 }), "/raw_days"),
        (json!({ "raw_days": 30 }), "/confirm"),
    ] {
        let (status, problem) = call(
            &server,
            Method::PUT,
            "/api/v1/settings/retention",
            Some(&admin),
            Some(body),
        )
        .await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["errors"][0]["pointer"], pointer, "{problem}");
    }
    let (status, _) = call(
        &server,
        Method::PUT,
        "/api/v1/settings/retention",
        Some(&dev),
        Some(json!({ "raw_days": 30, "confirm": true })),
    )
    .await;
    assert_eq!(status, 403);
    let (status, r) = call(
        &server,
        Method::PUT,
        "/api/v1/settings/retention",
        Some(&admin),
        Some(json!({ "raw_days": 30, "minute_days": 60, "confirm": true })),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["policy"]["raw_days"], 30);

    // The daily run, as the scheduler queues it.
    let mut conn = server.db.store.pool().acquire().await.unwrap();
    store::jobs::enqueue(&mut conn, server::jobs::RETENTION, &json!({}))
        .await
        .unwrap();
    drop(conn);
    let mut last: Value = Value::Null;
    for _ in 0..200 {
        let (_, r) = call(
            &server,
            Method::GET,
            "/api/v1/settings/retention",
            Some(&admin),
            None,
        )
        .await;
        if r["last_run"]["outcome"]["raw_events"] == older {
            last = r;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last["last_run"]["outcome"]["raw_events"], older, "{last}");
    assert_eq!(events(&server).await, base + 5 - older);

    // Recorded where the workspace's admins read.
    let (_, log) = call(
        &server,
        Method::GET,
        "/api/v1/audit?action=retention.enforced",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(log[0]["actor"], "system", "{log}");
    let (_, log) = call(
        &server,
        Method::GET,
        "/api/v1/audit?action=settings.retention",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(log[0]["details"]["shortened"], true, "{log}");
    crate::common::assert_actions_listed(&server).await;
}
