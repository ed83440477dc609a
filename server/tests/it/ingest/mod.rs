//! Ingestion end to end: the fixtures' hooks and OTLP exports go in through the real HTTP
//! endpoints, and the dashboard summary must equal EXPECTED.json, once, however often they
//! are sent.

use std::{collections::BTreeMap, io::Write, path::PathBuf};

use crate::common::{
    call, client,
    fixtures::{assert_matches_expected, fixtures, people, summary, totals_of, USERS},
    login, TestServer,
};
use futures::{stream, StreamExt};
use prost::Message;
use reqwest::Method;
use serde_json::{json, Value};

mod batch;
mod imports;
mod limits;
mod model;
mod owners;
mod resources;

fn lines(path: PathBuf) -> Vec<String> {
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect()
}

/// Posts every hook line and OTLP request of every user, 16 at a time.
pub(crate) async fn send_everything(server: &TestServer, keys: &BTreeMap<&'static str, String>) {
    let mut requests = Vec::new();
    for user in USERS {
        let key = keys[user].clone();
        for line in lines(fixtures().join(format!("hooks/{user}.ndjson"))) {
            requests.push(("/api/v1/hooks/claude-code", key.clone(), line));
        }
        for line in lines(fixtures().join(format!("otlp/logs-{user}.json"))) {
            requests.push(("/v1/logs", key.clone(), line));
        }
        for line in lines(fixtures().join(format!("otlp/metrics-{user}.json"))) {
            requests.push(("/v1/metrics", key.clone(), line));
        }
    }
    let http = client();
    let results: Vec<(u16, String)> = stream::iter(requests)
        .map(|(path, key, body)| {
            let http = http.clone();
            let url = server.url(path);
            async move {
                let r = http
                    .post(url)
                    .bearer_auth(key)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                (status, r.text().await.unwrap())
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    for (status, body) in results {
        assert!(status == 200 || status == 204, "{status}: {body}");
        // OTLP answers carry no partial rejection for the fixtures.
        assert!(!body.contains("rejected"), "{body}");
    }
}

fn stop_hook(n: usize) -> Value {
    json!({ "session_id": "rl", "hook_event_name": "Stop", "_at": format!("2025-09-01T10:00:{n:02}Z") })
}

async fn post_hook(server: &TestServer, key: &str, body: Value) -> reqwest::Response {
    client()
        .post(server.url("/api/v1/hooks/claude-code"))
        .header("x-api-key", key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn hooks_and_otlp_reproduce_the_fixtures_exactly_and_resending_changes_nothing() {
    let mut server = TestServer::start().await;
    let keys = people(&server).await;
    send_everything(&server, &keys).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let first = summary(&server, &admin).await;
    assert_matches_expected(&first);

    send_everything(&server, &keys).await;
    let second = summary(&server, &admin).await;
    assert_eq!(first, second, "sending everything twice changed the totals");

    // The same numbers over days, hours and minutes: every grain is maintained.
    let grains = [
        ("2025-01-01T00:00:00Z", "2027-01-01T00:00:00Z", "day"),
        ("2025-01-01T01:00:00Z", "2027-01-01T00:00:00Z", "hour"),
        ("2025-01-01T00:01:00Z", "2027-01-01T00:00:00Z", "minute"),
    ];
    for (from, to, grain) in grains {
        let (_, s) = call(
            &server,
            Method::GET,
            &format!("/api/v1/dashboard/summary?from={from}&to={to}"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(s["grain"], grain);
        assert_eq!(s["total"], first["total"], "{grain}");
    }

    // A developer's key reads only their own numbers.
    let (status, own) = call(
        &server,
        Method::GET,
        "/api/v1/dashboard/summary?from=2025-01-01T00:00:00Z&to=2027-01-01T00:00:00Z",
        Some(&keys["ana"]),
        None,
    )
    .await;
    assert_eq!(status, 200, "{own}");
    let emails: Vec<&str> = own["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["ana@demo.test"]);
    server.shutdown().await;
}

/// The same OTLP requests as protobuf, gzip-compressed, count the same as JSON.
/// Two writers insert raw rows at once, before the tenant's lock (see
/// `store::events::write`): the same events arriving twice at the same moment must still be
/// counted once, and the writers must not deadlock on each other's rows.
#[tokio::test]
async fn the_same_events_sent_twice_at_once_count_once() {
    let mut server = TestServer::start().await;
    let keys = people(&server).await;
    tokio::join!(
        send_everything(&server, &keys),
        send_everything(&server, &keys)
    );
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    assert_matches_expected(&summary(&server, &admin).await);
    server.shutdown().await;
}

#[tokio::test]
async fn otlp_protobuf_and_gzip_count_like_json() {
    use opentelemetry_proto::tonic::collector::{
        logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest,
    };
    let mut server = TestServer::start().await;
    let keys = people(&server).await;
    let http = client();
    for line in lines(fixtures().join("otlp/logs-bo.json")) {
        let req: ExportLogsServiceRequest = serde_json::from_str(&line).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&req.encode_to_vec()).unwrap();
        let r = http
            .post(server.url("/v1/logs"))
            .bearer_auth(&keys["bo"])
            .header("content-type", "application/x-protobuf")
            .header("content-encoding", "gzip")
            .body(gz.finish().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/x-protobuf");
    }
    for line in lines(fixtures().join("otlp/metrics-bo.json")) {
        let req: ExportMetricsServiceRequest = serde_json::from_str(&line).unwrap();
        let r = http
            .post(server.url("/v1/metrics"))
            .bearer_auth(&keys["bo"])
            .header("content-type", "application/x-protobuf")
            .body(req.encode_to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let s = summary(&server, &admin).await;
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("EXPECTED.json")).unwrap())
            .unwrap();
    let bo = totals_of(&s, "bo@demo.test");
    for key in [
        "sessions",
        "tool_executions",
        "tool_failures",
        "api_requests",
        "input_tokens",
        "lines_added",
    ] {
        assert_eq!(bo[key], expected["users"]["bo"][key], "{key}");
    }
    server.shutdown().await;
}
