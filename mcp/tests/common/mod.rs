//! An in-memory [`Backend`]: it keeps the items it is given and answers every read by
//! computing the REST API's shapes from them.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use chrono::{DateTime, TimeDelta, Utc};
use mcp::{Backend, BackendError, Cx, Range, SessionQuery};
use serde_json::{json, Value};

/// What an authentication middleware would put in the request's extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller(pub String);

#[derive(Default)]
pub struct Memory {
    pub items: Mutex<Vec<Value>>,
    /// The caller of each call (`None` without HTTP parts or without the extension).
    pub callers: Mutex<Vec<Option<String>>>,
    /// Every summary range asked for.
    pub ranges: Mutex<Vec<Range>>,
    /// Makes every call fail with this.
    pub fail: Mutex<Option<BackendError>>,
}

impl Memory {
    pub fn new() -> Arc<Memory> {
        Arc::new(Memory::default())
    }

    fn enter(&self, cx: &Cx) -> Result<String, BackendError> {
        let caller = cx.extension::<Caller>().map(|c| c.0.clone());
        self.callers.lock().unwrap().push(caller.clone());
        match self.fail.lock().unwrap().clone() {
            Some(e) => Err(e),
            None => Ok(caller.unwrap_or_else(|| "local".into())),
        }
    }

    fn stored(&self, range: Option<Range>, kind: &str) -> Vec<Value> {
        self.items
            .lock()
            .unwrap()
            .iter()
            .filter(|i| i["type"] == kind)
            .filter(|i| range.is_none_or(|r| (r.from..r.to).contains(&time(i))))
            .cloned()
            .collect()
    }

    fn session_json(&self, start: &Value) -> Value {
        let id = &start["session_id"];
        let tools: Vec<Value> = self
            .stored(None, "tool_use")
            .into_iter()
            .filter(|t| &t["session_id"] == id)
            .collect();
        let end = self
            .stored(None, "session_end")
            .into_iter()
            .find(|e| &e["session_id"] == id);
        json!({
            "id": id, "cwd": start.get("cwd"), "git_branch": start.get("git_branch"),
            "model": start.get("model"), "started_at": start["timestamp"],
            "ended_at": end.as_ref().map(|e| e["timestamp"].clone()),
            "end_reason": end.as_ref().and_then(|e| e.get("reason").cloned()),
            "tool_executions": tools.len(),
            "tool_failures": tools.iter().filter(|t| t["success"] == false).count(),
            "api_requests": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0,
            "lines_added": 0, "lines_removed": 0,
        })
    }
}

fn time(item: &Value) -> DateTime<Utc> {
    item["timestamp"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .expect("stored items have timestamps")
}

/// The server's dedup key of an item.
fn key(item: &Value) -> String {
    match (&item["type"], &item["tool_use_id"], &item["id"]) {
        (t, Value::String(u), _) if t == "tool_use" => format!("api:tool_use:{u}"),
        (Value::String(t), _, Value::String(id)) => format!("api:{t}:{id}"),
        _ => item.to_string(),
    }
}

/// The server's checks, in short.
fn problems(item: &Value) -> Vec<Value> {
    let mut errors = Vec::new();
    let mut err = |field: &str, detail: &str| {
        errors.push(json!({ "pointer": format!("/0/{field}"), "detail": detail }))
    };
    match item["timestamp"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    {
        None => err("timestamp", "must be an RFC 3339 timestamp"),
        Some(t) if t > Utc::now() + TimeDelta::hours(24) => {
            err("timestamp", "is more than 24 hours in the future")
        }
        Some(_) => {}
    }
    let kind = item["type"].as_str().unwrap_or_default();
    if kind.starts_with("session_") && !item["session_id"].is_string() {
        err("session_id", "is required for session events");
    }
    if kind == "tool_use" && !item["tool_name"].is_string() {
        err("tool_name", "is required for tool_use");
    }
    errors
}

impl Backend for Memory {
    async fn record(&self, cx: &Cx, items: Vec<Value>) -> Result<Value, BackendError> {
        self.enter(cx)?;
        let mut stored = self.items.lock().unwrap();
        let mut results = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            let errors = problems(&item);
            let status = if !errors.is_empty() {
                "rejected"
            } else if stored.iter().any(|s| key(s) == key(&item)) {
                "duplicate"
            } else {
                stored.push(item);
                "accepted"
            };
            results.push(json!({ "index": index, "status": status, "errors": errors }));
        }
        let count = |s: &str| results.iter().filter(|r| r["status"] == s).count();
        Ok(json!({
            "accepted": count("accepted"), "duplicates": count("duplicate"),
            "rejected": count("rejected"), "items": results,
        }))
    }

    async fn sessions(&self, cx: &Cx, q: SessionQuery) -> Result<Value, BackendError> {
        self.enter(cx)?;
        if let Some(id) = &q.id {
            return self
                .stored(None, "session_start")
                .iter()
                .find(|s| s["session_id"] == id.as_str())
                .map(|s| self.session_json(s))
                .ok_or_else(|| BackendError::NotFound(format!("no session `{id}`")));
        }
        let mut starts = self.stored(Some(q.range), "session_start");
        starts.sort_by_key(|s| std::cmp::Reverse(time(s)));
        let more = starts.len() > q.limit as usize;
        starts.truncate(q.limit as usize);
        Ok(json!({
            "sessions": starts.iter().map(|s| self.session_json(s)).collect::<Vec<_>>(),
            "next_before": more.then(|| starts.last().map(|s| s["timestamp"].clone())),
        }))
    }

    async fn tools(&self, cx: &Cx, range: Range) -> Result<Value, BackendError> {
        self.enter(cx)?;
        let mut per_tool: BTreeMap<String, (i64, i64, Vec<i64>)> = BTreeMap::new();
        for t in self.stored(Some(range), "tool_use") {
            let e = per_tool
                .entry(t["tool_name"].as_str().unwrap().to_string())
                .or_default();
            e.0 += 1;
            e.1 += i64::from(t["success"] == false);
            e.2.extend(t["duration_ms"].as_i64());
        }
        let tools: Vec<Value> = per_tool
            .into_iter()
            .map(|(tool, (n, f, d))| {
                json!({
                    "tool": tool, "executions": n, "failures": f,
                    "success_rate": (n - f) as f64 / n as f64,
                    "avg_duration_ms": (!d.is_empty())
                        .then(|| d.iter().sum::<i64>() as f64 / d.len() as f64),
                    "p50_duration_ms": null, "p95_duration_ms": null,
                })
            })
            .collect();
        Ok(json!({ "from": range.from, "to": range.to, "tools": tools }))
    }

    async fn summary(&self, cx: &Cx, range: Range) -> Result<Value, BackendError> {
        let caller = self.enter(cx)?;
        self.ranges.lock().unwrap().push(range);
        let tools = self.stored(Some(range), "tool_use");
        let mut by_tool: BTreeMap<String, i64> = BTreeMap::new();
        for t in &tools {
            *by_tool
                .entry(t["tool_name"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        let total = json!({
            "sessions": self.stored(Some(range), "session_start").len(),
            "tool_executions": tools.len(),
            "tool_failures": tools.iter().filter(|t| t["success"] == false).count(),
            "agent_invocations": 0, "api_requests": 4, "input_tokens": 1000,
            "output_tokens": 500, "cache_creation_tokens": 0, "cache_read_tokens": 3000,
            "cost_usd": 0.25, "lines_added": 10, "lines_removed": 2,
            "by_tool": by_tool,
            "by_model": { "claude-sonnet-4-5": { "requests": 4, "cost_usd": 0.25 } },
        });
        let mut user = total.clone();
        user["user_id"] = json!(caller);
        user["email"] = json!(format!("{caller}@example.com"));
        Ok(json!({
            "from": range.from, "to": range.to, "grain": "minute",
            "total": total, "users": [user],
        }))
    }
}
