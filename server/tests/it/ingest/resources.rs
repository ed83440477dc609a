use super::*;

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
