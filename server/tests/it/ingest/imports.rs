use super::*;

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

/// The imports page: a person lists and rolls back their own batches, a tenant admin
/// everyone's; the figures are the importer's, the events what is stored.
#[tokio::test]
async fn the_imports_page_shows_own_batches_to_people_and_all_to_admins() {
    let mut server = TestServer::start().await;
    let keys = people(&server).await;
    let open = |key: String, host: &'static str| {
        let url = server.url("/api/v1/imports");
        async move {
            let r = client()
                .post(url)
                .bearer_auth(key)
                .json(&json!({ "source": "devpulse import 0.1.0", "host": host }))
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let bo = open(keys["bo"].clone(), "bo-laptop").await;
    let ana = open(keys["ana"].clone(), "ana-laptop").await;
    let items = json!([
        { "type": "tool_use", "session_id": "old", "tool_name": "Read", "tool_use_id": "i1",
          "success": true, "duration_ms": 5, "timestamp": "2025-06-01T10:00:00Z" },
        { "type": "tool_use", "session_id": "old", "tool_name": "Bash", "tool_use_id": "i2",
          "success": true, "duration_ms": 5, "timestamp": "2025-06-01T10:01:00Z" },
    ]);
    let r = client()
        .post(server.url("/api/v1/ingest/batch"))
        .bearer_auth(&keys["bo"])
        .header("devpulse-import-batch", &bo)
        .json(&items)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, _) = call(
        &server,
        Method::POST,
        &format!("/api/v1/imports/{bo}/finish"),
        Some(&keys["bo"]),
        Some(json!({ "lines": 3, "accepted": 2, "duplicates": 0, "rejected": 0, "skipped_lines": 1 })),
    )
    .await;
    assert_eq!(status, 200);

    let bo_session = login(&server, "demo", "bo@demo.test", "bo-password-123").await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let hosts = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|b| b["host"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, own) = crate::common::server_fn(&server, &bo_session, "imports/list", &[]).await;
    assert_eq!(hosts(&own), ["bo-laptop"]);
    assert_eq!(own[0]["events"], 2);
    assert_eq!(own[0]["owner"], "bo@demo.test");
    assert_eq!(own[0]["stats"]["skipped_lines"], 1);
    let (_, all) = call(
        &server,
        Method::GET,
        "/api/v1/import-batches",
        Some(&admin),
        None,
    )
    .await;
    let mut all = hosts(&all);
    all.sort();
    assert_eq!(all, ["ana-laptop", "bo-laptop"]);

    // Bo cannot roll back Ana's batch; the admin can roll back Bo's.
    let (status, _) = crate::common::server_fn(
        &server,
        &bo_session,
        "imports/rollback",
        &[("id", ana.as_str())],
    )
    .await;
    assert_eq!(status, 404);
    let (status, done) =
        crate::common::server_fn(&server, &admin, "imports/rollback", &[("id", bo.as_str())]).await;
    assert_eq!(status, 200, "{done}");
    assert!(
        done.as_str().unwrap().starts_with("Rolled back: 2 events"),
        "{done}"
    );
    let (_, after) = call(
        &server,
        Method::GET,
        "/api/v1/import-batches",
        Some(&bo_session),
        None,
    )
    .await;
    assert!(after[0]["rolled_back_at"].is_string());
    assert_eq!(after[0]["events"], 0);
    let (status, _) = call(
        &server,
        Method::DELETE,
        &format!("/api/v1/import-batches/{bo}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 409, "already rolled back");
    server.shutdown().await;
}
