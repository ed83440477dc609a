//! Budgets through the API: set and changed by tenant admins, refused by field when wrong,
//! each reader seeing the budgets whose totals they see whole, and where the period stands
//! computed from the dashboard's own numbers.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{call, client, fixtures::people, login, server_fn, user_id, TestServer};

/// Sends `cost` dollars and `tokens` tokens of one API request by `key`, a minute ago.
async fn spend(server: &TestServer, key: &str, id: &str, cost: f64, tokens: i64) {
    let at = (Utc::now() - chrono::TimeDelta::minutes(1)).to_rfc3339();
    let r = client()
        .post(server.url("/api/v1/ingest/batch"))
        .header("x-api-key", key)
        .json(
            &json!([{ "type": "api_request", "request_id": id, "session_id": format!("budget-{id}"),
                         "model": "claude-sonnet-4-5", "input_tokens": tokens, "cost_usd": cost,
                         "timestamp": at }]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn budgets(server: &TestServer, token: &str) -> Vec<Value> {
    let (status, list) = call(server, Method::GET, "/api/v1/budgets", Some(token), None).await;
    assert_eq!(status, 200, "{list}");
    list.as_array().unwrap().clone()
}

fn names(list: &[Value]) -> Vec<String> {
    list.iter()
        .map(|s| {
            format!(
                "{}:{}",
                s["budget"]["scope"].as_str().unwrap(),
                s["budget"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn budgets_are_set_seen_by_whom_they_concern_and_projected_from_the_dashboards_numbers() {
    let mut server = TestServer::start().await;
    let keys = people(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let post = |body: Value| {
        let admin = admin.clone();
        let server = &server;
        async move {
            call(
                server,
                Method::POST,
                "/api/v1/budgets",
                Some(&admin),
                Some(body),
            )
            .await
        }
    };

    // Refused by field.
    let ana = user_id(&server, &admin, "ana@demo.test").await;
    for (body, field) in [
        (json!({ "scope": "workspace", "period": "month" }), "/usd"),
        (
            json!({ "scope": "workspace", "period": "month", "usd": -5 }),
            "/usd",
        ),
        (
            json!({ "scope": "workspace", "period": "month", "tokens": 0 }),
            "/tokens",
        ),
        (
            json!({ "scope": "workspace", "period": "year", "usd": 5 }),
            "/period",
        ),
    ] {
        let (status, problem) = post(body.clone()).await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert!(problem.to_string().contains(field), "{body}: {problem}");
    }
    let (status, _) = post(
        json!({ "scope": "person", "user_id": uuid::Uuid::new_v4(), "period": "month", "usd": 5 }),
    )
    .await;
    assert_eq!(status, 404, "no such person here");

    // The manager manages Platform; ana is in it.
    let (_, teams) = call(&server, Method::GET, "/api/v1/teams", Some(&admin), None).await;
    let platform = teams
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Platform")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = call(
        &server,
        Method::PUT,
        &format!("/api/v1/teams/{platform}/members/{ana}"),
        Some(&admin),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200);
    for body in [
        json!({ "scope": "workspace", "period": "month", "usd": 1000 }),
        json!({ "scope": "team", "team_id": platform, "period": "week", "tokens": 5_000_000 }),
        json!({ "scope": "person", "user_id": ana, "period": "month", "usd": 20, "tokens": 1_000_000 }),
    ] {
        let (status, b) = post(body.clone()).await;
        assert_eq!(status, 200, "{body}: {b}");
    }
    // The same scope and period again is a change, not a second budget.
    let (status, changed) =
        post(json!({ "scope": "workspace", "period": "month", "usd": 800 })).await;
    assert_eq!(status, 200);
    assert_eq!(changed["usd"], 800.0);

    spend(&server, &keys["ana"], "a1", 6.0, 200_000).await;
    spend(&server, &keys["bo"], "b1", 3.0, 100_000).await;

    let all = budgets(&server, &admin).await;
    assert_eq!(
        names(&all),
        ["workspace:Demo", "team:Platform", "person:ana@demo.test"]
    );
    let workspace = &all[0];
    let usd = &workspace["usd"];
    assert!(
        (usd["spent"].as_f64().unwrap() - 9.0).abs() < 1e-9,
        "{workspace}"
    );
    assert_eq!(usd["limit"], 800.0);
    assert!(workspace["tokens"].is_null());
    // The pace: spent over the elapsed part of the month, carried to its end.
    let from: DateTime<Utc> = workspace["from"].as_str().unwrap().parse().unwrap();
    let to: DateTime<Utc> = workspace["to"].as_str().unwrap().parse().unwrap();
    let elapsed = (Utc::now() - from).num_seconds().max(3600) as f64;
    let expected = 9.0 * (to - from).num_seconds() as f64 / elapsed;
    let projected = usd["projected"].as_f64().unwrap();
    assert!(
        (projected - expected).abs() / expected < 0.01,
        "{projected} against {expected}"
    );
    let person = &all[2];
    assert!((person["usd"]["spent"].as_f64().unwrap() - 6.0).abs() < 1e-9);
    assert_eq!(person["tokens"]["spent"], 200_000.0);
    let team = &all[1];
    assert_eq!(
        team["tokens"]["spent"], 200_000.0,
        "bo is not in Platform: {team}"
    );

    // Each reader sees what they see whole.
    let manager = login(&server, "demo", "manager@demo.test", "demo-manager-pass").await;
    assert_eq!(
        names(&budgets(&server, &manager).await),
        ["team:Platform", "person:ana@demo.test"]
    );
    let viewer = login(&server, "demo", "viewer@demo.test", "demo-viewer-pass").await;
    assert_eq!(names(&budgets(&server, &viewer).await), ["workspace:Demo"]);
    let ana_token = login(&server, "demo", "ana@demo.test", "ana-password-123").await;
    assert_eq!(
        names(&budgets(&server, &ana_token).await),
        ["person:ana@demo.test"]
    );
    let bo_token = login(&server, "demo", "bo@demo.test", "bo-password-123").await;
    assert!(budgets(&server, &bo_token).await.is_empty());

    // The widget, the server function and the REST route agree.
    let (status, widget) = call(
        &server,
        Method::GET,
        "/api/v1/dashboard/charts?widget=budgets",
        Some(&manager),
        None,
    )
    .await;
    assert_eq!(status, 200, "{widget}");
    assert_eq!(
        names(widget.as_array().unwrap()),
        ["team:Platform", "person:ana@demo.test"]
    );
    let (status, by_fn) = server_fn(&server, &manager, "budgets/status", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        names(by_fn.as_array().unwrap()),
        ["team:Platform", "person:ana@demo.test"]
    );

    // Removing one; then it is gone, and the log has every change.
    let id = all[1]["budget"]["id"].as_str().unwrap().to_string();
    let (status, _) = call(
        &server,
        Method::DELETE,
        &format!("/api/v1/budgets/{id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = call(
        &server,
        Method::DELETE,
        &format!("/api/v1/budgets/{id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (_, log) = call(
        &server,
        Method::GET,
        "/api/v1/audit?action=budget.",
        Some(&admin),
        None,
    )
    .await;
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "budget.set").count(),
        4,
        "{log}"
    );
    assert_eq!(
        actions.iter().filter(|a| **a == "budget.deleted").count(),
        1
    );
    let change = log
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "budget.set" && e["details"]["usd"] == 800.0)
        .unwrap();
    assert_eq!(change["details"]["before"]["usd"], 1000.0, "{change}");

    // Periods follow the workspace's zone: a month from local midnight (+5:30 here).
    let (status, _) = call(
        &server,
        Method::PUT,
        "/api/v1/settings/time-zone",
        Some(&admin),
        Some(json!({ "time_zone": "Asia/Kolkata" })),
    )
    .await;
    assert_eq!(status, 200);
    let list = budgets(&server, &admin).await;
    let from: DateTime<Utc> = list[0]["from"].as_str().unwrap().parse().unwrap();
    assert_eq!(from.format("%H:%M").to_string(), "18:30", "{}", list[0]);
    assert_eq!(list[0]["utc_offset_secs"], 19_800);

    // A team's budget goes with the team.
    let (status, temp) = call(
        &server,
        Method::POST,
        "/api/v1/teams",
        Some(&admin),
        Some(json!({ "name": "Temp" })),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) =
        post(json!({ "scope": "team", "team_id": temp["id"], "period": "week", "usd": 50 })).await;
    assert_eq!(status, 200);
    assert!(names(&budgets(&server, &admin).await).contains(&"team:Temp".to_string()));
    let (status, _) = call(
        &server,
        Method::DELETE,
        &format!("/api/v1/teams/{}", temp["id"].as_str().unwrap()),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert!(!names(&budgets(&server, &admin).await).contains(&"team:Temp".to_string()));
    server.shutdown().await;
}
