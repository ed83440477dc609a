//! MCP with the official Python client (installed into .data/venv-py by scripts/setup.sh):
//! over Streamable HTTP at `/mcp`, and over stdio through `devpulse mcp`, which forwards to the
//! server. Every tool is called, and what they recorded must be on the server.

use crate::common::{
    call,
    fixtures::people,
    laptop::{devpulse, Laptop},
    python, TestServer,
};
use reqwest::Method;
use serde_json::Value;

fn script() -> std::path::PathBuf {
    crate::common::server_dir().join("tests/python/mcp_client.py")
}

/// Runs the client and returns its report.
fn run_client(mut command: std::process::Command) -> Value {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "mcp client failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(line.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{e}: {line}"))
}

/// What the client saw, checked the same way for both transports.
fn check_report(report: &Value, sid: &str) {
    assert_eq!(report["tools"].as_array().unwrap().len(), 6, "{report}");
    assert!(!report["session_error"].as_bool().unwrap(), "{report}");
    assert!(
        report["session"].as_str().unwrap().contains(sid),
        "{report}"
    );
    for (call, answer) in report["bad"].as_object().unwrap() {
        assert!(
            answer["error"].as_bool().unwrap(),
            "{call} was accepted: {answer}"
        );
    }
    let bad = report["bad"].to_string();
    assert!(bad.contains("timeframe"), "{bad}");
    assert!(
        bad.contains("happiness") || bad.contains("metrics"),
        "{bad}"
    );
    assert!(bad.contains("session_id"), "{bad}");
    assert!(bad.contains("limit"), "{bad}");
    assert_eq!(
        report["resources"],
        serde_json::json!(["devpulse://summary/current", "devpulse://trends/daily"])
    );
    assert_eq!(
        report["prompts"],
        serde_json::json!(["analyze-productivity"])
    );
    assert!(report["prompt_messages"].as_u64().unwrap() >= 1);
    println!("MCP round trip: {}", report["round_trip_ms"]);
}

/// The session as the REST API sees it.
async fn session_on_server(server: &TestServer, key: &str, sid: &str) -> Value {
    let (status, s) = call(
        server,
        Method::GET,
        &format!("/api/v1/metrics/sessions/{sid}"),
        Some(key),
        None,
    )
    .await;
    assert_eq!(status, 200, "{s}");
    s
}

#[tokio::test]
async fn the_official_client_uses_every_tool_over_http_and_stdio() {
    let server = TestServer::start().await;
    let keys = people(&server).await;
    let python = python();

    // Streamable HTTP, with the API key as a bearer token.
    let sid = "mcp-http-session";
    let mut http = std::process::Command::new(&python);
    http.arg(script())
        .args(["http", &server.url(""), &keys["ana"], sid]);
    let report = tokio::task::spawn_blocking(move || run_client(http))
        .await
        .unwrap();
    check_report(&report, sid);
    let s = session_on_server(&server, &keys["ana"], sid).await;
    assert_eq!(s["tool_executions"], 2, "{s}");
    assert_eq!(s["tool_failures"], 1, "{s}");
    assert_eq!(s["end_reason"], "logout", "{s}");
    // The dashboard tool answered from the same numbers.
    let dashboard: Value = serde_json::from_str(report["dashboard"].as_str().unwrap())
        .unwrap_or_else(|e| panic!("{e}: {}", report["dashboard"]));
    assert!(
        dashboard.to_string().contains("\"tool_executions\":2"),
        "{dashboard}"
    );

    // stdio through the collector, which forwards to the server.
    let laptop = Laptop::new(&server.url(""), &keys["bo"]);
    let sid = "mcp-stdio-session";
    let mut stdio = std::process::Command::new(&python);
    stdio
        .arg(script())
        .args(["stdio", devpulse().to_str().unwrap(), sid])
        .envs(laptop.env());
    let report = tokio::task::spawn_blocking(move || run_client(stdio))
        .await
        .unwrap();
    check_report(&report, sid);
    let s = session_on_server(&server, &keys["bo"], sid).await;
    assert_eq!(s["tool_executions"], 2, "{s}");
    assert_eq!(s["tool_failures"], 1, "{s}");

    // Without a key there is no MCP.
    let (status, _) = call(
        &server,
        Method::POST,
        "/mcp",
        None,
        Some(serde_json::json!({})),
    )
    .await;
    assert_eq!(status, 401);
}
