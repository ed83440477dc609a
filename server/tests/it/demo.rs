//! The demo workspace a fresh `make run` creates: a month of activity behind its developers,
//! written through the ingest path, a manager who sees two of its three teams, and (with
//! `DEVPULSE_DEMO_LIVE`) developers at work while the server runs.

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use futures::StreamExt;
use reqwest::Method;
use serde_json::Value;
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

use crate::common::{call, login, TestServer};

/// A server that creates the demo workspace on its empty database, as `make run` does.
async fn demo_server(live: bool) -> TestServer {
    TestServer::start_with(|c| {
        c.demo = Some(true);
        c.demo_live = Some(live);
        c.demo_superadmin_password = Some("demo-superadmin-pass".into());
    })
    .await
}

/// Events of the demo workspace that occurred before `t`, straight from its table; none while
/// the server is still creating the workspace in the background.
async fn events_before(server: &TestServer, t: DateTime<Utc>) -> usize {
    let n: Result<i64, sqlx::Error> =
        sqlx::query_scalar("SELECT count(*) FROM tenant_demo.events WHERE occurred_at < $1")
            .bind(t)
            .fetch_one(server.db.store.pool())
            .await;
    match n {
        Ok(n) => n as usize,
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P01") => 0,
        Err(e) => panic!("cannot count the demo events: {e}"),
    }
}

/// Waits until the history the server writes in the background is all there (it was cut at
/// the start of a minute since `since`: every event the generator makes for that minute,
/// none missing, none twice) and returns that minute.
async fn history_written(server: &TestServer, since: DateTime<Utc>) -> DateTime<Utc> {
    let people: Vec<_> = server::demo::developers()
        .into_iter()
        .map(|d| d.person)
        .collect();
    let minute = TimeDelta::minutes(1);
    let mut expected = std::collections::BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let mut cut = since.duration_trunc(minute).unwrap();
        while cut <= Utc::now() {
            let want = *expected.entry(cut).or_insert_with(|| {
                server::demo::history(people.clone(), cut)
                    .map(|s| s.items.len())
                    .sum::<usize>()
            });
            if events_before(server, cut).await == want {
                return cut;
            }
            cut += minute;
        }
        assert!(
            Instant::now() < deadline,
            "the demo history was not all written within 3 minutes: {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn summary(server: &TestServer, token: &str, query: &str) -> Value {
    let path = format!("/api/v1/dashboard/summary{query}");
    let (status, body) = call(server, Method::GET, &path, Some(token), None).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn emails(summary: &Value) -> BTreeSet<String> {
    summary["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_string())
        .collect()
}

fn user<'a>(summary: &'a Value, email: &str) -> &'a Value {
    summary["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == email)
        .unwrap_or_else(|| panic!("{email} has no activity"))
}

const DEVELOPERS: [&str; 9] = [
    "aiko@demo.test",
    "bruno@demo.test",
    "chloe@demo.test",
    "daniel@demo.test",
    "dev@demo.test",
    "emma@demo.test",
    "farid@demo.test",
    "grace@demo.test",
    "hugo@demo.test",
];
/// The people of the Platform and Payments teams, which manager@demo.test manages.
const MANAGED: [&str; 6] = [
    "aiko@demo.test",
    "bruno@demo.test",
    "chloe@demo.test",
    "daniel@demo.test",
    "dev@demo.test",
    "emma@demo.test",
];

#[tokio::test]
async fn the_demo_workspace_has_a_month_of_activity_and_a_manager_sees_two_teams_of_it() {
    let since = Utc::now();
    let mut server = demo_server(false).await;
    history_written(&server, since).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;

    let today = Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    for days_ago in 1..=30 {
        let from = today - TimeDelta::days(days_ago);
        let to = from + TimeDelta::days(1);
        let q = format!("?from={}&to={}", from.to_rfc3339(), to.to_rfc3339());
        let day = summary(&server, &admin, &q.replace('+', "%2B")).await;
        let total = &day["total"];
        assert!(
            total["sessions"].as_i64().unwrap() > 0
                && total["tool_executions"].as_i64().unwrap() > 0,
            "no activity on {from}: {total}"
        );
    }

    let month = summary(&server, &admin, "").await;
    assert_eq!(
        emails(&month),
        DEVELOPERS.iter().map(|e| e.to_string()).collect()
    );
    let total = &month["total"];
    for counter in [
        "prompts",
        "api_requests",
        "tool_failures",
        "agent_invocations",
        "lines_added",
        "lines_removed",
        "commits",
        "pull_requests",
        "api_errors",
        "edits_accepted",
        "edits_rejected",
        "active_user_ms",
        "active_cli_ms",
        "cache_read_tokens",
    ] {
        assert!(total[counter].as_i64().unwrap() > 0, "{counter}: {total}");
    }
    let failures =
        total["tool_failures"].as_f64().unwrap() / total["tool_executions"].as_f64().unwrap();
    assert!((0.05..0.10).contains(&failures), "failure share {failures}");
    for tool in [
        "Read",
        "Edit",
        "Bash",
        "Grep",
        "Glob",
        "Write",
        "Task",
        "WebFetch",
        "TodoWrite",
        "MultiEdit",
    ] {
        assert!(total["by_tool"][tool].as_i64().unwrap() > 0, "{tool}");
    }
    let opus = "claude-opus-4-1-20250805";
    for model in [
        opus,
        "claude-sonnet-4-5-20250929",
        "claude-haiku-4-5-20251001",
    ] {
        // Priced from the shipped table: the items carry tokens, not costs.
        assert!(
            total["by_model"][model]["cost_usd"].as_f64().unwrap() > 0.0,
            "{model}"
        );
    }
    // One heavy Opus user, one who barely uses Claude Code.
    let spent_on_opus = |email: &str| {
        user(&month, email)["by_model"][opus]["cost_usd"]
            .as_f64()
            .unwrap_or(0.0)
    };
    let runs = |email: &str| user(&month, email)["tool_executions"].as_i64().unwrap();
    for other in DEVELOPERS.iter().filter(|e| **e != "bruno@demo.test") {
        assert!(
            spent_on_opus("bruno@demo.test") > spent_on_opus(other),
            "{other}"
        );
    }
    for other in DEVELOPERS.iter().filter(|e| **e != "emma@demo.test") {
        assert!(runs("emma@demo.test") < runs(other), "{other}");
    }

    // The manager manages Platform and Payments, not Data.
    let manager = login(&server, "demo", "manager@demo.test", "demo-manager-pass").await;
    let theirs = summary(&server, &manager, "").await;
    assert_eq!(
        emails(&theirs),
        MANAGED.iter().map(|e| e.to_string()).collect()
    );
    for email in MANAGED {
        assert_eq!(user(&theirs, email), user(&month, email));
    }
    assert!(
        theirs["total"]["tool_executions"].as_i64() < month["total"]["tool_executions"].as_i64()
    );

    // A second start finds the workspace and writes no second history.
    let written = events_before(&server, Utc::now()).await;
    server.shutdown().await;
    let second = server
        .start_sharing(|c| {
            c.demo = Some(true);
            c.demo_live = Some(false);
        })
        .await;
    let admin = login(&second, "demo", "admin@demo.test", "demo-admin-pass").await;
    assert_eq!(summary(&second, &admin, "").await, month);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(events_before(&second, Utc::now()).await, written);
}

#[tokio::test]
async fn with_live_activity_on_new_events_keep_arriving() {
    let since = Utc::now();
    let server = demo_server(true).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    // Live events come after the history's cut, so it is found whole beside them.
    history_written(&server, since).await;
    let count = |s: &Value| {
        let t = &s["total"];
        ["api_requests", "tool_executions", "prompts"]
            .iter()
            .map(|k| t[*k].as_i64().unwrap())
            .sum::<i64>()
    };
    // The live feed tells of it.
    let mut req = format!("ws://{}/ws/metrics", server.addr)
        .into_client_request()
        .unwrap();
    let bearer = format!("Bearer {admin}").parse().unwrap();
    req.headers_mut().insert("authorization", bearer);
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let update = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(msg) = ws.next().await {
            if let Message::Text(t) = msg.unwrap() {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["type"] == "metrics_update" {
                    return v;
                }
            }
        }
        panic!("the feed closed");
    })
    .await
    .expect("a metrics_update within a minute");
    assert!(update["events"].as_u64().unwrap() > 0, "{update}");
    // Twice: a flow, not one late write.
    let mut last = count(&summary(&server, &admin, "").await);
    for _ in 0..2 {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let now = count(&summary(&server, &admin, "").await);
            if now > last {
                last = now;
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no new demo activity within a minute"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}
