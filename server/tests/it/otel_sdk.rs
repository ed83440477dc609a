//! The OTLP receiver against the real OpenTelemetry Python SDK and its exporters: OTLP/HTTP
//! with protobuf and JSON, and OTLP/gRPC on the main port and on `OTLP_GRPC_PORT` (installed
//! into .data/venv-py by scripts/setup.sh).

use crate::common::{call, login, python, seed_two_tenants, TestServer};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn the_opentelemetry_sdk_exporters_are_understood() {
    // A free port for the second (gRPC) listener.
    let grpc_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = TestServer::start_with(|c| c.otlp_grpc_port = Some(grpc_port)).await;
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
    let script = crate::common::server_dir().join("tests/python/otel_send.py");
    let grpc_url = format!("http://127.0.0.1:{grpc_port}");
    for (encoding, prefix, url) in [
        ("protobuf", "pb", server.url("")),
        ("json", "js", server.url("")),
        ("grpc", "g1", server.url("")),
        ("grpc", "g2", grpc_url),
    ] {
        let out = tokio::process::Command::new(python())
            .arg(&script)
            .args([&url, &key, encoding, prefix])
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
    // Per run: a counters-only session (1000 + 500 input tokens over two cumulative
    // exports, 200 output, $0.75, 15 lines) and a session whose two api_request events
    // (100 + 100 input, 50 + 50 output, $0.02) replace its counters.
    assert_eq!(t["sessions"], 4 * 2, "{s}");
    assert_eq!(t["input_tokens"], 4 * (1500 + 200), "{s}");
    assert_eq!(t["output_tokens"], 4 * (200 + 100), "{s}");
    assert_eq!(t["api_requests"], 4 * 2, "{s}");
    assert_eq!(t["cost_usd"], 4.0 * 0.77, "{s}");
    assert_eq!(t["lines_added"], 4 * 15, "{s}");
    assert_eq!(t["tool_executions"], 4, "{s}");
    assert_eq!(t["tool_failures"], 4, "{s}");
    server.shutdown().await;
}

#[tokio::test]
async fn grpc_refusals_are_grpc_statuses() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let (_, key) = call(
        &server,
        Method::POST,
        "/api/v1/api-keys",
        Some(&dev),
        Some(json!({ "name": "otel", "scopes": ["ingest"] })),
    )
    .await;
    let key = key["key"].as_str().unwrap().to_string();
    let out = tokio::process::Command::new(python())
        .arg(crate::common::server_dir().join("tests/python/grpc_refusals.py"))
        .args([&server.addr.to_string(), &key])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: std::collections::BTreeMap<String, (String, String)> =
        serde_json::from_slice(&out.stdout).unwrap();
    let codes: std::collections::BTreeMap<&str, &str> = answers
        .iter()
        .map(|(case, (code, _))| (case.as_str(), code.as_str()))
        .collect();
    assert_eq!(
        codes,
        [
            ("no key", "UNAUTHENTICATED"),
            ("wrong key", "UNAUTHENTICATED"),
            // gRPC's status-code guide makes an unparsable message INTERNAL (tonic follows
            // it); OTLP exporters do not retry it. The server carries on (the next call).
            ("truncated protobuf", "INTERNAL"),
            // Inflating stops at the limit instead of filling memory.
            ("gzip bomb", "RESOURCE_EXHAUSTED"),
            // Costed before tonic decodes it (see `ingest::wire`).
            ("amplified", "RESOURCE_EXHAUSTED"),
            ("amplified after a group", "RESOURCE_EXHAUSTED"),
            // The body limit in front of every route answers gRPC callers in gRPC too.
            ("over the body limit", "RESOURCE_EXHAUSTED"),
            ("empty export", "OK"),
        ]
        .into_iter()
        .collect()
    );
    // A gRPC status from the gate, not an HTTP 401 the client had to translate.
    assert!(answers["no key"].1.contains("sign in first"), "{answers:?}");

    // gRPC-Web is not served: its caller is answered in HTTP, at the gate as in the handler,
    // never with a gRPC status it would misread.
    let path = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
    for (auth, status) in [(None, 401), (Some(&key), 415)] {
        let mut req = crate::common::client()
            .post(server.url(path))
            .header("content-type", "application/grpc-web+proto")
            .body(vec![0u8, 0, 0, 0, 0]);
        if let Some(k) = auth {
            req = req.bearer_auth(k);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), status);
        assert!(r.headers().get("grpc-status").is_none());
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    server.shutdown().await;
}
