//! Files the legacy hooks (agent-os, ai-mesh, ensemble) write under `~/.<tool>/metrics/`.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::{attributes, clip, event, hash_id, parse_object, text, time, uint, Kind, Scan};

/// Longer than any real tool run; the server refuses durations past a week.
const MAX_DURATION_MS: u64 = 7 * 86_400_000;

pub(super) fn read(scan: &mut Scan, file: &Path, kind: Kind, content: &str) {
    // Session files are named after their session, for records that forgot to say.
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let stem = stem.strip_suffix("_summary").unwrap_or(stem).to_string();
    match kind {
        Kind::ToolMetrics => scan.json_lines(file, content, |s, n, line, obj| {
            tool_metric(s, file, n, line, obj)
        }),
        Kind::SessionEvents => scan.json_lines(file, content, |s, n, line, obj| {
            session_event(s, file, n, line, &stem, obj)
        }),
        Kind::SessionHistory => {
            scan.json_lines(file, content, |s, n, _, obj| summary(s, file, n, None, obj))
        }
        Kind::Activity => activity(scan, file, content),
        _ => {
            scan.report.lines += 1;
            match parse_object(content) {
                Ok(obj) if kind == Kind::SessionSummary => summary(scan, file, 0, Some(&stem), obj),
                Ok(obj) if kind == Kind::SessionSnapshot => {
                    session_snapshot(scan, file, &stem, obj)
                }
                Ok(obj) => snapshot(scan, file, obj),
                Err(why) => scan.skip(file, 0, why),
            }
        }
    }
}

/// One `tool_use` per `tool_execution` line; everything else (agent invocations, event types of
/// later hook versions) is kept as an `event`. Agent invocations are not tool runs: the server
/// counts them from Task/Agent tool runs, which the same hook logged as well.
fn tool_metric(scan: &mut Scan, file: &Path, n: usize, line: &str, obj: Map<String, Value>) {
    let Some(at) = time(&obj, "timestamp") else {
        return scan.skip(file, n, "no valid timestamp");
    };
    let session = text(&obj, "session_id");
    if let Some(s) = session {
        scan.session(s, at);
        scan.legacy_tool_sessions.insert(clip(s, 200));
    }
    // The same bytes twice is the hook writing one run twice, whichever root it landed in.
    let id = hash_id("legacy", line.as_bytes());
    let (Some("tool_execution"), Some(tool), Some(session)) =
        (text(&obj, "event_type"), text(&obj, "tool_name"), session)
    else {
        scan.push(
            event(id, at, session, attributes("legacy/tool-metrics", &obj)),
            file,
            n,
        );
        return;
    };
    let success = obj
        .get("success")
        .and_then(Value::as_bool)
        .or_else(|| obj.get("error").and_then(Value::as_bool).map(|e| !e))
        .unwrap_or(true);
    let mut item = json!({
        "type": "tool_use",
        "id": id,
        "timestamp": super::fmt_time(at),
        "session_id": clip(session, 200),
        "tool_name": clip(tool, 200),
        "success": success,
    });
    if let Some(ms) = obj
        .get("execution_time_ms")
        .filter(|v| v.is_number())
        .map(|v| uint(Some(v)))
    {
        if ms <= MAX_DURATION_MS {
            item["duration_ms"] = ms.into();
        }
    }
    if !scan.push(item, file, n) {
        return;
    }
    // A Write reports the whole file as `lines_written`: all of it is new.
    let added = uint(obj.get("lines_added")) + uint(obj.get("lines_written"));
    let removed = uint(obj.get("lines_removed"));
    if added + removed > 0 {
        scan.items.push(json!({
            "type": "lines",
            "id": format!("{id}:lines"),
            "timestamp": super::fmt_time(at),
            "session_id": clip(session, 200),
            "lines_added": added,
            "lines_removed": removed,
        }));
    }
}

/// `sessions/<id>.jsonl`: a start (folded into the session) and an end with final metrics.
fn session_event(
    scan: &mut Scan,
    file: &Path,
    n: usize,
    line: &str,
    stem: &str,
    obj: Map<String, Value>,
) {
    let Some(at) = time(&obj, "timestamp") else {
        return scan.skip(file, n, "no valid timestamp");
    };
    let session = text(&obj, "session_id").unwrap_or(stem);
    match text(&obj, "event") {
        Some("session_start") => {
            let cwd = text(&obj, "working_directory");
            scan.session(session, at)
                .fill(cwd, text(&obj, "git_branch"), None);
            return;
        }
        Some("session_end") => scan.session_end(session, at, text(&obj, "reason")),
        _ => {}
    }
    let id = hash_id("legacy:session", line.as_bytes());
    scan.push(
        event(id, at, Some(session), attributes("legacy/session", &obj)),
        file,
        n,
    );
}

/// A session summary: `sessions/<id>_summary.json` or a line of `session-history.jsonl`.
fn summary(scan: &mut Scan, file: &Path, n: usize, stem: Option<&str>, obj: Map<String, Value>) {
    let Some(session) = text(&obj, "session_id").or(stem) else {
        return scan.skip(file, n, "summary without a session_id");
    };
    let (start, end) = (time(&obj, "start_time"), time(&obj, "end_time"));
    let Some(at) = end.or(start) else {
        return scan.skip(file, n, "summary without a valid start_time or end_time");
    };
    if let Some(t) = start {
        scan.session(session, t);
    }
    if let Some(t) = end {
        scan.session_end(session, t, None);
    }
    // Hashing the parsed record, not its text: the history line and the pretty-printed summary
    // file hold the same record, which must become one event.
    let id = hash_id(
        "legacy:summary",
        Value::Object(obj.clone()).to_string().as_bytes(),
    );
    scan.push(
        event(
            id,
            at,
            Some(session),
            attributes("legacy/session-summary", &obj),
        ),
        file,
        n,
    );
}

/// `sessions/<id>.json`: where and when the session started, plus its running counters.
fn session_snapshot(scan: &mut Scan, file: &Path, stem: &str, obj: Map<String, Value>) {
    let session = text(&obj, "session_id").unwrap_or(stem);
    let Some(at) = time(&obj, "start_time") else {
        return scan.skip(file, 0, "session without a valid start_time");
    };
    let cwd = text(&obj, "working_directory");
    scan.session(session, at)
        .fill(cwd, text(&obj, "git_branch"), None);
    let id = hash_id(
        "legacy:session",
        Value::Object(obj.clone()).to_string().as_bytes(),
    );
    scan.push(
        event(id, at, Some(session), attributes("legacy/session", &obj)),
        file,
        0,
    );
}

/// Baselines and productivity indicators: derived numbers, kept as events for reference.
fn snapshot(scan: &mut Scan, file: &Path, obj: Map<String, Value>) {
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    // Not every version records when it wrote the file; the file's mtime is the same moment.
    let mtime = || {
        std::fs::metadata(file)
            .and_then(|m| m.modified())
            .ok()
            .map(DateTime::<Utc>::from)
    };
    let Some(at) = [
        "last_updated",
        "last_activity",
        "session_start",
        "timestamp",
    ]
    .iter()
    .find_map(|k| time(&obj, k))
    .or_else(mtime) else {
        return scan.skip(file, 0, "no timestamp");
    };
    let id = hash_id(
        "legacy:snapshot",
        format!("{name}\n{}", Value::Object(obj.clone())).as_bytes(),
    );
    let origin = format!("legacy/{name}");
    scan.push(
        event(id, at, text(&obj, "session_id"), attributes(&origin, &obj)),
        file,
        0,
    );
}

/// `realtime/activity.log`: `<time>|<event>|<tool>|<status>`, UTC without a zone.
fn activity(scan: &mut Scan, file: &Path, content: &str) {
    for (i, raw) in content.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        scan.report.lines += 1;
        let mut parts = line.splitn(4, '|');
        let (Some(at), Some(name)) = (parts.next().and_then(super::parse_time), parts.next())
        else {
            scan.skip(file, i + 1, "not a `time|event|tool|status` line");
            continue;
        };
        let attrs = json!({
            "origin": "legacy/activity.log",
            "event": clip(name, 200),
            "tool": parts.next().map(|t| clip(t, 200)),
            "status": parts.next().map(|s| clip(s, 200)),
        });
        scan.push(
            event(hash_id("legacy:activity", line.as_bytes()), at, None, attrs),
            file,
            i + 1,
        );
    }
}
