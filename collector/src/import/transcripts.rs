//! Claude Code transcripts: `<projects>/<cwd>/<session>.jsonl` and the subagent files under
//! `<session>/subagents/`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::{clip, fmt_time, key_id, text, time, uint, Scan, Skip};

/// Line types that are expected but carry nothing to count.
const QUIET: [&str; 5] = [
    "summary",
    "system",
    "file-history-snapshot",
    "progress",
    "queue-operation",
];

/// What needs every transcript read before it can become items.
#[derive(Default)]
pub(super) struct Pending {
    /// By `message.id`: each copy of one API response.
    messages: BTreeMap<String, Vec<Copy>>,
    calls: Vec<Call>,
    call_ids: HashSet<String>,
    /// By `tool_use_id`: whether it failed, and when the result was written.
    results: HashMap<String, (bool, Option<DateTime<Utc>>)>,
}

struct Copy {
    file: PathBuf,
    line: usize,
    sidechain: bool,
    total: u64,
    item: Value,
}

struct Call {
    id: String,
    name: String,
    session: String,
    at: DateTime<Utc>,
}

pub(super) fn read(scan: &mut Scan, file: &Path, content: &str) {
    let file_session = session_of_path(file);
    scan.json_lines(file, content, |scan, n, _, obj| {
        let session = text(&obj, "sessionId").or(file_session.as_deref());
        let at = time(&obj, "timestamp");
        let message = obj.get("message").and_then(Value::as_object);
        if let (Some(s), Some(t)) = (session, at) {
            let model = message
                .and_then(|m| text(m, "model"))
                .filter(|m| *m != SYNTHETIC);
            scan.session(s, t)
                .fill(text(&obj, "cwd"), text(&obj, "gitBranch"), model);
        }
        match text(&obj, "type").unwrap_or("(none)") {
            "assistant" => match (message, session, at) {
                (Some(m), Some(s), Some(t)) => assistant(scan, file, n, &obj, m, s, t),
                _ => scan.skip(
                    file,
                    n,
                    "assistant line without message, sessionId or timestamp",
                ),
            },
            "user" => {
                for b in blocks(message).filter(|b| b["type"] == "tool_result") {
                    if let Some(id) = b["tool_use_id"].as_str() {
                        let failed = b["is_error"].as_bool().unwrap_or(false);
                        scan.transcripts
                            .results
                            .insert(id.to_string(), (failed, at));
                    }
                }
            }
            t if QUIET.contains(&t) => {}
            t => scan.skip(file, n, format!("unknown line type {}", clip(t, 100))),
        }
    });
}

/// Claude Code's model name for messages it made up itself (errors, interruptions): no request.
const SYNTHETIC: &str = "<synthetic>";

fn assistant(
    scan: &mut Scan,
    file: &Path,
    n: usize,
    obj: &Map<String, Value>,
    message: &Map<String, Value>,
    session: &str,
    at: DateTime<Utc>,
) {
    let pending = &mut scan.transcripts;
    for b in blocks(Some(message)).filter(|b| b["type"] == "tool_use") {
        if let (Some(id), Some(name)) = (b["id"].as_str(), b["name"].as_str()) {
            if pending.call_ids.insert(id.to_string()) {
                let (id, name, session) = (id.to_string(), name.to_string(), clip(session, 200));
                pending.calls.push(Call {
                    id,
                    name,
                    session,
                    at,
                });
            }
        }
    }
    let model = text(message, "model");
    let usage = message.get("usage").and_then(Value::as_object);
    let id = text(message, "id").or(text(obj, "requestId"));
    let (Some(model), Some(usage), Some(id)) = (model, usage, id) else {
        return scan.skip(file, n, "assistant line without model, usage or message id");
    };
    if model == SYNTHETIC {
        return scan.skip(file, n, "synthetic message, not an API request");
    }
    let get = |k: &str| uint(usage.get(k));
    let by_ttl = usage.get("cache_creation").and_then(Value::as_object);
    let split = |k: &str| by_ttl.map_or(0, |s| uint(s.get(k)));
    let creation = match usage.get("cache_creation_input_tokens") {
        Some(v) if !v.is_null() => uint(Some(v)),
        _ => split("ephemeral_5m_input_tokens") + split("ephemeral_1h_input_tokens"),
    };
    let (input, output, read) = (
        get("input_tokens"),
        get("output_tokens"),
        get("cache_read_input_tokens"),
    );
    let mut item = json!({
        "type": "api_request",
        "id": key_id("import:api_request", id),
        "timestamp": fmt_time(at),
        "session_id": clip(session, 200),
        "request_id": clip(text(obj, "requestId").unwrap_or(id), 200),
        "model": clip(model, 200),
        "input_tokens": input,
        "output_tokens": output,
        "cache_creation_tokens": creation,
        "cache_creation_1h_tokens": split("ephemeral_1h_input_tokens").min(creation),
        "cache_read_tokens": read,
    });
    // Only logs that priced the request themselves say what it cost; the server prices the rest.
    if let Some(c) = obj
        .get("costUSD")
        .and_then(Value::as_f64)
        .filter(|c| c.is_finite() && *c >= 0.0)
    {
        item["cost_usd"] = c.into();
    }
    scan.transcripts
        .messages
        .entry(id.to_string())
        .or_default()
        .push(Copy {
            file: file.to_path_buf(),
            line: n,
            sidechain: obj
                .get("isSidechain")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            total: input + output + creation + read,
            item,
        });
}

fn blocks(message: Option<&Map<String, Value>>) -> impl Iterator<Item = &Value> {
    message
        .and_then(|m| m.get("content"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// `<session>.jsonl`, or `<session>/subagents/agent-<id>.jsonl`.
fn session_of_path(file: &Path) -> Option<String> {
    let parent = file.parent()?;
    let owner = if parent.file_name()? == "subagents" {
        parent.parent()?.file_name()?
    } else {
        file.file_stem()?
    };
    owner.to_str().map(String::from)
}

impl Pending {
    pub(super) fn finish(self, scan: &mut Scan) {
        // One response is written once per content block, and subagent files replay it under
        // another requestId: the main-chain copy with the fullest usage is the request.
        for (message, copies) in self.messages {
            let rank = |c: &Copy| (!c.sidechain, c.total);
            let best = (1..copies.len()).fold(0, |b, i| {
                if rank(&copies[i]) > rank(&copies[b]) {
                    i
                } else {
                    b
                }
            });
            let kept = &copies[best];
            for (_, c) in copies.iter().enumerate().filter(|(i, _)| *i != best) {
                let reason = format!(
                    "same message {message} as {}:{}",
                    kept.file.display(),
                    kept.line
                );
                let (file, line) = (c.file.clone(), c.line);
                scan.report.duplicates.push(Skip { file, line, reason });
            }
            scan.items.push(kept.item.clone());
        }
        // Legacy tool-metrics lines carry no tool_use_id, so a transcript's tool call cannot be
        // matched to the line that logged it: taking both would count runs twice. Transcripts
        // therefore supply tool runs only for sessions the legacy hooks never saw.
        for call in self.calls {
            if scan.legacy_tool_sessions.contains(&call.session) {
                continue;
            }
            let result = self.results.get(&call.id);
            // No result means the transcript stops mid-call; the run still happened.
            let mut item = json!({
                "type": "tool_use",
                "id": key_id("import:tool_use", &call.id),
                "timestamp": fmt_time(call.at),
                "session_id": clip(&call.session, 200),
                "tool_name": clip(&call.name, 200),
                "success": result.is_none_or(|(failed, _)| !failed),
                "tool_use_id": clip(&call.id, 200),
            });
            // Call to result, so it includes any wait for permission: the closest a transcript has.
            if let Some(ms) = result
                .and_then(|(_, t)| *t)
                .map(|t| (t - call.at).num_milliseconds())
            {
                if ms >= 0 {
                    item["duration_ms"] = ms.into();
                }
            }
            scan.items.push(item);
        }
    }
}
