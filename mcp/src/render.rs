//! Turning the backend's JSON into answers: short texts, markdown tables, the prompt. The JSON
//! is read leniently (a missing field shows as `–`), since backends may differ in detail.

use std::fmt::Write as _;

use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::{Map, Value};

use crate::args::Timeframe;

/// Indented JSON.
pub(crate) fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

/// Adds `key` when there is a value.
pub(crate) fn insert_some<T: Into<Value>>(map: &mut Map<String, Value>, key: &str, v: Option<T>) {
    if let Some(v) = v {
        map.insert(key.into(), v.into());
    }
}

/// A short text for people, then the JSON (also as structured content).
pub(crate) fn answer(text: String, json: Value) -> CallToolResult {
    let mut result = CallToolResult::success(vec![
        ContentBlock::text(text),
        ContentBlock::text(pretty(&json)),
    ]);
    result.structured_content = Some(json);
    result
}

/// The answer to recording one item, from the batch endpoint's per-item result.
pub(crate) fn recorded(what: &str, results: Value) -> CallToolResult {
    let item = results.get("items").and_then(|i| i.get(0));
    match item.and_then(|i| i.get("status")).and_then(Value::as_str) {
        Some("rejected") => {
            let why = item
                .and_then(|i| i.get("errors"))
                .and_then(Value::as_array)
                .map(|errors| {
                    errors
                        .iter()
                        .map(|e| {
                            let field = e
                                .get("pointer")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .trim_start_matches("/0")
                                .trim_start_matches('/');
                            let detail = e.get("detail").and_then(Value::as_str).unwrap_or("");
                            match field {
                                "" => detail.to_string(),
                                f => format!("`{f}` {detail}"),
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .filter(|why| !why.is_empty())
                .unwrap_or_else(|| "no reason given".into());
            let mut result = CallToolResult::error(vec![
                ContentBlock::text(format!("devpulse rejected {what}: {why}")),
                ContentBlock::text(pretty(&results)),
            ]);
            result.structured_content = Some(results);
            result
        }
        Some("duplicate") => answer(
            format!("Already recorded {what}; nothing changed."),
            results,
        ),
        _ => answer(format!("Recorded {what}."), results),
    }
}

/// A JSON value in a sentence or a table cell.
fn show(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "–".into(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn dollars(v: Option<&Value>) -> String {
    match v.and_then(Value::as_f64) {
        Some(c) => format!("${c:.4}"),
        None => show(v),
    }
}

fn percent(part: f64, whole: f64) -> Option<String> {
    (whole > 0.0).then(|| format!("{:.1}%", 100.0 * part / whole))
}

fn f64_of(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

/// A markdown table.
fn table(out: &mut String, head: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    out.push_str(&line(head.iter().map(|h| cell(h)).collect()));
    out.push_str(&line(head.iter().map(|_| "---".to_string()).collect()));
    for row in rows {
        out.push_str(&line(row.iter().map(|c| cell(c)).collect()));
    }
}

/// One session (the `GET /metrics/sessions/{id}` shape).
pub(crate) fn session(s: &Value) -> String {
    let get = |k: &str| show(s.get(k));
    let mut out = format!("Session `{}`", get("id"));
    if let Some(who) = s.get("email").and_then(Value::as_str) {
        let _ = write!(out, " of {who}");
    }
    if let Some(p) = ["project", "cwd"]
        .iter()
        .find_map(|k| s.get(*k).and_then(Value::as_str))
    {
        let _ = write!(out, " in {p}");
    }
    let _ = write!(out, ": started {}", get("started_at"));
    match s.get("ended_at").and_then(Value::as_str) {
        Some(end) => {
            let _ = write!(out, ", ended {end}");
            if let Some(r) = s.get("end_reason").and_then(Value::as_str) {
                let _ = write!(out, " ({r})");
            }
        }
        None => out.push_str(", not ended"),
    }
    let _ = write!(
        out,
        ". {} tool executions ({} failed), {} API requests, {} input / {} output tokens, \
         cost {}, +{} / -{} lines.",
        get("tool_executions"),
        get("tool_failures"),
        get("api_requests"),
        get("input_tokens"),
        get("output_tokens"),
        dollars(s.get("cost_usd")),
        get("lines_added"),
        get("lines_removed"),
    );
    out
}

/// A list of sessions (the `GET /metrics/sessions` shape).
pub(crate) fn sessions(v: &Value, timeframe: Timeframe) -> String {
    let list = v
        .get("sessions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut out = format!(
        "{} session{} started in the last {}",
        list.len(),
        if list.len() == 1 { "" } else { "s" },
        timeframe.as_str()
    );
    if v.get("next_before").is_some_and(|n| !n.is_null()) {
        out.push_str(" (more exist; raise `limit` to see them)");
    }
    out.push_str(".\n");
    if !list.is_empty() {
        out.push('\n');
        table(
            &mut out,
            &[
                "Session",
                "Who",
                "Started",
                "Ended",
                "Tools (failed)",
                "Cost",
                "Lines +/-",
            ],
            list.iter().map(|s| {
                let get = |k: &str| show(s.get(k));
                vec![
                    get("id"),
                    get("email"),
                    get("started_at"),
                    get("ended_at"),
                    format!("{} ({})", get("tool_executions"), get("tool_failures")),
                    dollars(s.get("cost_usd")),
                    format!("+{} / -{}", get("lines_added"), get("lines_removed")),
                ]
            }),
        );
    }
    out
}

/// Per-tool statistics (the `GET /metrics/tools` shape).
pub(crate) fn tools(v: &Value, timeframe: Timeframe) -> String {
    let list = v
        .get("tools")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if list.is_empty() {
        return format!("No tool executions in the last {}.", timeframe.as_str());
    }
    let mut out = format!(
        "Tool executions in the last {}, per tool:\n\n",
        timeframe.as_str()
    );
    table(
        &mut out,
        &[
            "Tool",
            "Executions",
            "Failures",
            "Success rate",
            "Avg ms",
            "p50 ms",
            "p95 ms",
        ],
        list.iter().map(|t| {
            let get = |k: &str| show(t.get(k));
            vec![
                get("tool"),
                get("executions"),
                get("failures"),
                f64_of(t, "success_rate")
                    .map(|r| format!("{:.1}%", 100.0 * r))
                    .unwrap_or_else(|| "–".into()),
                f64_of(t, "avg_duration_ms")
                    .map(|d| format!("{d:.0}"))
                    .unwrap_or_else(|| "–".into()),
                get("p50_duration_ms"),
                get("p95_duration_ms"),
            ]
        }),
    );
    out
}

/// `keys` of the summary's totals, overall and per person (when the summary has people).
pub(crate) fn pick(summary: &Value, keys: &[&str], timeframe: Timeframe) -> Value {
    let select = |totals: &Value| -> Map<String, Value> {
        keys.iter()
            .map(|k| {
                (
                    k.to_string(),
                    totals.get(*k).cloned().unwrap_or(Value::Null),
                )
            })
            .collect()
    };
    let mut out = Map::new();
    out.insert("timeframe".into(), timeframe.as_str().into());
    for k in ["from", "to"] {
        if let Some(v) = summary.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    out.insert(
        "total".into(),
        Value::Object(select(summary.get("total").unwrap_or(summary))),
    );
    if let Some(users) = summary
        .get("users")
        .and_then(Value::as_array)
        .filter(|u| !u.is_empty())
    {
        let rows = users.iter().map(|u| {
            let mut row = Map::new();
            for k in ["user_id", "email"] {
                if let Some(v) = u.get(k) {
                    row.insert(k.into(), v.clone());
                }
            }
            row.extend(select(u));
            Value::Object(row)
        });
        out.insert("users".into(), Value::Array(rows.collect()));
    }
    Value::Object(out)
}

/// One total for a table cell.
fn metric(key: &str, v: Option<&Value>) -> String {
    match (key, v) {
        ("cost_usd", v) => dollars(v),
        ("by_tool", Some(Value::Object(m))) => {
            let mut tools: Vec<(&String, i64)> = m
                .iter()
                .map(|(t, n)| (t, n.as_i64().unwrap_or(0)))
                .collect();
            tools.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            match tools.is_empty() {
                true => "–".into(),
                false => tools
                    .iter()
                    .map(|(t, n)| format!("{t} {n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        }
        ("by_model", Some(Value::Object(m))) => match m.is_empty() {
            true => "–".into(),
            false => m
                .iter()
                .map(|(model, t)| {
                    format!(
                        "{model}: {} requests, {}",
                        show(t.get("requests")),
                        dollars(t.get("cost_usd"))
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        },
        (_, v) => show(v),
    }
}

/// The picked totals as markdown: a table of the totals, then one of the people.
pub(crate) fn dashboard(picked: &Value, keys: &[&str], timeframe: Timeframe) -> String {
    let mut out = format!("### devpulse dashboard, last {}\n", timeframe.as_str());
    if let (Some(from), Some(to)) = (picked.get("from"), picked.get("to")) {
        let _ = writeln!(out, "\n{} to {}", show(Some(from)), show(Some(to)));
    }
    out.push('\n');
    let total = picked.get("total").unwrap_or(&Value::Null);
    table(
        &mut out,
        &["Metric", "Total"],
        keys.iter()
            .map(|k| vec![k.to_string(), metric(k, total.get(*k))]),
    );
    if let Some(users) = picked.get("users").and_then(Value::as_array) {
        out.push_str("\n#### Per person\n\n");
        let mut head = vec!["Person"];
        head.extend(keys);
        table(
            &mut out,
            &head,
            users.iter().map(|u| {
                let who = u
                    .get("email")
                    .filter(|e| !e.is_null())
                    .or_else(|| u.get("user_id"));
                let mut row = vec![show(who)];
                row.extend(keys.iter().map(|k| metric(k, u.get(*k))));
                row
            }),
        );
    }
    out
}

/// The text of the `analyze-productivity` prompt.
pub(crate) fn productivity_prompt(timeframe: Timeframe, summary: &Value, tools: &Value) -> String {
    let total = summary.get("total").unwrap_or(summary);
    let n = |k: &str| f64_of(total, k).unwrap_or(0.0);
    let mut figures = Vec::new();
    if n("sessions") > 0.0 {
        figures.push(format!(
            "cost per session ${:.4}",
            n("cost_usd") / n("sessions")
        ));
        figures.push(format!(
            "tool executions per session {:.1}",
            n("tool_executions") / n("sessions")
        ));
    }
    if let Some(p) = percent(n("tool_failures"), n("tool_executions")) {
        figures.push(format!("tool failure rate {p}"));
    }
    if let Some(p) = percent(
        n("cache_read_tokens"),
        n("cache_read_tokens") + n("input_tokens"),
    ) {
        figures.push(format!("share of input read from the prompt cache {p}"));
    }
    let span = match (summary.get("from"), summary.get("to")) {
        (Some(from), Some(to)) => format!(" ({} to {})", show(Some(from)), show(Some(to))),
        _ => String::new(),
    };
    let mut out = format!(
        "Please analyse my Claude Code productivity over the last {}{span}, using the devpulse \
         data below.\n\n\
         Cover:\n\
         1. Activity: sessions, tool executions, agent invocations, API requests, lines added \
         and removed.\n\
         2. Tools: which tools are used most, each tool's failure rate (failures / executions) \
         and duration; point out tools that fail often or run slowly.\n\
         3. Cost: total cost, cost per session, tokens per session, how well the prompt cache \
         is used (cache reads vs. fresh input tokens), and cost by model.\n\
         4. Suggestions: a short, prioritised list of concrete changes to work more \
         effectively or more cheaply.\n\n\
         Be specific and quote the numbers; say so when there is too little data to judge.\n",
        timeframe.as_str()
    );
    if !figures.is_empty() {
        let _ = writeln!(out, "\nDerived figures: {}.", figures.join(", "));
    }
    let _ = write!(
        out,
        "\nDashboard summary (totals overall and per person):\n```json\n{}\n```\n\n\
         Tool statistics:\n```json\n{}\n```\n",
        pretty(summary),
        pretty(tools)
    );
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn rejections_name_the_field() {
        let r = recorded(
            "x",
            json!({"accepted": 0, "duplicates": 0, "rejected": 1, "items": [{"index": 0,
                "status": "rejected", "errors": [{"pointer": "/0/timestamp",
                "detail": "is more than 24 hours in the future"}]}]}),
        );
        assert_eq!(r.is_error, Some(true));
        let text = r.content[0].as_text().unwrap().text.clone();
        assert_eq!(
            text,
            "devpulse rejected x: `timestamp` is more than 24 hours in the future"
        );
    }

    #[test]
    fn dashboards_escape_cells_and_format_maps() {
        let summary = json!({"from": "a", "to": "b", "total": {"cost_usd": 1.5,
            "by_tool": {"Read": 2, "Bash": 5}}, "users": [{"user_id": "u", "email": "a|b",
            "cost_usd": 1.5, "by_tool": {}}]});
        let keys = ["cost_usd", "by_tool"];
        let picked = pick(&summary, &keys, Timeframe::Day);
        let md = dashboard(&picked, &keys, Timeframe::Day);
        assert!(md.contains("| cost_usd | $1.5000 |"), "{md}");
        assert!(md.contains("| by_tool | Bash 5, Read 2 |"), "{md}");
        assert!(md.contains("| a\\|b | $1.5000 | – |"), "{md}");
    }
}
