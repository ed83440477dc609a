//! The sample data in testdata/fixtures and its ground truth, EXPECTED.json: one developer
//! per fixture user, and the comparison of a dashboard summary with the truth.

use std::{collections::BTreeMap, path::PathBuf};

use reqwest::Method;
use serde_json::{json, Value};

use super::{call, login, seed_two_tenants, TestServer};

pub const USERS: [&str; 3] = ["ana", "bo", "chen"];

pub fn fixtures() -> PathBuf {
    super::server_dir().join("../testdata/fixtures")
}

/// A developer per fixture user, each with an ingest+read API key.
pub async fn people(server: &TestServer) -> BTreeMap<&'static str, String> {
    seed_two_tenants(server).await;
    let admin = login(server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let mut keys = BTreeMap::new();
    for user in USERS {
        let password = format!("{user}-password-123");
        let (status, body) = call(
            server,
            Method::POST,
            "/api/v1/users",
            Some(&admin),
            Some(json!({ "email": format!("{user}@demo.test"), "role": "developer", "password": password })),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let token = login(server, "demo", &format!("{user}@demo.test"), &password).await;
        let (status, key) = call(
            server,
            Method::POST,
            "/api/v1/api-keys",
            Some(&token),
            Some(json!({ "name": "fixtures", "scopes": ["ingest", "read"] })),
        )
        .await;
        assert_eq!(status, 201, "{key}");
        keys.insert(user, key["key"].as_str().unwrap().to_string());
    }
    keys
}

pub async fn summary(server: &TestServer, token: &str) -> Value {
    let (status, body) = call(
        server,
        Method::GET,
        "/api/v1/dashboard/summary?from=2025-01-01T00:00:00Z&to=2027-01-01T00:00:00Z&group_by=user",
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// One person's totals in a summary.
pub fn totals_of<'a>(summary: &'a Value, email: &str) -> &'a Value {
    summary["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == email)
        .unwrap_or_else(|| panic!("{email} missing from {summary}"))
}

pub fn assert_matches_expected(summary: &Value) {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("EXPECTED.json")).unwrap())
            .unwrap();
    for user in USERS {
        let want = &expected["users"][user];
        let got = totals_of(summary, &format!("{user}@demo.test"));
        for key in [
            "sessions",
            "tool_executions",
            "tool_failures",
            "agent_invocations",
            "api_requests",
            "input_tokens",
            "output_tokens",
            "cache_creation_tokens",
            "cache_read_tokens",
            "lines_added",
            "lines_removed",
        ] {
            assert_eq!(got[key], want[key], "{user} {key}");
        }
        let cents = |v: &Value| (v.as_f64().unwrap() * 100.0).round() as i64;
        assert_eq!(
            cents(&got["cost_usd"]),
            cents(&want["cost_usd"]),
            "{user} cost"
        );
        assert_eq!(got["by_tool"], want["by_tool"], "{user} by_tool");
        for (model, m) in want["by_model"].as_object().unwrap() {
            assert_eq!(
                got["by_model"][model]["requests"], m["requests"],
                "{user} {model}"
            );
            assert_eq!(
                cents(&got["by_model"][model]["cost_usd"]),
                cents(&m["cost_usd"]),
                "{user} {model} cost"
            );
        }
    }
}
