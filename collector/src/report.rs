//! `devpulse report daily|weekly|session`: usage from what is on this machine, no server
//! needed. Tokens and cost come from Claude Code's transcripts (hooks carry none), read with
//! the importer's rules (one request per message, the main-chain copy, its largest line) and
//! priced with the shipped table; tool runs and sessions come from the transcripts and from the
//! hooks this collector recorded (spool and hybrid mode's local copy), each tool run once by
//! its `tool_use_id`. The JSON keys follow ccusage's, so scripts written for it keep working.

use std::{
    collections::{BTreeMap, BTreeSet, HashSet},
    path::PathBuf,
};

use chrono::{DateTime, Datelike, Local, NaiveDate};
use pricing::{Prices, Tokens};
use serde_json::{json, Value};

use crate::{config::Paths, spool};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Period {
    Daily,
    Weekly,
    Session,
}

#[derive(Default)]
struct Model {
    tokens: [i64; 4],
    cost: f64,
    requests: u64,
}

#[derive(Default)]
struct Row {
    models: BTreeMap<String, Model>,
    sessions: BTreeSet<String>,
    tools: BTreeMap<String, u64>,
    failures: u64,
}

/// The periods, oldest first, as JSON (ccusage's shape plus requests, sessions and tools).
pub fn build(period: Period, transcripts: &[PathBuf], paths: &Paths) -> Value {
    let prices = Prices::shipped();
    let plan = crate::import::scan(transcripts, &mut |_| {});
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    let key = |at: &str, session: &str| -> Option<String> {
        let local = DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Local);
        Some(match period {
            Period::Daily => local.date_naive().to_string(),
            Period::Weekly => week_start(local.date_naive()).to_string(),
            Period::Session => session.to_string(),
        })
    };
    let mut seen_tools: HashSet<String> = HashSet::new();
    for item in &plan.items {
        let session = item["session_id"].as_str().unwrap_or("");
        let Some(k) = key(item["timestamp"].as_str().unwrap_or(""), session) else {
            continue;
        };
        match item["type"].as_str() {
            Some("api_request") => {
                let model = item["model"].as_str().unwrap_or("unknown");
                let n = |f: &str| item[f].as_i64().unwrap_or(0);
                let tokens = Tokens {
                    input: n("input_tokens"),
                    output: n("output_tokens"),
                    cache_creation: n("cache_creation_tokens"),
                    cache_creation_1h: n("cache_creation_1h_tokens"),
                    cache_read: n("cache_read_tokens"),
                };
                let cost = item["cost_usd"]
                    .as_f64()
                    .or_else(|| prices.cost(model, &tokens))
                    .unwrap_or(0.0);
                let row = rows.entry(k).or_default();
                row.sessions.insert(session.to_string());
                let m = row.models.entry(model.to_string()).or_default();
                m.requests += 1;
                m.cost += cost;
                for (sum, t) in m.tokens.iter_mut().zip([
                    tokens.input,
                    tokens.output,
                    tokens.cache_creation,
                    tokens.cache_read,
                ]) {
                    *sum += t;
                }
            }
            Some("tool_use") => {
                if let Some(id) = item["tool_use_id"].as_str() {
                    seen_tools.insert(id.to_string());
                }
                tool(rows.entry(k).or_default(), item, session);
            }
            _ => {}
        }
    }
    // Hooks this collector recorded: tool runs the transcripts did not have (deleted after 30
    // days, or another machine's), and sessions.
    let mut files = spool::segments(&paths.local_dir()).unwrap_or_default();
    files.extend(spool::segments(&paths.spool_dir()).unwrap_or_default());
    files.push(paths.spool_dir().join("current.ndjson"));
    for file in files {
        let Ok(lines) = spool::read_any(&file) else {
            continue;
        };
        for (_, hook) in lines.good {
            let name = hook["hook_event_name"].as_str().unwrap_or("");
            let session = hook["session_id"].as_str().unwrap_or("");
            let Some(k) = key(hook["_at"].as_str().unwrap_or(""), session) else {
                continue;
            };
            let finished = matches!(name, "PostToolUse" | "PostToolUseFailure");
            if finished {
                let id = hook["tool_use_id"].as_str().unwrap_or("");
                if !seen_tools.insert(id.to_string()) {
                    continue;
                }
                let item = json!({
                    "tool_name": hook["tool_name"],
                    "success": name == "PostToolUse",
                });
                tool(rows.entry(k).or_default(), &item, session);
            } else if !session.is_empty() {
                rows.entry(k)
                    .or_default()
                    .sessions
                    .insert(session.to_string());
            }
        }
    }
    render_json(period, rows)
}

fn tool(row: &mut Row, item: &Value, session: &str) {
    *row.tools
        .entry(item["tool_name"].as_str().unwrap_or("unknown").to_string())
        .or_default() += 1;
    if item["success"] == false {
        row.failures += 1;
    }
    if !session.is_empty() {
        row.sessions.insert(session.to_string());
    }
}

fn week_start(d: NaiveDate) -> NaiveDate {
    d - chrono::Days::new(d.weekday().num_days_from_monday() as u64)
}

fn render_json(period: Period, rows: BTreeMap<String, Row>) -> Value {
    let (list, label) = match period {
        Period::Daily => ("daily", "date"),
        Period::Weekly => ("weekly", "week"),
        Period::Session => ("sessions", "sessionId"),
    };
    let mut totals = Model::default();
    let (mut requests, mut tools_total, mut failures_total) = (0u64, 0u64, 0u64);
    let mut sessions_total = BTreeSet::new();
    let out: Vec<Value> = rows
        .into_iter()
        .map(|(k, row)| {
            let mut sum = Model::default();
            for m in row.models.values() {
                for (a, b) in sum.tokens.iter_mut().zip(m.tokens) {
                    *a += b;
                }
                sum.cost += m.cost;
                sum.requests += m.requests;
            }
            for (a, b) in totals.tokens.iter_mut().zip(sum.tokens) {
                *a += b;
            }
            totals.cost += sum.cost;
            requests += sum.requests;
            let tool_count: u64 = row.tools.values().sum();
            tools_total += tool_count;
            failures_total += row.failures;
            sessions_total.extend(row.sessions.iter().cloned());
            let mut v = tokens_json(&sum);
            v[label] = json!(k);
            v["requests"] = json!(sum.requests);
            v["sessions"] = json!(row.sessions.len());
            v["toolExecutions"] = json!(tool_count);
            v["toolFailures"] = json!(row.failures);
            v["tools"] = json!(row.tools);
            v["modelsUsed"] = json!(row.models.keys().collect::<Vec<_>>());
            v["modelBreakdowns"] = row
                .models
                .iter()
                .map(|(name, m)| {
                    let mut b = tokens_json(m);
                    b["modelName"] = json!(name);
                    b["cost"] = b["totalCost"].take();
                    b["requests"] = json!(m.requests);
                    b
                })
                .collect();
            v
        })
        .collect();
    let mut t = tokens_json(&totals);
    t["requests"] = json!(requests);
    t["sessions"] = json!(sessions_total.len());
    t["toolExecutions"] = json!(tools_total);
    t["toolFailures"] = json!(failures_total);
    json!({ list: out, "totals": t })
}

fn tokens_json(m: &Model) -> Value {
    json!({
        "inputTokens": m.tokens[0],
        "outputTokens": m.tokens[1],
        "cacheCreationTokens": m.tokens[2],
        "cacheReadTokens": m.tokens[3],
        "totalTokens": m.tokens.iter().sum::<i64>(),
        "totalCost": m.cost,
    })
}

/// The same as a table for people.
pub fn render_text(period: Period, report: &Value) -> String {
    let (list, label) = match period {
        Period::Daily => ("daily", "date"),
        Period::Weekly => ("weekly", "week"),
        Period::Session => ("sessions", "sessionId"),
    };
    let mut out = format!(
        "{:<38} {:>6} {:>12} {:>12} {:>14} {:>14} {:>10} {:>7} {:>6}\n",
        label, "reqs", "input", "output", "cache write", "cache read", "cost $", "tools", "fails"
    );
    let line = |name: &str, v: &Value| {
        format!(
            "{:<38} {:>6} {:>12} {:>12} {:>14} {:>14} {:>10.2} {:>7} {:>6}\n",
            name,
            v["requests"],
            v["inputTokens"],
            v["outputTokens"],
            v["cacheCreationTokens"],
            v["cacheReadTokens"],
            v["totalCost"].as_f64().unwrap_or(0.0),
            v["toolExecutions"],
            v["toolFailures"]
        )
    };
    for row in report[list].as_array().into_iter().flatten() {
        out.push_str(&line(row[label].as_str().unwrap_or(""), row));
    }
    out.push_str(&line("total", &report["totals"]));
    out
}
