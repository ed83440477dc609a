//! The MCP surface driven by a real rmcp client: in process over a duplex pipe, and over the
//! Streamable HTTP tower service.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use common::{Caller, Memory};
use http_body_util::{BodyExt, Full};
use mcp::{BackendError, Devpulse, StreamableHttpServerConfig};
use rmcp::{
    model::{
        CallToolRequestParams, CallToolResult, ErrorCode, GetPromptRequestParams,
        ReadResourceRequestParams, ResourceContents,
    },
    service::{RoleClient, RunningService},
    ServiceError, ServiceExt,
};
use serde_json::{json, Value};

type Client = RunningService<RoleClient, ()>;

async fn connect(backend: Arc<Memory>) -> Client {
    let (server_io, client_io) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        let running = Devpulse::new(backend).serve(server_io).await.unwrap();
        let _ = running.waiting().await;
    });
    ().serve(client_io).await.unwrap()
}

async fn try_call(
    client: &Client,
    tool: &str,
    args: Value,
) -> Result<CallToolResult, ServiceError> {
    let Value::Object(args) = args else {
        panic!("arguments are an object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(args))
        .await
}

async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    try_call(client, tool, args).await.unwrap()
}

fn text(r: &CallToolResult, i: usize) -> &str {
    &r.content[i].as_text().expect("text content").text
}

/// A tool's argument error: an error result naming `field`.
async fn assert_bad_argument(client: &Client, tool: &str, args: Value, field: &str) {
    let r = call(client, tool, args.clone()).await;
    assert_eq!(r.is_error, Some(true), "{tool} {args}: {r:?}");
    assert!(
        text(&r, 0).contains(field),
        "{tool} {args}: {}",
        text(&r, 0)
    );
}

#[tokio::test]
async fn lists_six_tools_with_input_schemas() {
    let client = connect(Memory::new()).await;
    let info = client.peer_info().unwrap();
    assert_eq!(info.server_info.as_ref().unwrap().name, "devpulse");
    assert_eq!(
        info.server_info.as_ref().unwrap().version,
        env!("CARGO_PKG_VERSION")
    );
    let caps = &info.capabilities;
    assert!(caps.tools.is_some() && caps.resources.is_some() && caps.prompts.is_some());
    assert!(info.instructions.as_deref().unwrap().contains("devpulse"));

    let tools = client.list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "get_session_metrics",
            "get_tool_metrics",
            "query_dashboard",
            "record_session_end",
            "record_session_start",
            "record_tool_usage",
        ]
    );
    let schema = |name: &str| {
        let tool = tools.iter().find(|t| t.name == name).unwrap();
        assert!(tool.description.as_deref().is_some_and(|d| !d.is_empty()));
        Value::Object((*tool.input_schema).clone())
    };
    for t in &tools {
        assert_eq!(schema(&t.name)["type"], "object", "{}", t.name);
    }
    let start = schema("record_session_start");
    assert_eq!(start["required"], json!(["session_id"]));
    assert_eq!(start["properties"]["session_id"]["maxLength"], 200);
    assert_eq!(start["properties"]["timestamp"]["format"], "date-time");
    assert_eq!(start["additionalProperties"], false);
    assert_eq!(
        schema("record_tool_usage")["required"],
        json!(["tool_name"])
    );
    let dashboard = schema("query_dashboard");
    assert_eq!(dashboard["required"], json!(["timeframe"]));
    let enums = dashboard.to_string();
    for v in [
        "1h",
        "24h",
        "7d",
        "30d",
        "markdown",
        "cache_read_tokens",
        "by_model",
    ] {
        assert!(enums.contains(&format!("\"{v}\"")), "{v} in {enums}");
    }
    let sessions = schema("get_session_metrics");
    assert_eq!(sessions["properties"]["limit"]["maximum"], 100);
    assert!(sessions.get("required").is_none_or(|r| r == &json!([])));
}

#[tokio::test]
async fn records_sessions_once() {
    let backend = Memory::new();
    let client = connect(backend.clone()).await;
    let args = json!({"session_id": "s1", "cwd": "/src/app", "git_branch": "main",
        "model": "claude-sonnet-4-5", "timestamp": "2025-09-01T14:00:00+02:00"});
    let r = call(&client, "record_session_start", args.clone()).await;
    assert_eq!(r.is_error, Some(false));
    assert_eq!(text(&r, 0), "Recorded the start of session `s1`.");
    assert_eq!(r.structured_content.as_ref().unwrap()["accepted"], 1);
    let again = call(&client, "record_session_start", args).await;
    assert!(text(&again, 0).starts_with("Already recorded"), "{again:?}");
    assert_eq!(again.structured_content.unwrap()["duplicates"], 1);

    let end = call(
        &client,
        "record_session_end",
        json!({"session_id": "s1", "reason": "logout"}),
    )
    .await;
    assert_eq!(text(&end, 0), "Recorded the end of session `s1`.");

    let items = backend.items.lock().unwrap().clone();
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[0],
        json!({"type": "session_start", "id": "mcp:session_start:s1", "session_id": "s1",
            "timestamp": "2025-09-01T12:00:00Z", "cwd": "/src/app", "git_branch": "main",
            "model": "claude-sonnet-4-5"})
    );
    assert_eq!(items[1]["type"], "session_end");
    assert_eq!(items[1]["id"], "mcp:session_end:s1");
    assert_eq!(items[1]["reason"], "logout");
    let at: DateTime<Utc> = items[1]["timestamp"].as_str().unwrap().parse().unwrap();
    assert!(
        (Utc::now() - at).abs() < TimeDelta::minutes(1),
        "defaults to now"
    );
}

#[tokio::test]
async fn records_tool_usage_with_generated_or_given_ids() {
    let backend = Memory::new();
    let client = connect(backend.clone()).await;
    for _ in 0..2 {
        let r = call(&client, "record_tool_usage", json!({"tool_name": "Bash"})).await;
        assert!(text(&r, 0).starts_with("Recorded a use of `Bash`"), "{r:?}");
    }
    let args = json!({"tool_name": "Edit", "session_id": "s1", "success": false,
        "duration_ms": 120, "tool_use_id": "toolu_1"});
    call(&client, "record_tool_usage", args.clone()).await;
    let again = call(&client, "record_tool_usage", args).await;
    assert!(text(&again, 0).starts_with("Already recorded"), "{again:?}");

    let items = backend.items.lock().unwrap().clone();
    assert_eq!(items.len(), 3);
    assert_ne!(items[0]["id"], items[1]["id"], "generated ids are unique");
    assert!(items[0]["id"]
        .as_str()
        .unwrap()
        .starts_with("mcp:tool_use:"));
    assert_eq!(items[0]["success"], true, "success defaults to true");
    assert!(items[0].get("tool_use_id").is_none());
    assert_eq!(items[2]["tool_use_id"], "toolu_1");
    assert_eq!(items[2]["success"], false);
    assert_eq!(items[2]["duration_ms"], 120);
    assert_eq!(items[2]["session_id"], "s1");
}

#[tokio::test]
async fn reports_items_the_backend_rejects() {
    let client = connect(Memory::new()).await;
    let future = (Utc::now() + TimeDelta::days(3)).to_rfc3339();
    let r = call(
        &client,
        "record_session_start",
        json!({"session_id": "s1", "timestamp": future}),
    )
    .await;
    assert_eq!(r.is_error, Some(true));
    assert_eq!(
        text(&r, 0),
        "devpulse rejected the start of session `s1`: `timestamp` is more than 24 hours in \
         the future"
    );
}

#[tokio::test]
async fn reads_sessions_and_tools() {
    let client = connect(Memory::new()).await;
    for (id, minutes_ago) in [("a", 30), ("b", 20), ("c", 10)] {
        let at = Utc::now() - TimeDelta::minutes(minutes_ago);
        call(
            &client,
            "record_session_start",
            json!({"session_id": id, "timestamp": at.to_rfc3339()}),
        )
        .await;
    }
    for (tool, success) in [("Bash", true), ("Bash", false), ("Read", true)] {
        call(
            &client,
            "record_tool_usage",
            json!({"tool_name": tool, "session_id": "a", "success": success, "duration_ms": 10}),
        )
        .await;
    }

    let r = call(&client, "get_session_metrics", json!({"limit": 2})).await;
    let v = r.structured_content.clone().unwrap();
    assert_eq!(v["sessions"].as_array().unwrap().len(), 2);
    assert!(text(&r, 0).starts_with("2 sessions started in the last 24h (more exist"));
    assert!(text(&r, 0).contains("| Session |"), "{}", text(&r, 0));
    assert_eq!(
        serde_json::from_str::<Value>(text(&r, 1)).unwrap(),
        v,
        "the JSON as text too"
    );

    let r = call(&client, "get_session_metrics", json!({"session_id": "a"})).await;
    assert_eq!(r.structured_content.as_ref().unwrap()["tool_executions"], 3);
    assert!(
        text(&r, 0).contains("3 tool executions (1 failed)"),
        "{}",
        text(&r, 0)
    );
    let missing = call(&client, "get_session_metrics", json!({"session_id": "zz"})).await;
    assert_eq!(missing.is_error, Some(true));
    assert!(text(&missing, 0).contains("no session `zz`"));

    let hour_ago = call(
        &client,
        "get_session_metrics",
        json!({"timeframe": "1h", "limit": 100}),
    )
    .await;
    assert_eq!(
        hour_ago.structured_content.unwrap()["sessions"][2]["id"],
        "a"
    );

    let r = call(&client, "get_tool_metrics", json!({"timeframe": "7d"})).await;
    let tools = r.structured_content.clone().unwrap()["tools"].clone();
    assert_eq!(tools[0]["tool"], "Bash");
    assert_eq!(tools[0]["executions"], 2);
    assert_eq!(tools[0]["failures"], 1);
    assert!(
        text(&r, 0).contains("| Bash | 2 | 1 | 50.0% | 10 |"),
        "{}",
        text(&r, 0)
    );
}

#[tokio::test]
async fn queries_the_dashboard_as_markdown_or_json() {
    let client = connect(Memory::new()).await;
    call(&client, "record_session_start", json!({"session_id": "a"})).await;
    call(&client, "record_tool_usage", json!({"tool_name": "Bash"})).await;

    let md = call(&client, "query_dashboard", json!({"timeframe": "24h"})).await;
    let md = text(&md, 0);
    assert!(md.starts_with("### devpulse dashboard, last 24h"), "{md}");
    assert!(md.contains("| sessions | 1 |"), "{md}");
    assert!(md.contains("| cost_usd | $0.2500 |"), "{md}");
    assert!(md.contains("| by_tool | Bash 1 |"), "{md}");
    assert!(
        md.contains("| by_model | claude-sonnet-4-5: 4 requests, $0.2500 |"),
        "{md}"
    );
    assert!(md.contains("#### Per person"), "{md}");
    assert!(md.contains("| local@example.com | 1 |"), "{md}");

    let r = call(
        &client,
        "query_dashboard",
        json!({"timeframe": "7d", "metrics": ["tool_executions", "cost_usd"], "format": "json"}),
    )
    .await;
    let v: Value = serde_json::from_str(text(&r, 0)).unwrap();
    assert_eq!(Some(&v), r.structured_content.as_ref());
    assert_eq!(v["timeframe"], "7d");
    assert_eq!(v["total"], json!({"tool_executions": 1, "cost_usd": 0.25}));
    assert_eq!(
        v["users"],
        json!([{"user_id": "local", "email": "local@example.com", "tool_executions": 1,
            "cost_usd": 0.25}])
    );
    let to: DateTime<Utc> = serde_json::from_value(v["to"].clone()).unwrap();
    let from: DateTime<Utc> = serde_json::from_value(v["from"].clone()).unwrap();
    assert_eq!(to - from, TimeDelta::days(7));
    assert!((Utc::now() - to).abs() < TimeDelta::minutes(1), "ends now");
}

#[tokio::test]
async fn bad_arguments_are_errors_naming_the_field() {
    let backend = Memory::new();
    let client = connect(backend.clone()).await;
    let cases = [
        ("record_session_start", json!({}), "session_id"),
        (
            "record_session_start",
            json!({"session_id": ""}),
            "`session_id`",
        ),
        (
            "record_session_start",
            json!({"session_id": "s".repeat(201)}),
            "`session_id`",
        ),
        (
            "record_session_start",
            json!({"session_id": "s", "timestamp": "yesterday"}),
            "`timestamp`",
        ),
        (
            "record_session_start",
            json!({"session_id": "s", "colour": "red"}),
            "colour",
        ),
        ("record_session_end", json!({"reason": "x"}), "session_id"),
        ("record_tool_usage", json!({"success": true}), "tool_name"),
        (
            "record_tool_usage",
            json!({"tool_name": "Bash", "duration_ms": -1}),
            "`duration_ms`",
        ),
        (
            "get_session_metrics",
            json!({"timeframe": "2h"}),
            "`timeframe`",
        ),
        ("get_session_metrics", json!({"limit": 101}), "`limit`"),
        ("get_tool_metrics", json!({"timeframe": 24}), "`timeframe`"),
        ("query_dashboard", json!({}), "timeframe"),
        ("query_dashboard", json!({"timeframe": "1d"}), "`timeframe`"),
        (
            "query_dashboard",
            json!({"timeframe": "1h", "metrics": ["sessions", "happiness"]}),
            "`metrics[1]`: unknown variant `happiness`",
        ),
        (
            "query_dashboard",
            json!({"timeframe": "1h", "format": "html"}),
            "`format`",
        ),
    ];
    for (tool, args, field) in cases {
        assert_bad_argument(&client, tool, args, field).await;
    }
    assert!(backend.items.lock().unwrap().is_empty());
    assert!(
        backend.callers.lock().unwrap().is_empty(),
        "the backend is not called"
    );

    let e = try_call(&client, "no_such_tool", json!({}))
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::McpError(e) if e.code == ErrorCode::INVALID_PARAMS));
}

#[tokio::test]
async fn backend_errors_become_mcp_errors() {
    let backend = Memory::new();
    let client = connect(backend.clone()).await;
    let cases = [
        (
            BackendError::Invalid("`from` is too early".into()),
            ErrorCode::INVALID_PARAMS,
        ),
        (
            BackendError::Forbidden("not yours".into()),
            ErrorCode::INVALID_REQUEST,
        ),
        (
            BackendError::Unavailable("the database is down".into()),
            ErrorCode::INTERNAL_ERROR,
        ),
    ];
    for (error, code) in cases {
        *backend.fail.lock().unwrap() = Some(error.clone());
        let e = try_call(&client, "get_tool_metrics", json!({}))
            .await
            .unwrap_err();
        let ServiceError::McpError(e) = e else {
            panic!("{e:?}")
        };
        assert_eq!(e.code, code);
        assert_eq!(e.message, error.to_string());
        let e = client
            .read_resource(ReadResourceRequestParams::new(mcp::SUMMARY_URI))
            .await
            .unwrap_err();
        assert!(matches!(e, ServiceError::McpError(e) if e.code == code));
    }
}

fn resource_json(contents: &[ResourceContents]) -> Value {
    let [ResourceContents::TextResourceContents {
        text, mime_type, ..
    }] = contents
    else {
        panic!("one text content: {contents:?}")
    };
    assert_eq!(mime_type.as_deref(), Some("application/json"));
    serde_json::from_str(text).unwrap()
}

#[tokio::test]
async fn reads_both_resources() {
    let backend = Memory::new();
    let client = connect(backend.clone()).await;
    call(&client, "record_session_start", json!({"session_id": "a"})).await;

    let mut uris: Vec<String> = client
        .list_all_resources()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.uri.clone())
        .collect();
    uris.sort();
    assert_eq!(
        uris,
        ["devpulse://summary/current", "devpulse://trends/daily"]
    );

    let summary = client
        .read_resource(ReadResourceRequestParams::new("devpulse://summary/current"))
        .await
        .unwrap();
    let v = resource_json(&summary.contents);
    assert_eq!(v["total"]["sessions"], 1);
    let range = backend.ranges.lock().unwrap()[0];
    assert_eq!(range.to - range.from, TimeDelta::hours(24));

    backend.ranges.lock().unwrap().clear();
    let trends = client
        .read_resource(ReadResourceRequestParams::new("devpulse://trends/daily"))
        .await
        .unwrap();
    let days = resource_json(&trends.contents);
    let days = days.as_array().unwrap();
    assert_eq!(days.len(), 7);
    let today = Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(days[6]["date"], today.as_str());
    assert_eq!(days[6]["totals"]["sessions"], 1, "today has the session");
    assert_eq!(days[0]["totals"]["sessions"], 0);
    assert!(days[0]["date"].as_str().unwrap() < days[1]["date"].as_str().unwrap());
    let mut ranges = backend.ranges.lock().unwrap().clone();
    ranges.sort_by_key(|r| r.from);
    assert_eq!(ranges.len(), 7);
    for pair in ranges.windows(2) {
        assert_eq!(pair[0].to, pair[1].from, "consecutive whole days");
        assert_eq!(pair[0].to - pair[0].from, TimeDelta::days(1));
    }

    let e = client
        .read_resource(ReadResourceRequestParams::new("devpulse://nope"))
        .await
        .unwrap_err();
    let ServiceError::McpError(e) = e else {
        panic!("{e:?}")
    };
    assert_eq!(e.code, ErrorCode::RESOURCE_NOT_FOUND);
    assert!(e.message.contains("devpulse://nope"));
}

#[tokio::test]
async fn prompts_for_a_productivity_analysis() {
    let backend = Memory::new();
    let client = connect(backend.clone()).await;
    call(&client, "record_session_start", json!({"session_id": "a"})).await;
    call(&client, "record_tool_usage", json!({"tool_name": "Bash"})).await;

    let prompts = client.list_all_prompts().await.unwrap();
    assert_eq!(prompts.len(), 1);
    assert_eq!(prompts[0].name, "analyze-productivity");
    let args = prompts[0].arguments.as_ref().unwrap();
    assert_eq!(args.len(), 1);
    assert_eq!(args[0].name, "timeframe");
    assert_eq!(args[0].required, Some(false));

    let arguments = json!({"timeframe": "7d"}).as_object().unwrap().clone();
    let p = client
        .get_prompt(GetPromptRequestParams::new("analyze-productivity").with_arguments(arguments))
        .await
        .unwrap();
    assert_eq!(p.messages.len(), 1);
    let rmcp::model::ContentBlock::Text(t) = &p.messages[0].content else {
        panic!("text")
    };
    let t = &t.text;
    assert!(t.contains("over the last 7d"), "{t}");
    assert!(t.contains("cost per session $0.2500"), "{t}");
    assert!(t.contains("\"tool_executions\": 1"), "{t}");
    assert!(t.contains("\"tool\": \"Bash\""), "{t}");
    assert!(t.to_lowercase().contains("suggestions"), "{t}");
    let range = backend.ranges.lock().unwrap()[0];
    assert_eq!(range.to - range.from, TimeDelta::days(7));

    let default = client
        .get_prompt(GetPromptRequestParams::new("analyze-productivity"))
        .await
        .unwrap();
    assert!(format!("{:?}", default.messages[0]).contains("last 24h"));

    let arguments = json!({"timeframe": "1y"}).as_object().unwrap().clone();
    let e = client
        .get_prompt(GetPromptRequestParams::new("analyze-productivity").with_arguments(arguments))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ServiceError::McpError(e) if e.code == ErrorCode::INVALID_PARAMS
            && e.message.contains("`timeframe`")),
        "{e:?}"
    );
}

/// Over Streamable HTTP, each backend call sees the HTTP request's extensions.
#[tokio::test]
async fn http_requests_reach_the_backend_with_their_parts() {
    let backend = Memory::new();
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None);
    let shared = backend.clone();
    let mut service = mcp::streamable_http_service(move || shared.clone(), config);

    let mut post = |caller: &str, id: u32, tool: &str, args: Value| {
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": tool, "arguments": args}});
        let mut request = http::Request::post("/mcp")
            .header("host", "localhost")
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        request.extensions_mut().insert(Caller(caller.to_string()));
        tower_service::Service::call(&mut service, request)
    };

    let response = post(
        "alice",
        1,
        "record_session_start",
        json!({"session_id": "h1"}),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["id"], 1);
    assert_eq!(v["result"]["structuredContent"]["accepted"], 1, "{v}");

    let response = post(
        "bob",
        2,
        "query_dashboard",
        json!({"timeframe": "1h", "format": "json"}),
    )
    .await
    .unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v["result"]["structuredContent"]["users"][0]["user_id"], "bob",
        "{v}"
    );

    assert_eq!(
        *backend.callers.lock().unwrap(),
        [Some("alice".to_string()), Some("bob".to_string())]
    );
}

/// Over stdio-like transports there are no HTTP parts.
#[tokio::test]
async fn in_process_calls_have_no_parts() {
    let backend = Memory::new();
    let client = connect(backend.clone()).await;
    call(&client, "get_tool_metrics", json!({})).await;
    assert_eq!(*backend.callers.lock().unwrap(), [None]);
}
