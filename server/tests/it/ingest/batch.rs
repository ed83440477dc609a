use super::*;

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
