//! Input that is well-formed but hostile or odd: text PostgreSQL cannot hold, numbers out of
//! range, names too long to be names, bodies that would take gigabytes to decode. Each is
//! stored or refused clearly (4xx, or an OTLP partial success naming why), never a 5xx, and
//! the writers keep writing.

use std::io::Write;

use crate::common::{call, client, fixtures::people, login, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

async fn post(
    server: &TestServer,
    key: &str,
    path: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, String) {
    let r = client()
        .post(server.url(path))
        .bearer_auth(key)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

/// An OTLP/JSON logs export of records, each an event name and string attributes.
fn logs(records: &[(&str, Vec<(&str, String)>)]) -> String {
    let records: Vec<Value> = records
        .iter()
        .enumerate()
        .map(|(i, (name, attrs))| {
            let mut attributes = vec![json!({ "key": "event.name", "value": { "stringValue": name } })];
            attributes.extend(
                attrs
                    .iter()
                    .map(|(k, v)| json!({ "key": k, "value": { "stringValue": v } })),
            );
            json!({ "timeUnixNano": format!("{}", 1_764_000_000_000_000_000u64 + i as u64 * 1_000_000),
                    "attributes": attributes })
        })
        .collect();
    json!({ "resourceLogs": [{ "scopeLogs": [{ "logRecords": records }] }] }).to_string()
}

fn rejected(answer: &str, field: &str) -> (i64, String) {
    let v: Value = serde_json::from_str(answer).unwrap_or_else(|_| panic!("{answer}"));
    let p = &v["partialSuccess"];
    let n = &p[field];
    let n = n
        .as_i64()
        .or_else(|| n.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(0);
    (n, p["errorMessage"].as_str().unwrap_or("").to_string())
}

fn request(
    id: &str,
    session: &str,
    tokens: &str,
    cost: &str,
) -> (&'static str, Vec<(&'static str, String)>) {
    (
        "claude_code.api_request",
        vec![
            ("session.id", session.to_string()),
            ("request_id", id.to_string()),
            ("model", "claude-sonnet-4-5-20250929".into()),
            ("input_tokens", tokens.to_string()),
            ("output_tokens", "10".into()),
            ("cost_usd", cost.to_string()),
        ],
    )
}

async fn summary_of(server: &TestServer, token: &str) -> Value {
    let (status, s) = call(
        server,
        Method::GET,
        "/api/v1/dashboard/summary?from=2025-01-01T00:00:00Z&to=2027-01-01T00:00:00Z",
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{s}");
    s["total"].clone()
}

#[tokio::test]
async fn text_postgresql_cannot_hold_is_stored_not_refused() {
    let mut server = TestServer::start().await;
    let keys = people(&server).await;
    let key = &keys["ana"];
    // U+0000 in the session id, the tool input and an attribute name.
    let hook = json!({
        "session_id": "nul\u{0}session", "hook_event_name": "PreToolUse", "tool_name": "Bash",
        "tool_use_id": "toolu_nul", "cwd": "/work",
        "tool_input": { "command": "printf 'a\u{0}b'", "k\u{0}ey": 1 },
    });
    let (status, text) = post(
        &server,
        key,
        "/api/v1/hooks/claude-code",
        "application/json",
        hook.to_string(),
    )
    .await;
    assert_eq!(status, 204, "{text}");

    let batch = json!([
        { "type": "tool_use", "tool_name": "Read", "tool_use_id": "b1", "timestamp": "2026-11-30T10:00:00Z" },
        { "type": "tool_use", "tool_name": "Re\u{0}ad", "tool_use_id": "b\u{0}2", "timestamp": "2026-11-30T10:00:01Z" },
        { "type": "tool_use", "tool_name": "Grep", "tool_use_id": "b3", "timestamp": "2026-11-30T10:00:02Z" },
    ]);
    let (status, answer) = call(
        &server,
        Method::POST,
        "/api/v1/ingest/batch",
        Some(key),
        Some(batch),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (answer["accepted"].as_i64(), answer["rejected"].as_i64()),
        (Some(3), Some(0)),
        "{answer}"
    );

    let otlp = logs(&[(
        "claude_code.tool_result",
        vec![
            ("tool_use_id", "toolu_otlp_nul".into()),
            ("tool_name", "Bash".into()),
            ("error", "bad\u{0}byte".into()),
            ("success", "false".into()),
        ],
    )]);
    let (status, answer) = post(&server, key, "/v1/logs", "application/json", otlp).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(rejected(&answer, "rejectedLogRecords").0, 0, "{answer}");

    // The session is there, under its id with U+FFFD in place of U+0000.
    let (status, session) = call(
        &server,
        Method::GET,
        "/api/v1/metrics/sessions/nul%EF%BF%BDsession",
        Some(key),
        None,
    )
    .await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["tool_executions"], 1);
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let total = summary_of(&server, &admin).await;
    assert_eq!(total["tool_executions"], 5, "{total}");
    assert_eq!(total["tool_failures"], 1, "{total}");
    server.shutdown().await;
}

#[tokio::test]
async fn otlp_numbers_and_names_out_of_range_reject_their_record_only() {
    let mut server = TestServer::start().await;
    let keys = people(&server).await;
    let key = &keys["ana"];
    let long = "s".repeat(500);
    let otlp = logs(&[
        // A duration of three thousand years: once it panicked a writer.
        (
            "claude_code.tool_result",
            vec![
                ("tool_use_id", "toolu_far".into()),
                ("tool_name", "Bash".into()),
                ("duration_ms", "1e17".into()),
            ],
        ),
        request("req_big", "s1", "1e30", "0.1"),
        request("req_costly", "s1", "10", "100000000000"),
        request("req_negative", "s1", "-5", "0.1"),
        request("req_nan", "s1", "NaN", "0.1"),
        // Cut to 400 characters, two long ids could once become one session.
        request("req_long_session", &long, "10", "0.1"),
        request("req_good", "s1", "1200", "0.25"),
    ]);
    let (status, answer) = post(&server, key, "/v1/logs", "application/json", otlp).await;
    assert_eq!(status, 200, "{answer}");
    let (n, message) = rejected(&answer, "rejectedLogRecords");
    assert_eq!(n, 6, "{answer}");
    assert!(message.contains("duration_ms"), "{message}");

    let metrics = json!({ "resourceMetrics": [{ "scopeMetrics": [{ "metrics": [
        { "name": "claude_code.token.usage", "sum": { "aggregationTemporality": 1, "isMonotonic": true, "dataPoints": [
            { "timeUnixNano": "1764000000000000000", "asDouble": 1e30,
              "attributes": [{ "key": "type", "value": { "stringValue": "input" } }, { "key": "session.id", "value": { "stringValue": "m1" } }] },
            { "timeUnixNano": "1764000000000000000", "asDouble": 77,
              "attributes": [{ "key": "type", "value": { "stringValue": "output" } }, { "key": "session.id", "value": { "stringValue": "m1" } }] },
        ] } },
        { "name": "claude_code.lines_of_code.count", "sum": { "aggregationTemporality": 1, "dataPoints": [
            { "timeUnixNano": "1764000000000000000", "asInt": "-3",
              "attributes": [{ "key": "type", "value": { "stringValue": "added" } }] },
        ] } },
    ] }] }] });
    let (status, answer) = post(
        &server,
        key,
        "/v1/metrics",
        "application/json",
        metrics.to_string(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(rejected(&answer, "rejectedDataPoints").0, 2, "{answer}");

    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let total = summary_of(&server, &admin).await;
    assert_eq!(total["api_requests"], 1, "{total}");
    assert_eq!(total["input_tokens"], 1200, "{total}");
    assert_eq!(total["output_tokens"], 10 + 77, "{total}");
    assert_eq!(total["lines_added"], 0, "{total}");

    // The writers are alive: a hook still goes in.
    let hook =
        json!({ "session_id": "after", "hook_event_name": "SessionStart", "source": "startup" });
    let (status, text) = post(
        &server,
        key,
        "/api/v1/hooks/claude-code",
        "application/json",
        hook.to_string(),
    )
    .await;
    assert_eq!(status, 204, "{text}");
    server.shutdown().await;
}

/// `[]` (or an empty protobuf record) is 2 bytes on the wire and far more once decoded: such
/// bodies are costed before they are decoded and refused with 413, well within the body limit.
#[tokio::test]
async fn bodies_that_decode_to_gigabytes_are_refused_before_decoding() {
    let mut server = TestServer::start_with(|c| c.batch_max_items = 10).await;
    let keys = people(&server).await;
    let key = &keys["ana"];
    fn nest(field: u8, body: Vec<u8>) -> Vec<u8> {
        let mut out = vec![field << 3 | 2];
        let mut len = body.len();
        while len >= 0x80 {
            out.push((len as u8) | 0x80);
            len >>= 7;
        }
        out.push(len as u8);
        out.extend(body);
        out
    }
    let records = nest(1, nest(2, [0x12, 0x00].repeat(4_000_000)));
    let (status, text) = post(
        &server,
        key,
        "/v1/logs",
        "application/x-protobuf",
        records.clone(),
    )
    .await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("payload-too-large"), "{text}");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&records).unwrap();
    let r = client()
        .post(server.url("/v1/logs"))
        .bearer_auth(key)
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);

    let arrays = format!("[{}[]]", "[],".repeat(3_000_000));
    let (status, text) = post(
        &server,
        key,
        "/api/v1/ingest/batch",
        "application/json",
        arrays,
    )
    .await;
    assert_eq!(status, 413, "{text}");
    let json_logs = format!(
        r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{}{{}}]}}]}}]}}"#,
        "{},".repeat(3_000_000)
    );
    let (status, text) = post(&server, key, "/v1/logs", "application/json", json_logs).await;
    assert_eq!(status, 413, "{text}");

    // NDJSON beyond the item limit is refused before a line is parsed.
    let lines = "{\"type\":\"event\",\"timestamp\":\"2026-11-30T10:00:00Z\"}\n".repeat(11);
    let (status, text) = post(
        &server,
        key,
        "/api/v1/ingest/batch",
        "application/x-ndjson",
        lines,
    )
    .await;
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("at most 10 items"), "{text}");

    // Ordinary requests go through.
    let ok = logs(&[request("req_ok", "s", "1", "0.1")]);
    let (status, text) = post(&server, key, "/v1/logs", "application/json", ok).await;
    assert_eq!(status, 200, "{text}");
    server.shutdown().await;
}

/// A value PostgreSQL itself refuses (here a cost sum past what `numeric(20, 10)` holds)
/// fails only the item that carries it: the writer finds it by halving the write, stores the
/// rest and names the refused item in the answer.
#[tokio::test]
async fn a_value_postgresql_refuses_fails_only_its_item() {
    let mut server = TestServer::start().await;
    let keys = people(&server).await;
    let key = &keys["bo"];
    // Each within the item limit ($1,000,000); together, in one minute of one model, past
    // the rollups' 10 digits of dollars.
    let items: Vec<Value> = (0..10_001)
        .map(|i| {
            json!({ "type": "api_request", "request_id": format!("pricey-{i}"), "session_id": "pricey",
                    "model": "claude-opus-4-1-20250805", "input_tokens": 1, "cost_usd": 1_000_000.0,
                    "timestamp": "2026-11-30T10:00:00Z" })
        })
        .collect();
    let mut wide = server.start_sharing(|c| c.batch_max_items = 20_000).await;
    let (status, answer) = call(
        &wide,
        Method::POST,
        "/api/v1/ingest/batch",
        Some(key),
        Some(Value::Array(items)),
    )
    .await;
    assert_eq!(
        status,
        200,
        "{}",
        answer.to_string().chars().take(2000).collect::<String>()
    );
    let refused: Vec<&Value> = answer["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == "rejected")
        .collect();
    assert_eq!(answer["accepted"], 9_999);
    assert_eq!(refused.len(), 2, "{refused:?}");
    for item in &refused {
        let detail = item["errors"][0]["detail"].as_str().unwrap();
        assert!(detail.contains("could not be stored"), "{detail}");
        assert!(detail.contains("overflow"), "{detail}");
        let pointer = item["errors"][0]["pointer"].as_str().unwrap();
        assert_eq!(pointer, format!("/{}", item["index"]));
    }
    // What was stored is consistent: the rollups hold exactly the accepted requests.
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let total = summary_of(&server, &admin).await;
    assert_eq!(total["api_requests"], 9_999, "{total}");
    // One more in that minute is refused the same way, alone.
    let (status, answer) = call(
        &wide,
        Method::POST,
        "/api/v1/ingest/batch",
        Some(key),
        Some(json!([
            { "type": "api_request", "request_id": "one-more", "session_id": "pricey",
              "model": "claude-opus-4-1-20250805", "cost_usd": 1_000_000.0,
              "timestamp": "2026-11-30T10:00:00Z" }
        ])),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["rejected"], 1, "{answer}");
    wide.shutdown().await;
    server.shutdown().await;
}
