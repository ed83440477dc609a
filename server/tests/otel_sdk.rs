//! The OTLP receiver against the real OpenTelemetry Python SDK and its OTLP/HTTP exporters,
//! protobuf and JSON (installed into .data/venv-py by scripts/setup.sh).

mod common;

use common::{call, login, python, seed_two_tenants, TestServer};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn the_opentelemetry_sdk_exporters_are_understood() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let (_, key) = call(
        &server,
        Method::POST,
        "/api/v1/api-keys",
        Some(&dev),
        Some(json!({ "name": "otel", "scopes": ["ingest", "read"] })),
    )
    .await;
    let key = key["key"].as_str().unwrap().to_string();
    let script = common::server_dir().join("tests/python/otel_send.py");
    for (encoding, prefix) in [("protobuf", "pb"), ("json", "js")] {
        let out = tokio::process::Command::new(python())
            .arg(&script)
            .args([&server.url(""), &key, encoding, prefix])
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{encoding}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (status, s) = call(
        &server,
        Method::GET,
        "/api/v1/dashboard/summary",
        Some(&key),
        None,
    )
    .await;
    assert_eq!(status, 200, "{s}");
    let t = &s["total"];
    // Per encoding: a counters-only session (1000 + 500 input tokens over two cumulative
    // exports, 200 output, $0.75, 15 lines) and a session whose two api_request events
    // (100 + 100 input, 50 + 50 output, $0.02) replace its counters.
    assert_eq!(t["sessions"], 4, "{s}");
    assert_eq!(t["input_tokens"], 2 * (1500 + 200), "{s}");
    assert_eq!(t["output_tokens"], 2 * (200 + 100), "{s}");
    assert_eq!(t["api_requests"], 4, "{s}");
    assert_eq!(t["cost_usd"], 2.0 * 0.77, "{s}");
    assert_eq!(t["lines_added"], 30, "{s}");
    assert_eq!(t["tool_executions"], 2, "{s}");
    assert_eq!(t["tool_failures"], 2, "{s}");
    server.shutdown().await;
}
