//! Ingestion end to end: the fixtures' hooks and OTLP exports go in through the real HTTP
//! endpoints, and the dashboard summary must equal EXPECTED.json, once, however often they
//! are sent.

mod common;

use std::{collections::BTreeMap, io::Write, path::PathBuf};

use common::{
    call, client,
    fixtures::{assert_matches_expected, fixtures, people, summary, totals_of, USERS},
    login, TestServer,
};
use futures::{stream, StreamExt};
use prost::Message;
use reqwest::Method;
use serde_json::{json, Value};

fn lines(path: PathBuf) -> Vec<String> {
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect()
}

/// Posts every hook line and OTLP request of every user, 16 at a time.
async fn send_everything(server: &TestServer, keys: &BTreeMap<&'static str, String>) {
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

/// Bad bodies get a 4xx problem naming what is wrong, never a 5xx, and good data still counts.
#[tokio::test]
async fn malformed_bodies_are_refused_clearly() {
    let mut server = TestServer::start().await;
    let keys = people(&server).await;
    let key = &keys["ana"];
    let http = client();
    let post = |path: &'static str, ct: &'static str, body: Vec<u8>| {
        let r = http
            .post(server.url(path))
            .bearer_auth(key)
            .header("content-type", ct)
            .body(body);
        async move {
            let r = r.send().await.unwrap();
            let status = r.status().as_u16();
            let ct = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string());
            (status, ct, r.text().await.unwrap())
        }
    };
    let deep = "[".repeat(10_000) + &"]".repeat(10_000);
    let huge_session = json!({ "session_id": "x".repeat(1000), "hook_event_name": "Stop" });
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        (
            "/api/v1/hooks/claude-code",
            "application/json",
            b"{not json".to_vec(),
            400,
            "not JSON",
        ),
        (
            "/api/v1/hooks/claude-code",
            "text/plain",
            b"{}".to_vec(),
            415,
            "application/json",
        ),
        (
            "/api/v1/hooks/claude-code",
            "application/json",
            deep.into_bytes(),
            400,
            "recursion",
        ),
        (
            "/api/v1/hooks/claude-code",
            "application/json",
            b"[]".to_vec(),
            422,
            "JSON object",
        ),
        (
            "/api/v1/hooks/claude-code",
            "application/json",
            huge_session.to_string().into_bytes(),
            422,
            "/session_id",
        ),
        (
            "/api/v1/hooks/claude-code",
            "application/json",
            json!({ "session_id": "s", "hook_event_name": "PreToolUse", "tool_name": 7 })
                .to_string()
                .into_bytes(),
            422,
            "/tool_name",
        ),
        (
            "/api/v1/hooks/claude-code",
            "application/json",
            json!({ "session_id": "s", "hook_event_name": "Stop", "_at": "2099-01-01T00:00:00Z" })
                .to_string()
                .into_bytes(),
            422,
            "future",
        ),
        (
            "/v1/metrics",
            "application/x-protobuf",
            vec![0x0a, 0xff, 0xff, 0x01],
            400,
            "protobuf",
        ),
        (
            "/v1/logs",
            "application/json",
            br#"{"resourceLogs": 5}"#.to_vec(),
            422,
            "/resourceLogs",
        ),
        ("/v1/logs", "text/csv", b"a,b".to_vec(), 415, "x-protobuf"),
    ];
    for (path, ct, body, want, says) in cases {
        let (status, content_type, text) = post(path, ct, body).await;
        assert_eq!(status, want, "{path} {ct}: {text}");
        assert_eq!(
            content_type.as_deref(),
            Some("application/problem+json"),
            "{text}"
        );
        assert!(text.contains(says), "{path}: `{says}` not in {text}");
    }

    // A gzip bomb: 1 GiB of zeros in a small body stops at the inflation cap.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..100 {
        gz.write_all(&zeros).unwrap();
    }
    let bomb = gz.finish().unwrap();
    let r = http
        .post(server.url("/v1/metrics"))
        .bearer_auth(key)
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(bomb)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);

    // Sessions and read-only keys cannot ingest; ingest keys of another tenant see nothing here.
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let (status, _) = call(
        &server,
        Method::POST,
        "/api/v1/hooks/claude-code",
        Some(&admin),
        Some(json!({ "session_id": "s", "hook_event_name": "Stop" })),
    )
    .await;
    assert_eq!(status, 403);

    // After all that, a good hook still goes in.
    let (status, _, text) = post(
        "/api/v1/hooks/claude-code",
        "application/json",
        json!({ "session_id": "good", "hook_event_name": "SessionStart", "source": "startup" })
            .to_string()
            .into_bytes(),
    )
    .await;
    assert_eq!(status, 204, "{text}");
    let (_, s) = call(
        &server,
        Method::GET,
        "/api/v1/dashboard/summary",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s["total"]["sessions"], 1, "{s}");
    server.shutdown().await;
}

#[tokio::test]
async fn the_batch_api_reports_each_item_and_replays_idempotent_retries() {
    let mut server = TestServer::start_with(|c| c.batch_max_items = 5).await;
    let keys = people(&server).await;
    let key = &keys["chen"];
    let http = client();
    let post = |ct: &'static str, body: String, idem: Option<&'static str>| {
        let mut r = http
            .post(server.url("/api/v1/ingest/batch"))
            .bearer_auth(key)
            .header("content-type", ct)
            .body(body);
        if let Some(k) = idem {
            r = r.header("idempotency-key", k);
        }
        async move {
            let r = r.send().await.unwrap();
            let status = r.status().as_u16();
            let replayed = r.headers().contains_key("idempotent-replayed");
            let text = r.text().await.unwrap();
            let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
            (status, replayed, body)
        }
    };
    let items = json!([
        { "type": "session_start", "session_id": "b1", "timestamp": "2025-09-02T10:00:00Z", "cwd": "/home/chen/api" },
        { "type": "tool_use", "session_id": "b1", "tool_name": "Bash", "tool_use_id": "tb1",
          "success": false, "duration_ms": 1500, "timestamp": "2025-09-02T10:01:00Z" },
        { "type": "api_request", "session_id": "b1", "request_id": "rb1", "model": "claude-opus-4-1-20250805",
          "input_tokens": 10, "output_tokens": 20, "cost_usd": 0.5, "timestamp": "2025-09-02T10:01:30Z" },
        { "type": "teleport", "timestamp": "2025-09-02T10:02:00Z" },
        { "session_id": "b1", "hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_use_id": "tb1",
          "_at": "2025-09-02T10:00:58Z" }
    ])
    .to_string();
    let (status, replayed, first) = post("application/json", items.clone(), Some("k-1")).await;
    assert_eq!(status, 200, "{first}");
    assert!(!replayed);
    assert_eq!(
        (&first["accepted"], &first["rejected"]),
        (&json!(4), &json!(1)),
        "{first}"
    );
    assert_eq!(first["items"][3]["status"], "rejected");
    assert_eq!(first["items"][3]["errors"][0]["pointer"], "/3/type");

    // Retried with the same key and body: the same answer, nothing written twice.
    let (status, replayed, again) = post("application/json", items.clone(), Some("k-1")).await;
    assert_eq!((status, replayed), (200, true));
    assert_eq!(again, first);
    // The same key with another body is refused.
    let (status, _, body) = post("application/json", "[]".into(), Some("k-1")).await;
    assert_eq!(status, 422, "{body}");
    // Someone else's key of the same name is theirs: not a replay of chen's answer. (The
    // items name the same tool run and request, which the tenant already has.)
    let (status, replayed, theirs) = {
        let r = http
            .post(server.url("/api/v1/ingest/batch"))
            .bearer_auth(&keys["bo"])
            .header("content-type", "application/json")
            .header("idempotency-key", "k-1")
            .body(items.clone())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let replayed = r.headers().contains_key("idempotent-replayed");
        (status, replayed, r.json::<Value>().await.unwrap())
    };
    assert_eq!((status, replayed), (200, false), "{theirs}");
    assert_eq!(theirs["duplicates"], 4, "{theirs}");
    // Without a key, a resend is reported item by item as duplicates.
    let (_, _, resent) = post("application/json", items, None).await;
    assert_eq!(
        (&resent["accepted"], &resent["duplicates"]),
        (&json!(0), &json!(4)),
        "{resent}"
    );

    // NDJSON: a line that is not JSON is rejected; the others go in.
    let ndjson = [
        json!({ "type": "lines", "session_id": "b1", "lines_added": 7, "lines_removed": 2, "timestamp": "2025-09-02T10:03:00Z" }).to_string(),
        "{cut off".to_string(),
        json!({ "type": "session_end", "session_id": "b1", "reason": "logout", "timestamp": "2025-09-02T11:00:00Z" }).to_string(),
    ]
    .join("\n");
    let (status, _, nd) = post("application/x-ndjson", ndjson, None).await;
    assert_eq!(status, 200, "{nd}");
    assert_eq!(
        (&nd["accepted"], &nd["rejected"]),
        (&json!(2), &json!(1)),
        "{nd}"
    );
    assert_eq!(nd["items"][1]["errors"][0]["pointer"], "/1");

    // Too many items: refused whole, before anything is written.
    let six = serde_json::to_string(&vec![
        json!({ "type": "event", "timestamp": "2025-09-02T10:00:00Z" });
        6
    ])
    .unwrap();
    let (status, _, body) = post("application/json", six, None).await;
    assert_eq!(status, 422, "{body}");

    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let s = summary(&server, &admin).await;
    let chen = totals_of(&s, "chen@demo.test");
    assert_eq!(chen["sessions"], 1, "{chen}");
    assert_eq!(chen["tool_executions"], 1, "{chen}");
    assert_eq!(chen["tool_failures"], 1, "{chen}");
    assert_eq!(chen["api_requests"], 1, "{chen}");
    assert_eq!(chen["cost_usd"], 0.5, "{chen}");
    assert_eq!(chen["lines_added"], 7, "{chen}");
    assert_eq!(
        chen["by_model"]["claude-opus-4-1-20250805"]["requests"], 1,
        "{chen}"
    );
    server.shutdown().await;
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
async fn each_api_key_has_a_request_rate_limit() {
    let mut server = TestServer::start_with(|c| c.ingest_key_rps = 2.0).await;
    let keys = people(&server).await;
    // A burst of twice the rate passes, then the key waits.
    for n in 0..4 {
        assert_eq!(
            post_hook(&server, &keys["ana"], stop_hook(n))
                .await
                .status(),
            204,
            "request {n}"
        );
    }
    let r = post_hook(&server, &keys["ana"], stop_hook(4)).await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    // Another key has its own bucket.
    assert_eq!(
        post_hook(&server, &keys["bo"], stop_hook(5)).await.status(),
        204
    );
    server.shutdown().await;
}

#[tokio::test]
async fn each_tenant_has_an_event_rate_limit_shared_by_its_keys() {
    // A burst of one event a second: the first key's event empties it for everyone.
    let mut server = TestServer::start_with(|c| c.ingest_tenant_eps = 0.01).await;
    let keys = people(&server).await;
    assert_eq!(
        post_hook(&server, &keys["ana"], stop_hook(0))
            .await
            .status(),
        204
    );
    let r = post_hook(&server, &keys["bo"], stop_hook(1)).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    server.shutdown().await;
}

#[tokio::test]
async fn the_sessions_and_tools_resources_write_and_read() {
    let mut server = TestServer::start().await;
    let keys = people(&server).await;
    let ana = &keys["ana"];
    let send = |method: Method, path: &'static str, body: Value| {
        let r = client()
            .request(method, server.url(path))
            .header("x-api-key", ana)
            .json(&body)
            .send();
        async move {
            let r = r.await.unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let start = json!({ "session_id": "rest-1", "started_at": "2025-09-03T09:00:00Z",
                        "cwd": "/home/ana/shop", "git_branch": "main", "source": "startup" });
    assert_eq!(
        send(Method::POST, "/api/v1/metrics/sessions", start.clone())
            .await
            .0,
        201
    );
    let (status, again) = send(Method::POST, "/api/v1/metrics/sessions", start).await;
    assert_eq!((status, &again["duplicate"]), (200, &json!(true)));
    for (i, (ms, ok)) in [(100, true), (120, true), (5000, false)]
        .into_iter()
        .enumerate()
    {
        let body = json!({ "session_id": "rest-1", "tool_name": "Bash", "tool_use_id": format!("rest-t{i}"),
                           "success": ok, "duration_ms": ms, "timestamp": "2025-09-03T09:05:00Z" });
        assert_eq!(
            send(Method::POST, "/api/v1/metrics/tools", body).await.0,
            201
        );
    }
    let (status, body) = send(
        Method::POST,
        "/api/v1/metrics/tools",
        json!({ "tool_name": 5 }),
    )
    .await;
    assert_eq!(
        (status, body["errors"][0]["pointer"].as_str()),
        (422, Some("/tool_name"))
    );
    let end = json!({ "ended_at": "2025-09-03T10:00:00Z", "reason": "logout" });
    assert_eq!(
        client()
            .put(server.url("/api/v1/metrics/sessions/rest-1"))
            .header("x-api-key", ana)
            .json(&end)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let range = "from=2025-09-01T00:00:00Z&to=2025-10-01T00:00:00Z";
    let (status, list) = call(
        &server,
        Method::GET,
        &format!("/api/v1/metrics/sessions?{range}"),
        Some(ana),
        None,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    let s = &list["sessions"][0];
    assert_eq!(
        (&s["id"], &s["project"], &s["end_reason"]),
        (&json!("rest-1"), &json!("shop"), &json!("logout"))
    );
    assert_eq!(
        (&s["tool_executions"], &s["tool_failures"]),
        (&json!(3), &json!(1))
    );
    assert_eq!(s["ended_at"], "2025-09-03T10:00:00Z");

    let (_, tools) = call(
        &server,
        Method::GET,
        &format!("/api/v1/metrics/tools?{range}"),
        Some(ana),
        None,
    )
    .await;
    let bash = &tools["tools"][0];
    assert_eq!(
        (&bash["tool"], &bash["executions"], &bash["failures"]),
        (&json!("Bash"), &json!(3), &json!(1))
    );
    assert_eq!(bash["p50_duration_ms"], 128, "{bash}");
    assert_eq!(bash["p95_duration_ms"], 8192, "{bash}");

    // Someone else's session: not found for a developer, visible to the tenant admin.
    let (status, _) = call(
        &server,
        Method::GET,
        "/api/v1/metrics/sessions/rest-1",
        Some(&keys["bo"]),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let (status, one) = call(
        &server,
        Method::GET,
        "/api/v1/metrics/sessions/rest-1",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        (status.as_u16(), &one["email"]),
        (200, &json!("ana@demo.test"))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn requests_without_a_cost_are_priced_from_the_table_and_the_tenants_overrides() {
    let server = TestServer::start().await;
    let keys = people(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let send = |id: &str, model: &str| {
        json!({ "type": "api_request", "timestamp": "2025-09-01T10:00:00Z", "request_id": id,
                "model": model, "session_id": "priced", "input_tokens": 1_000_000,
                "output_tokens": 1_000_000, "cache_creation_tokens": 2_000_000,
                "cache_creation_1h_tokens": 1_000_000, "cache_read_tokens": 1_000_000 })
    };
    let post = |items: Vec<Value>| {
        let url = server.url("/api/v1/ingest/batch");
        let key = keys["ana"].clone();
        async move {
            let r = client()
                .post(url)
                .bearer_auth(key)
                .json(&items)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    // Shipped price: 3 + 15 + 3.75 (5-minute writes) + 6 (1-hour writes, 2x input) + 0.3.
    post(vec![send("r1", "claude-sonnet-4-5-20250929")]).await;
    let (status, _) = call(
        &server,
        Method::PUT,
        "/api/v1/prices/claude-sonnet-4-5-20250929",
        Some(&keys["ana"]),
        Some(json!({ "input": 1.0, "output": 1.0, "cache_write": 1.0, "cache_read": 1.0 })),
    )
    .await;
    assert_eq!(status, 403, "an API key does not set prices");
    let (status, body) = call(
        &server,
        Method::PUT,
        "/api/v1/prices/claude-sonnet-4-5-20250929",
        Some(&admin),
        Some(json!({ "input": 1.0, "output": 1.0, "cache_write": 1.0, "cache_read": 1.0 })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // The tenant's price from now on: 1 + 1 + 1 + 2 + 1.
    post(vec![send("r2", "claude-sonnet-4-5-20250929")]).await;
    let s = summary(&server, &admin).await;
    let cost = totals_of(&s, "ana@demo.test")["cost_usd"].as_f64().unwrap();
    assert!((cost - (28.05 + 6.0)).abs() < 1e-6, "{cost}");
    let (_, prices) = call(&server, Method::GET, "/api/v1/prices", Some(&admin), None).await;
    let row = prices
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["model"] == "claude-sonnet-4-5-20250929")
        .unwrap();
    assert_eq!(row["source"], "tenant", "{row}");
    let (status, body) = call(
        &server,
        Method::PUT,
        "/api/v1/prices/x",
        Some(&admin),
        Some(json!({ "input": -1.0, "output": 1.0, "cache_write": 1.0, "cache_read": 1.0 })),
    )
    .await;
    assert_eq!(status, 422, "{body}");
}

/// History imported first and then reported live as well (a laptop's spooled hooks, or OTLP,
/// arriving after `devpulse import`): rolling the import back must keep what the live
/// sources reported, and take out only what the import alone brought.
#[tokio::test]
async fn rolling_back_an_import_keeps_what_live_sources_also_reported() {
    let mut server = TestServer::start().await;
    let keys = people(&server).await;
    let key = &keys["bo"];
    let (status, batch) = call(
        &server,
        Method::POST,
        "/api/v1/imports",
        Some(key),
        Some(json!({ "source": "test" })),
    )
    .await;
    assert_eq!(status, 201, "{batch}");
    let batch = batch["id"].as_str().unwrap().to_string();
    let at = |m: u32| format!("2025-09-03T10:{m:02}:00Z");
    let items = json!([
        { "type": "session_start", "session_id": "imp", "timestamp": at(0), "cwd": "/home/bo/app" },
        { "type": "tool_use", "session_id": "imp", "tool_name": "Bash", "tool_use_id": "t-both",
          "success": true, "duration_ms": 100, "timestamp": at(1) },
        { "type": "tool_use", "session_id": "imp", "tool_name": "Read", "tool_use_id": "t-import",
          "success": true, "duration_ms": 100, "timestamp": at(2) },
        { "type": "api_request", "session_id": "imp", "request_id": "r-both", "model": "claude-sonnet-4-5",
          "input_tokens": 100, "output_tokens": 10, "cost_usd": 0.5, "timestamp": at(3) },
        { "type": "api_request", "session_id": "imp", "request_id": "r-import", "model": "claude-sonnet-4-5",
          "input_tokens": 1000, "output_tokens": 1000, "cost_usd": 2.0, "timestamp": at(4) },
    ]);
    let r = client()
        .post(server.url("/api/v1/ingest/batch"))
        .bearer_auth(key)
        .header("devpulse-import-batch", &batch)
        .json(&items)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    // Then the same tool run through a hook and the same request through OTLP.
    let hook = post_hook(
        &server,
        key,
        json!({ "session_id": "imp", "hook_event_name": "PostToolUse", "tool_name": "Bash",
                "tool_use_id": "t-both", "_at": at(1), "tool_response": { "ok": true } }),
    )
    .await;
    assert_eq!(hook.status(), 204);
    let nanos = chrono::DateTime::parse_from_rfc3339(&at(3))
        .unwrap()
        .timestamp_nanos_opt()
        .unwrap()
        .to_string();
    let attr = |k: &str, v: &str| json!({ "key": k, "value": { "stringValue": v } });
    let logs = json!({ "resourceLogs": [{ "scopeLogs": [{ "logRecords": [{
        "timeUnixNano": nanos,
        "body": { "stringValue": "claude_code.api_request" },
        "attributes": [
            attr("session.id", "imp"), attr("event.name", "api_request"),
            attr("request_id", "r-both"), attr("model", "claude-sonnet-4-5"),
            attr("input_tokens", "100"), attr("output_tokens", "10"), attr("cost_usd", "0.5"),
        ],
    }] }] }] });
    let r = client()
        .post(server.url("/v1/logs"))
        .bearer_auth(key)
        .json(&logs)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let before = summary(&server, key).await;
    let t = totals_of(&before, "bo@demo.test");
    assert_eq!(
        (t["tool_executions"].clone(), t["api_requests"].clone()),
        (json!(2), json!(2)),
        "{t}"
    );

    let (status, body) = call(
        &server,
        Method::DELETE,
        &format!("/api/v1/imports/{batch}"),
        Some(key),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let after = summary(&server, key).await;
    let t = totals_of(&after, "bo@demo.test");
    assert_eq!(
        t["sessions"], 1,
        "the live reports refer to the session: {t}"
    );
    assert_eq!(t["tool_executions"], 1, "{t}");
    assert_eq!(t["by_tool"], json!({ "Bash": 1 }), "{t}");
    assert_eq!(t["api_requests"], 1, "{t}");
    assert_eq!(t["input_tokens"], 100, "{t}");
    assert_eq!(t["output_tokens"], 10, "{t}");
    assert_eq!(t["cost_usd"], 0.5, "{t}");
    server.shutdown().await;
}

/// A session that sent only OTLP counters, then had requests imported (which replace its
/// counters), counts its counters again once that import is rolled back.
#[tokio::test]
async fn rolling_back_an_import_gives_a_session_its_counters_back() {
    let mut server = TestServer::start().await;
    let keys = people(&server).await;
    let key = &keys["chen"];
    let input = |session: &str, tokens: f64| {
        let attr = |k: &str, v: &str| json!({ "key": k, "value": { "stringValue": v } });
        json!({ "resourceMetrics": [{ "scopeMetrics": [{ "metrics": [{
            "name": "claude_code.token.usage", "unit": "tokens",
            "sum": { "aggregationTemporality": 1, "isMonotonic": true, "dataPoints": [{
                "attributes": [attr("session.id", session), attr("type", "input"),
                               attr("model", "claude-sonnet-4-5")],
                "startTimeUnixNano": "1756893600000000000",
                "timeUnixNano": "1756893660000000000",
                "asDouble": tokens,
            }] },
        }] }] }] })
    };
    for body in [input("ctr", 700.0), input("other", 5.0)] {
        let r = client()
            .post(server.url("/v1/metrics"))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    let input_tokens = |s: &Value| totals_of(s, "chen@demo.test")["input_tokens"].clone();
    assert_eq!(input_tokens(&summary(&server, key).await), 705);

    let (status, batch) = call(
        &server,
        Method::POST,
        "/api/v1/imports",
        Some(key),
        Some(json!({ "source": "test" })),
    )
    .await;
    assert_eq!(status, 201, "{batch}");
    let batch = batch["id"].as_str().unwrap().to_string();
    let r = client()
        .post(server.url("/api/v1/ingest/batch"))
        .bearer_auth(key)
        .header("devpulse-import-batch", &batch)
        .json(
            &json!([{ "type": "api_request", "session_id": "ctr", "request_id": "r1",
            "model": "claude-sonnet-4-5", "input_tokens": 100, "output_tokens": 1,
            "cost_usd": 0.1, "timestamp": "2025-09-03T10:00:30Z" }]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // The request replaces the session's counters (they report the same usage).
    assert_eq!(input_tokens(&summary(&server, key).await), 105);

    let (status, body) = call(
        &server,
        Method::DELETE,
        &format!("/api/v1/imports/{batch}"),
        Some(key),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(input_tokens(&summary(&server, key).await), 705);
    server.shutdown().await;
}

/// The README's settings.json block parses and sends every event devpulse counts.
#[test]
fn the_readme_hook_settings_parse_and_name_every_counted_event() {
    let readme = std::fs::read_to_string(common::server_dir().join("../README.md")).unwrap();
    let block = readme
        .split("```json\n")
        .map(|b| b.split("```").next().unwrap())
        .find(|b| b.contains("\"hooks\""))
        .expect("a settings.json block");
    let settings: Value = serde_json::from_str(block).expect("the block is JSON");
    for event in [
        "PreToolUse",
        "PostToolUse",
        "PostToolUseFailure",
        "SessionStart",
        "SessionEnd",
        "UserPromptSubmit",
    ] {
        let handler = &settings["hooks"][event][0]["hooks"][0];
        assert_eq!(handler["type"], "http", "{event}");
        assert!(
            handler["url"]
                .as_str()
                .is_some_and(|u| u.ends_with("/api/v1/hooks/claude-code")),
            "{event}"
        );
    }
}

fn count_lines(path: &str, needle: &str) -> usize {
    lines(fixtures().join(path))
        .iter()
        .map(|l| l.matches(needle).count())
        .sum()
}

/// Prompts count once per prompt id whether hooks, OTLP or both report them; sessions carry
/// their source, agent runs and subagent types, the other counters and the legacy score.
#[tokio::test]
async fn prompts_active_time_and_the_session_model_follow_every_source() {
    let mut server = TestServer::start().await;
    let keys = people(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let hooks = lines(fixtures().join("hooks/ana.ndjson"));
    for line in &hooks {
        let r = post_hook(&server, &keys["ana"], serde_json::from_str(line).unwrap()).await;
        assert_eq!(r.status(), 204);
    }
    let prompts = count_lines("hooks/ana.ndjson", "\"UserPromptSubmit\"");
    assert_eq!(
        prompts,
        count_lines("otlp/logs-ana.json", "\"user_prompt\""),
        "the fixtures report each prompt through both"
    );
    let s = summary(&server, &admin).await;
    assert_eq!(totals_of(&s, "ana@demo.test")["prompts"], prompts);

    let http = client();
    for file in ["otlp/logs-ana.json", "otlp/metrics-ana.json"] {
        let path = if file.contains("logs") {
            "/v1/logs"
        } else {
            "/v1/metrics"
        };
        for line in lines(fixtures().join(file)) {
            let r = http
                .post(server.url(path))
                .bearer_auth(&keys["ana"])
                .header("content-type", "application/json")
                .body(line)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
    }
    let s = summary(&server, &admin).await;
    let ana = totals_of(&s, "ana@demo.test");
    assert_eq!(
        ana["prompts"], prompts,
        "OTLP's prompts are the hooks' prompts"
    );
    // Active time: every active_time.total point, in milliseconds.
    let mut active_ms = 0i64;
    for line in lines(fixtures().join("otlp/metrics-ana.json")) {
        let v: Value = serde_json::from_str(&line).unwrap();
        for m in v["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
            .as_array()
            .unwrap()
        {
            if m["name"] == "claude_code.active_time.total" {
                for p in m["sum"]["dataPoints"].as_array().unwrap() {
                    let secs = p["asDouble"]
                        .as_f64()
                        .unwrap_or_else(|| p["asInt"].as_str().unwrap().parse::<f64>().unwrap());
                    active_ms += (secs * 1000.0).round() as i64;
                }
            }
        }
    }
    assert!(active_ms > 0);
    assert_eq!(ana["active_user_ms"], active_ms, "{ana}");

    // The legacy hooks scored ana's sessions; devpulse's score, from the same activity
    // reported by hooks and OTLP, is the same wherever the legacy inputs are the same.
    let (status, session) = call(
        &server,
        Method::GET,
        "/api/v1/metrics/sessions/c9e9c616-612e-4696-a6ce-cc1b78e51061",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["productivity_score"], 8.6, "{session}");
    assert_eq!(session["source"], "hook", "{session}");
    assert_eq!(session["tool_executions"], 9, "{session}");
    assert_eq!(session["prompts"], 2, "{session}");
    let (_, session) = call(
        &server,
        Method::GET,
        "/api/v1/metrics/sessions/513dd1a6-e9d4-4f2b-906e-e2ab101e75eb",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        session["agents"],
        json!(["frontend-developer"]),
        "{session}"
    );
    assert_eq!(session["agent_invocations"], 1, "{session}");
    server.shutdown().await;
}

/// Events of a month without a partition (history imported from long ago) get one before
/// they are written, and rows stranded in the default partition move into theirs at upkeep.
#[tokio::test]
async fn old_months_get_their_own_partitions() {
    let mut server = TestServer::start().await;
    let keys = people(&server).await;
    let (status, answer) = call(
        &server,
        Method::POST,
        "/api/v1/ingest/batch",
        Some(&keys["ana"]),
        Some(
            json!([{ "type": "tool_use", "tool_name": "Read", "tool_use_id": "old-1",
                      "timestamp": "2024-03-05T10:00:00Z" }]),
        ),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 1, "{answer}");
    let pool = sqlx::PgPool::connect(server.db.url()).await.unwrap();
    let rows = |table: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(&format!("SELECT count(*) FROM tenant_demo.{table}"))
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(rows("events_202403").await, 1);
    assert_eq!(rows("events_default").await, 0);

    // A row that landed in the default partition (as before partitions were made on demand)
    // moves to its month's new partition at the next upkeep.
    sqlx::query(
        "INSERT INTO tenant_demo.events_default (occurred_at, key, kind, source, user_id)
         VALUES ('2023-01-02T03:04:05Z', 'stranded', 'other', 'api', gen_random_uuid())",
    )
    .execute(&pool)
    .await
    .unwrap();
    store::migrate::maintain(&pool).await.unwrap();
    assert_eq!(rows("events_default").await, 0);
    assert_eq!(rows("events_202301").await, 1);
    pool.close().await;
    server.shutdown().await;
}

/// The sessions and tools resources answer in the caller's own field names, share the
/// ingestion rate limits, and refuse a bad query parameter with problem+json naming it.
#[tokio::test]
async fn the_rest_resources_name_the_callers_fields() {
    let mut server = TestServer::start_with(|c| c.ingest_key_rps = 1.0).await;
    let keys = people(&server).await;
    let key = &keys["bo"];
    let (status, body) = call(
        &server,
        Method::POST,
        "/api/v1/metrics/sessions",
        Some(key),
        Some(json!({ "session_id": "r1", "started_at": "yesterday", "source": "x".repeat(300) })),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let pointers: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(pointers, ["/started_at", "/source"], "{body}");
    let (status, body) = call(
        &server,
        Method::GET,
        "/api/v1/metrics/sessions?limit=many",
        Some(key),
        None,
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["pointer"], "/limit", "{body}");
    // One request a second (burst two): the writes above and these share the bucket.
    let mut limited = false;
    for i in 0..5 {
        let (status, _) = call(
            &server,
            Method::POST,
            "/api/v1/metrics/tools",
            Some(key),
            Some(json!({ "tool_name": "Read", "tool_use_id": format!("rl-{i}") })),
        )
        .await;
        limited |= status == 429;
    }
    assert!(
        limited,
        "the REST writes are rate limited like every ingestion route"
    );
    server.shutdown().await;
}

fn point(
    name: &str,
    temporality: i32,
    at: u64,
    start: u64,
    value: f64,
    attrs: &[(&str, &str)],
) -> Value {
    let mut attributes = vec![json!({ "key": "session.id", "value": { "stringValue": "c1" } })];
    attributes.extend(
        attrs
            .iter()
            .map(|(k, v)| json!({ "key": k, "value": { "stringValue": v } })),
    );
    json!({ "name": name, "sum": { "aggregationTemporality": temporality, "isMonotonic": true,
        "dataPoints": [{ "startTimeUnixNano": start.to_string(), "timeUnixNano": at.to_string(),
                         "asDouble": value, "attributes": attributes }] } })
}

/// Claude Code's other counters (commits, pull requests, active time, edit decisions) and its
/// api_error events count once, delta or cumulative, however often they are sent.
#[tokio::test]
async fn the_other_counters_count_once_delta_or_cumulative() {
    let mut server = TestServer::start().await;
    let keys = people(&server).await;
    let (start, t1, t2) = (
        1_764_460_000_000_000_000u64,
        1_764_460_800_000_000_000u64,
        1_764_460_860_000_000_000u64,
    );
    let export = |metrics: Vec<Value>| {
        json!({ "resourceMetrics": [{ "scopeMetrics": [{ "metrics": metrics }] }] }).to_string()
    };
    let first = export(vec![
        point(
            "claude_code.active_time.total",
            2,
            t1,
            start,
            10.5,
            &[("type", "cli")],
        ),
        point("claude_code.commit.count", 2, t1, start, 1.0, &[]),
        point("claude_code.pull_request.count", 1, t1, t1 - 1, 2.0, &[]),
        point(
            "claude_code.code_edit_tool.decision",
            1,
            t1,
            t1 - 1,
            4.0,
            &[("decision", "accept"), ("tool_name", "Edit")],
        ),
        point(
            "claude_code.code_edit_tool.decision",
            1,
            t1,
            t1 - 1,
            1.0,
            &[("decision", "reject"), ("tool_name", "Write")],
        ),
    ]);
    // The cumulative series go on: 12 s of CLI time in all, 3 commits.
    let second = export(vec![
        point(
            "claude_code.active_time.total",
            2,
            t2,
            start,
            12.0,
            &[("type", "cli")],
        ),
        point("claude_code.commit.count", 2, t2, start, 3.0, &[]),
    ]);
    let records: Vec<Value> = [1u64, 2]
        .iter()
        .map(|attempt| {
            json!({
                "timeUnixNano": (t1 + attempt).to_string(),
                "attributes": [
                    { "key": "event.name", "value": { "stringValue": "api_error" } },
                    { "key": "session.id", "value": { "stringValue": "c1" } },
                    { "key": "request_id", "value": { "stringValue": "req_failing" } },
                    { "key": "attempt", "value": { "stringValue": attempt.to_string() } },
                    { "key": "status_code", "value": { "stringValue": "529" } },
                ]
            })
        })
        .collect();
    let errors =
        json!({ "resourceLogs": [{ "scopeLogs": [{ "logRecords": records }] }] }).to_string();
    let http = client();
    for _ in 0..2 {
        for (path, body) in [
            ("/v1/metrics", &first),
            ("/v1/metrics", &second),
            ("/v1/logs", &errors),
        ] {
            let r = http
                .post(server.url(path))
                .bearer_auth(&keys["chen"])
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let text = r.text().await.unwrap();
            assert!(!text.contains("rejected"), "{text}");
        }
    }
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let s = summary(&server, &admin).await;
    let chen = totals_of(&s, "chen@demo.test");
    let want = json!({ "active_cli_ms": 12_000, "active_user_ms": 0, "commits": 3,
        "pull_requests": 2, "edits_accepted": 4, "edits_rejected": 1, "api_errors": 2 });
    for (key, value) in want.as_object().unwrap() {
        assert_eq!(&chen[key], value, "{key}: {chen}");
    }
    let (status, session) = call(
        &server,
        Method::GET,
        "/api/v1/metrics/sessions/c1",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 200, "{session}");
    for (key, value) in want.as_object().unwrap() {
        assert_eq!(&session[key], value, "session {key}: {session}");
    }
    server.shutdown().await;
}
