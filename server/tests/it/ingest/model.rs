use super::*;

/// The README's settings.json block parses and sends every event devpulse counts.
#[test]
fn the_readme_hook_settings_parse_and_name_every_counted_event() {
    let readme = std::fs::read_to_string(crate::common::server_dir().join("../README.md")).unwrap();
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
