use super::*;

/// Session, tool-use, request and prompt ids come from the clients: a person who learns a
/// colleague's session id must not be able to add to it with their own key. Such events are
/// refused, naming the field, and the rest of the batch is written.
#[tokio::test]
async fn a_key_cannot_add_to_another_persons_session_or_runs() {
    let mut server = TestServer::start().await;
    let keys = people(&server).await;
    let (ana, bo) = (&keys["ana"], &keys["bo"]);
    let batch = |key: &str, items: Value| {
        let r = client()
            .post(server.url("/api/v1/ingest/batch"))
            .bearer_auth(key)
            .json(&items)
            .send();
        async move {
            let r = r.await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = batch(
        ana,
        json!([
            { "type": "session_start", "session_id": "s-ana", "timestamp": "2025-09-04T09:00:00Z" },
            { "type": "api_request", "session_id": "s-ana", "request_id": "r-ana", "model": "claude-opus-4-1-20250805",
              "input_tokens": 10, "output_tokens": 20, "cost_usd": 1.0, "timestamp": "2025-09-04T09:01:00Z" },
            { "type": "tool_use", "session_id": "s-ana", "tool_name": "Bash", "tool_use_id": "t-ana",
              "success": true, "duration_ms": 100, "timestamp": "2025-09-04T09:02:00Z" }
        ]),
    )
    .await;
    assert_eq!((status, &body["accepted"]), (200, &json!(3)), "{body}");
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let session = || {
        call(
            &server,
            Method::GET,
            "/api/v1/metrics/sessions/s-ana",
            Some(&admin),
            None,
        )
    };
    let (status, before) = session().await;
    assert_eq!(status, 200, "{before}");
    let summary_path =
        "/api/v1/dashboard/summary?from=2025-09-01T00:00:00Z&to=2025-10-01T00:00:00Z";
    let total = || call(&server, Method::GET, summary_path, Some(&admin), None);
    let (_, total_before) = total().await;

    // Bo names ana's session, her tool run and her request; his own session goes in.
    let (status, body) = batch(
        bo,
        json!([
            { "type": "api_request", "session_id": "s-ana", "request_id": "r-bo", "model": "claude-opus-4-1-20250805",
              "input_tokens": 1000, "output_tokens": 2000, "cost_usd": 50.0, "timestamp": "2025-09-04T09:03:00Z" },
            { "type": "tool_use", "session_id": "s-bo", "tool_name": "Bash", "tool_use_id": "t-ana",
              "success": false, "duration_ms": 9000, "timestamp": "2025-09-04T09:04:00Z" },
            { "type": "api_request", "session_id": "s-bo", "request_id": "r-ana", "model": "claude-opus-4-1-20250805",
              "input_tokens": 1, "output_tokens": 1, "cost_usd": 7.0, "timestamp": "2025-09-04T09:05:00Z" },
            { "type": "session_end", "session_id": "s-ana", "reason": "logout", "timestamp": "2025-09-04T09:06:00Z" },
            { "type": "session_start", "session_id": "s-bo", "timestamp": "2025-09-04T09:00:30Z" }
        ]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["accepted"], &body["rejected"]),
        (&json!(1), &json!(4)),
        "{body}"
    );
    for (i, field) in [
        (0, "session_id"),
        (1, "tool_use_id"),
        (2, "request_id"),
        (3, "session_id"),
    ] {
        assert_eq!(body["items"][i]["status"], "rejected", "{body}");
        assert_eq!(
            body["items"][i]["errors"][0]["pointer"],
            format!("/{i}/{field}"),
            "{body}"
        );
    }
    assert_eq!(body["items"][4]["status"], "accepted", "{body}");

    // One event at a time: a 422 problem naming the field.
    let r = post_hook(
        &server,
        bo,
        json!({ "session_id": "s-ana", "hook_event_name": "Stop", "_at": "2025-09-04T09:07:00Z" }),
    )
    .await;
    assert_eq!(r.status(), 422);
    let problem: Value = r.json().await.unwrap();
    assert_eq!(problem["errors"][0]["pointer"], "/session_id", "{problem}");
    let r = client()
        .put(server.url("/api/v1/metrics/sessions/s-ana"))
        .header("x-api-key", bo)
        .json(&json!({ "ended_at": "2025-09-04T09:08:00Z", "reason": "other" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let problem: Value = r.json().await.unwrap();
    assert_eq!(problem["errors"][0]["pointer"], "/session_id", "{problem}");

    // Ana's session, run and request are as she left them; the totals moved only by bo's own
    // session.
    let (_, after) = session().await;
    assert_eq!(after, before, "ana's session changed");
    let (_, total_after) = total().await;
    assert_eq!(
        total_after["total"]["cost_usd"],
        total_before["total"]["cost_usd"]
    );
    assert_eq!(
        total_after["total"]["tool_executions"],
        total_before["total"]["tool_executions"]
    );
    assert_eq!(
        total_after["total"]["api_requests"],
        total_before["total"]["api_requests"]
    );
    assert_eq!(
        total_after["total"]["sessions"].as_i64(),
        total_before["total"]["sessions"].as_i64().map(|n| n + 1)
    );
    server.shutdown().await;
}
