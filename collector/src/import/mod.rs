//! Scanning and parsing for `devpulse import`: legacy hook metrics and Claude Code transcripts
//! become batch items (the server's typed-item format) plus a validation report. Only files are
//! read here; sending the plan is the caller's business.
//!
//! Every item id derives from the input alone (a line's bytes, a message id, a session id), so
//! importing the same files again yields the same ids and the server treats them as no-ops.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

mod legacy;
mod transcripts;

#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub files_done: usize,
    pub files_total: usize,
    pub lines: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skip {
    pub file: PathBuf,
    /// 1-based; 0 = the whole file.
    pub line: usize,
    pub reason: String,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub files: usize,
    pub lines: usize,
    pub items: usize,
    pub duplicates: Vec<Skip>,
    pub skipped: Vec<Skip>,
}

#[derive(Debug)]
pub struct Plan {
    pub items: Vec<Value>,
    pub report: Report,
}

const LEGACY_ROOTS: [&str; 3] = [".agent-os/metrics", ".ai-mesh/metrics", ".ensemble/metrics"];
const TRANSCRIPT_ROOTS: [&str; 2] = [".claude/projects", ".config/claude/projects"];

/// Roots found under a home directory: ~/.agent-os/metrics, ~/.ai-mesh/metrics,
/// ~/.ensemble/metrics, ~/.claude/projects, ~/.config/claude/projects (only those that exist).
pub fn default_roots(home: &Path) -> Vec<PathBuf> {
    LEGACY_ROOTS
        .iter()
        .chain(&TRANSCRIPT_ROOTS)
        .map(|r| home.join(r))
        .filter(|p| p.is_dir())
        .collect()
}

/// Scans the given paths (each a metrics root, a projects dir, a home dir, or a single file) and
/// plans the items. `progress` is called after each file.
pub fn scan(paths: &[PathBuf], progress: &mut dyn FnMut(&Progress)) -> Plan {
    let mut scan = Scan::default();
    let files = collect(paths, &mut scan.report.skipped);
    for (done, (file, kind)) in files.iter().enumerate() {
        scan.file(file, *kind);
        progress(&Progress {
            files_done: done + 1,
            files_total: files.len(),
            lines: scan.report.lines,
        });
    }
    scan.finish()
}

impl Report {
    /// Counts, then every duplicate and skipped line as `file:line: reason`.
    pub fn render(&self) -> String {
        let mut out = format!(
            "{} files, {} lines: {} items, {} duplicates, {} skipped\n",
            self.files,
            self.lines,
            self.items,
            self.duplicates.len(),
            self.skipped.len()
        );
        for (title, list) in [("duplicates", &self.duplicates), ("skipped", &self.skipped)] {
            if list.is_empty() {
                continue;
            }
            let _ = writeln!(out, "{title}:");
            for s in list {
                let _ = match s.line {
                    0 => writeln!(out, "  {}: {}", s.file.display(), s.reason),
                    n => writeln!(out, "  {}:{n}: {}", s.file.display(), s.reason),
                };
            }
        }
        out
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    ToolMetrics,
    SessionEvents,
    SessionSummary,
    SessionSnapshot,
    SessionHistory,
    Snapshot,
    Activity,
    Transcript,
}

fn classify(path: &Path) -> Option<Kind> {
    let name = path.file_name()?.to_str()?;
    let in_sessions = path.parent().and_then(Path::file_name) == Some("sessions".as_ref());
    Some(match name {
        "tool-metrics.jsonl" => Kind::ToolMetrics,
        "session-history.jsonl" => Kind::SessionHistory,
        "activity.log" => Kind::Activity,
        "current-baseline.json" | "historical-baseline.json" | "productivity-indicators.json" => {
            Kind::Snapshot
        }
        _ if in_sessions && name.ends_with("_summary.json") => Kind::SessionSummary,
        _ if in_sessions && name.ends_with(".jsonl") => Kind::SessionEvents,
        _ if in_sessions && name.ends_with(".json") => Kind::SessionSnapshot,
        _ if name.ends_with(".jsonl") => Kind::Transcript,
        _ => return None,
    })
}

/// The files to read, sorted so that "earlier line" and every id are the same on every run.
fn collect(paths: &[PathBuf], skipped: &mut Vec<Skip>) -> Vec<(PathBuf, Kind)> {
    let mut found = BTreeMap::new();
    for path in paths {
        if path.is_file() {
            match classify(path) {
                Some(kind) => add(&mut found, path.clone(), kind),
                None => skipped.push(whole(path, "not a metrics or transcript file")),
            }
        } else if path.is_dir() {
            let mut roots = default_roots(path);
            // ~/.claude holds much besides transcripts (history.jsonl, todos, ...).
            let is_claude = matches!(
                path.file_name().and_then(|n| n.to_str()),
                Some(".claude" | "claude")
            );
            if roots.is_empty() && is_claude && path.join("projects").is_dir() {
                roots.push(path.join("projects"));
            }
            if roots.is_empty() {
                roots.push(path.clone());
            }
            for root in roots {
                walk(&root, &mut found);
            }
        } else {
            skipped.push(whole(path, "no such file or directory"));
        }
    }
    found.into_values().collect()
}

fn add(found: &mut BTreeMap<PathBuf, (PathBuf, Kind)>, path: PathBuf, kind: Kind) {
    // Keyed by the canonical path so a home and a root inside it don't read files twice.
    let key = path.canonicalize().unwrap_or_else(|_| path.clone());
    found.entry(key).or_insert((path, kind));
}

fn walk(dir: &Path, found: &mut BTreeMap<PathBuf, (PathBuf, Kind)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        // Symlinked directories are not followed: they can loop.
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&path, found),
            _ if path.is_file() => {
                if let Some(kind) = classify(&path) {
                    add(found, path, kind);
                }
            }
            _ => {}
        }
    }
}

fn whole(file: &Path, reason: &str) -> Skip {
    Skip {
        file: file.to_path_buf(),
        line: 0,
        reason: reason.to_string(),
    }
}

/// What scanning has gathered so far. Sessions, API requests and transcript tool runs need
/// every file first and are settled in [`Scan::finish`].
#[derive(Default)]
struct Scan {
    items: Vec<Value>,
    first_seen: HashMap<String, (PathBuf, usize)>,
    report: Report,
    sessions: BTreeMap<String, Session>,
    /// Sessions with any legacy tool-metrics line: their tool runs come from there alone.
    legacy_tool_sessions: HashSet<String>,
    transcripts: transcripts::Pending,
}

struct Session {
    start: DateTime<Utc>,
    end: Option<(DateTime<Utc>, Option<String>)>,
    cwd: Option<String>,
    git_branch: Option<String>,
    model: Option<String>,
}

impl Session {
    fn fill(&mut self, cwd: Option<&str>, git_branch: Option<&str>, model: Option<&str>) {
        let set = |slot: &mut Option<String>, v: Option<&str>, max| {
            if slot.is_none() {
                *slot = v.map(|v| clip(v, max));
            }
        };
        set(&mut self.cwd, cwd, 4096);
        set(&mut self.git_branch, git_branch, 200);
        set(&mut self.model, model, 200);
    }
}

impl Scan {
    fn file(&mut self, file: &Path, kind: Kind) {
        let content = match std::fs::read(file) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => {
                return self
                    .report
                    .skipped
                    .push(whole(file, &format!("cannot read: {e}")))
            }
        };
        self.report.files += 1;
        match kind {
            Kind::Transcript => transcripts::read(self, file, &content),
            _ => legacy::read(self, file, kind, &content),
        }
    }

    fn skip(&mut self, file: &Path, line: usize, reason: impl Into<String>) {
        let reason = reason.into();
        let file = file.to_path_buf();
        self.report.skipped.push(Skip { file, line, reason });
    }

    /// Calls `each` with every non-empty line that is a JSON object; reports the others.
    fn json_lines(
        &mut self,
        file: &Path,
        content: &str,
        mut each: impl FnMut(&mut Scan, usize, &str, Map<String, Value>),
    ) {
        for (i, raw) in content.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            self.report.lines += 1;
            match parse_object(line) {
                Ok(obj) => each(self, i + 1, line, obj),
                Err(why) => self.skip(file, i + 1, why),
            }
        }
    }

    /// Adds an item unless one with its id came earlier, which is reported as a duplicate.
    fn push(&mut self, item: Value, file: &Path, line: usize) -> bool {
        let id = item["id"].as_str().unwrap_or_default().to_string();
        if let Some((f, l)) = self.first_seen.get(&id) {
            let reason = format!("duplicate of {}:{l}", f.display());
            self.report.duplicates.push(Skip {
                file: file.to_path_buf(),
                line,
                reason,
            });
            return false;
        }
        self.first_seen.insert(id, (file.to_path_buf(), line));
        self.items.push(item);
        true
    }

    /// The session, its start moved to `at` if that is earlier.
    fn session(&mut self, id: &str, at: DateTime<Utc>) -> &mut Session {
        let s = self.sessions.entry(clip(id, 200)).or_insert(Session {
            start: at,
            end: None,
            cwd: None,
            git_branch: None,
            model: None,
        });
        s.start = s.start.min(at);
        s
    }

    fn session_end(&mut self, id: &str, at: DateTime<Utc>, reason: Option<&str>) {
        let s = self.session(id, at);
        if s.end.as_ref().is_none_or(|(t, _)| at > *t) {
            s.end = Some((at, reason.map(|r| clip(r, 200))));
        }
    }

    fn finish(mut self) -> Plan {
        std::mem::take(&mut self.transcripts).finish(&mut self);
        for (id, s) in std::mem::take(&mut self.sessions) {
            let mut start = json!({
                "type": "session_start",
                "id": key_id("import:session_start", &id),
                "timestamp": fmt_time(s.start),
                "session_id": id,
            });
            for (k, v) in [
                ("cwd", s.cwd),
                ("git_branch", s.git_branch),
                ("model", s.model),
            ] {
                if let Some(v) = v {
                    start[k] = v.into();
                }
            }
            self.items.push(start);
            if let Some((at, reason)) = s.end {
                let mut end = json!({
                    "type": "session_end",
                    "id": key_id("import:session_end", &id),
                    "timestamp": fmt_time(at),
                    "session_id": id,
                });
                if let Some(r) = reason {
                    end["reason"] = r.into();
                }
                self.items.push(end);
            }
        }
        // RFC 3339 UTC with a fixed precision sorts chronologically as text.
        self.items.sort_by(|a, b| {
            (a["timestamp"].as_str(), a["id"].as_str())
                .cmp(&(b["timestamp"].as_str(), b["id"].as_str()))
        });
        let by_place = |a: &Skip, b: &Skip| (&a.file, a.line).cmp(&(&b.file, b.line));
        self.report.duplicates.sort_by(by_place);
        self.report.skipped.sort_by(by_place);
        self.report.items = self.items.len();
        Plan {
            items: self.items,
            report: self.report,
        }
    }
}

fn parse_object(text: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str(text) {
        Ok(Value::Object(obj)) => Ok(obj),
        Ok(_) => Err("not a JSON object".into()),
        Err(e) if e.is_eof() => Err("truncated JSON (cut off mid-record)".into()),
        Err(e) => Err(format!("not JSON ({e})")),
    }
}

/// The three styles hooks write: UTC with `Z` (and a fraction), UTC with no zone at all, and
/// local time with an offset.
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|t| t.and_utc())
}

fn time(obj: &Map<String, Value>, key: &str) -> Option<DateTime<Utc>> {
    obj.get(key).and_then(Value::as_str).and_then(parse_time)
}

fn fmt_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A non-empty string field.
fn text<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// A count: the server takes non-negative integers only, so anything else counts as 0.
fn uint(v: Option<&Value>) -> u64 {
    let Some(Value::Number(n)) = v else { return 0 };
    n.as_u64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f.round() as u64)
        })
        .unwrap_or(0)
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn hash_id(prefix: &str, content: &[u8]) -> String {
    format!("{prefix}:{}", hex::encode(&Sha256::digest(content)[..16]))
}

/// `prefix:key`, or a hash of the key where that would pass the server's 200-character limit.
fn key_id(prefix: &str, key: &str) -> String {
    let id = format!("{prefix}:{key}");
    if id.chars().count() <= 200 {
        id
    } else {
        hash_id(prefix, key.as_bytes())
    }
}

/// Fields never worth shipping to a server, whatever a hook version logged.
const PRIVATE: [&str; 4] = ["auth_token", "api_key", "password", "secret"];

/// An object's fields for an event's `attributes`, minus what the item carries itself.
fn attributes(origin: &str, obj: &Map<String, Value>) -> Value {
    fn trim(v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(clip(s, 4096)),
            Value::Array(a) => a.iter().map(trim).collect(),
            Value::Object(o) => o.iter().map(|(k, v)| (k.clone(), trim(v))).collect(),
            v => v.clone(),
        }
    }
    let mut out: Map<String, Value> = obj
        .iter()
        .filter(|(k, _)| !PRIVATE.contains(&k.as_str()) && *k != "timestamp" && *k != "session_id")
        .map(|(k, v)| (k.clone(), trim(v)))
        .collect();
    out.insert("origin".into(), origin.into());
    Value::Object(out)
}

fn event(id: String, at: DateTime<Utc>, session: Option<&str>, attributes: Value) -> Value {
    let mut e =
        json!({ "type": "event", "id": id, "timestamp": fmt_time(at), "attributes": attributes });
    if let Some(s) = session {
        e["session_id"] = clip(s, 200).into();
    }
    e
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use pricing::{Prices, Tokens};

    use super::*;

    /// Read when the test runs, not baked in when it is built: a test binary reused from a
    /// shared target directory by a checkout elsewhere must read that checkout's fixtures.
    fn fixtures() -> std::path::PathBuf {
        std::path::PathBuf::from(
            std::env::var_os("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
        )
        .join("../testdata/fixtures")
    }

    fn plan(user: &str) -> Plan {
        scan(&[fixtures().join(format!("home-{user}"))], &mut |_| {})
    }

    /// The items summed the way EXPECTED.json counts them.
    fn totals(items: &[Value], prices: &Prices) -> Value {
        let mut sessions = BTreeSet::new();
        let mut n: BTreeMap<&str, u64> = BTreeMap::new();
        let mut by_tool: BTreeMap<String, u64> = BTreeMap::new();
        let mut by_model: BTreeMap<String, (u64, f64)> = BTreeMap::new();
        let mut cost = 0.0;
        for it in items {
            if let Some(s) = it["session_id"].as_str() {
                sessions.insert(s.to_string());
            }
            let int = |k: &str| it[k].as_u64().unwrap_or(0);
            match it["type"].as_str().unwrap() {
                "tool_use" => {
                    let tool = it["tool_name"].as_str().unwrap();
                    *n.entry("tool_executions").or_default() += 1;
                    *n.entry("tool_failures").or_default() += u64::from(it["success"] == false);
                    *n.entry("agent_invocations").or_default() +=
                        u64::from(matches!(tool, "Task" | "Agent"));
                    *by_tool.entry(tool.to_string()).or_default() += 1;
                }
                "api_request" => {
                    let t = Tokens {
                        input: int("input_tokens") as i64,
                        output: int("output_tokens") as i64,
                        cache_creation: int("cache_creation_tokens") as i64,
                        cache_creation_1h: int("cache_creation_1h_tokens") as i64,
                        cache_read: int("cache_read_tokens") as i64,
                    };
                    let model = it["model"].as_str().unwrap();
                    let c = it["cost_usd"]
                        .as_f64()
                        .or_else(|| prices.cost(model, &t))
                        .unwrap();
                    for k in [
                        "input_tokens",
                        "output_tokens",
                        "cache_creation_tokens",
                        "cache_read_tokens",
                    ] {
                        *n.entry(k).or_default() += int(k);
                    }
                    *n.entry("api_requests").or_default() += 1;
                    let m = by_model.entry(model.to_string()).or_default();
                    m.0 += 1;
                    m.1 += c;
                    cost += c;
                }
                "lines" => {
                    *n.entry("lines_added").or_default() += int("lines_added");
                    *n.entry("lines_removed").or_default() += int("lines_removed");
                }
                _ => {}
            }
        }
        let mut out = json!({ "sessions": sessions.len(), "cost_usd": cost, "by_tool": by_tool });
        for (k, v) in n {
            out[k] = v.into();
        }
        out["by_model"] = by_model
            .into_iter()
            .map(|(m, (r, c))| (m, json!({ "requests": r, "cost_usd": c })))
            .collect();
        out
    }

    #[test]
    fn totals_match_expected() {
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(fixtures().join("EXPECTED.json")).unwrap(),
        )
        .unwrap();
        let prices = Prices::shipped();
        let users = expected["users"].as_object().unwrap();
        assert_eq!(users.len(), 3);
        for (user, want) in users {
            let got = totals(&plan(user).items, &prices);
            for key in [
                "sessions",
                "tool_executions",
                "tool_failures",
                "agent_invocations",
                "api_requests",
                "input_tokens",
                "output_tokens",
                "cache_creation_tokens",
                "cache_read_tokens",
                "lines_added",
                "lines_removed",
                "by_tool",
            ] {
                assert_eq!(got[key], want[key], "{user}: {key}");
            }
            let near =
                |a: &Value, b: &Value| (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 0.005;
            assert!(
                near(&got["cost_usd"], &want["cost_usd"]),
                "{user}: {} vs {}",
                got["cost_usd"],
                want["cost_usd"]
            );
            let models = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
            assert_eq!(
                models(&got["by_model"]),
                models(&want["by_model"]),
                "{user}"
            );
            for (model, w) in want["by_model"].as_object().unwrap() {
                let g = &got["by_model"][model];
                assert_eq!(g["requests"], w["requests"], "{user} {model}");
                assert!(near(&g["cost_usd"], &w["cost_usd"]), "{user} {model}: {g}");
            }
        }
    }

    #[test]
    fn report_names_bad_lines() {
        let plan = plan("ana");
        let r = &plan.report;
        let at = |list: &[Skip], tail: &str, line: usize| {
            list.iter()
                .find(|s| s.file.ends_with(tail) && s.line == line)
                .unwrap_or_else(|| panic!("{tail}:{line} not reported:\n{}", r.render()))
                .reason
                .clone()
        };
        let dup = at(&r.duplicates, ".agent-os/metrics/tool-metrics.jsonl", 3);
        assert!(dup.contains("tool-metrics.jsonl:2"), "{dup}");
        assert!(at(&r.skipped, ".agent-os/metrics/tool-metrics.jsonl", 226).contains("truncated"));
        assert!(at(&r.skipped, ".ai-mesh/metrics/tool-metrics.jsonl", 1).contains("not JSON"));
        assert!(r
            .skipped
            .iter()
            .any(|s| s.reason == "unknown line type some-future-line-type"));
        // Each sidechain replay is reported against the main-chain copy it repeats.
        let replays = r
            .duplicates
            .iter()
            .filter(|s| s.file.to_string_lossy().contains("/subagents/"));
        assert_eq!(
            replays
                .filter(|s| s.reason.starts_with("same message msg_"))
                .count(),
            5
        );
        let text = r.render();
        assert!(
            text.contains(".agent-os/metrics/tool-metrics.jsonl:3: duplicate of "),
            "{text}"
        );
        assert!(
            text.contains(".agent-os/metrics/tool-metrics.jsonl:226: truncated"),
            "{text}"
        );
        assert!(
            text.contains(".ai-mesh/metrics/tool-metrics.jsonl:1: not JSON"),
            "{text}"
        );
        assert_eq!(r.items, plan.items.len());
        assert!(r.files > 100 && r.lines > r.files, "{text}");
    }

    #[test]
    fn ids_are_stable_and_items_valid() {
        let mut calls = 0;
        let a = scan(&[fixtures().join("home-bo")], &mut |p| {
            calls += 1;
            assert_eq!(p.files_done, calls);
            assert!(p.files_done <= p.files_total);
        });
        assert_eq!(calls, a.report.files);
        let b = plan("bo");
        assert_eq!(a.items, b.items);
        let ids: HashSet<_> = a.items.iter().map(|i| i["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), a.items.len());
        for it in &a.items {
            assert!(it["id"].as_str().unwrap().chars().count() <= 200, "{it}");
            let ts = it["timestamp"].as_str().unwrap();
            assert!(
                ts.ends_with('Z') && DateTime::parse_from_rfc3339(ts).is_ok(),
                "{it}"
            );
            for (k, v) in it.as_object().unwrap() {
                assert!(!v.is_number() || v.is_u64() || k == "cost_usd", "{it}");
            }
            // Every fixture session has legacy tool lines, so no tool run comes from transcripts.
            assert!(
                it["type"] != "tool_use" || it["tool_use_id"].is_null(),
                "{it}"
            );
        }
    }

    #[test]
    fn timestamp_styles() {
        let utc = |s: &str| parse_time(s).map(fmt_time);
        assert_eq!(
            utc("2025-08-31T19:03:12.123456Z").as_deref(),
            Some("2025-08-31T19:03:12.123456Z")
        );
        assert_eq!(
            utc("2025-08-31T19:03:12.123456").as_deref(),
            Some("2025-08-31T19:03:12.123456Z")
        );
        assert_eq!(
            utc("2025-08-31T19:03:12").as_deref(),
            Some("2025-08-31T19:03:12.000000Z")
        );
        assert_eq!(
            utc("2025-09-26T14:03:12-05:00").as_deref(),
            Some("2025-09-26T19:03:12.000000Z")
        );
        assert_eq!(utc("yesterday"), None);
    }

    #[test]
    fn default_roots_lists_what_exists() {
        let home = fixtures().join("home-chen");
        let roots = default_roots(&home);
        assert_eq!(roots.len(), 4);
        assert!(roots.iter().all(|r| r.starts_with(&home)));
        assert!(default_roots(&fixtures()).is_empty());
    }

    /// A transcript from a machine without legacy hooks: tool runs come from the transcript.
    #[test]
    fn transcript_alone() {
        let dir = std::env::temp_dir().join(format!("devpulse-import-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("s1.jsonl");
        let usage = r#"{"input_tokens":10,"output_tokens":5,"cache_creation_input_tokens":300,"cache_read_input_tokens":7,"cache_creation":{"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":200}}"#;
        let lines = [
            format!(r#"{{"type":"assistant","sessionId":"s1","cwd":"/w","gitBranch":"main","timestamp":"2025-09-01T10:00:00.000Z","requestId":"r1","costUSD":0.25,"message":{{"id":"m1","model":"claude-sonnet-4-5","content":[{{"type":"tool_use","id":"t1","name":"Bash","input":{{}}}}],"usage":{usage}}}}}"#),
            r#"{"type":"user","sessionId":"s1","timestamp":"2025-09-01T10:00:02.500Z","message":{"content":[{"type":"tool_result","tool_use_id":"t1","is_error":true}]}}"#.to_string(),
            "{\"type\":\"mystery\"}".to_string(),
            "garbage".to_string(),
        ];
        std::fs::write(&file, lines.join("\n")).unwrap();
        let plan = scan(std::slice::from_ref(&file), &mut |_| {});
        std::fs::remove_dir_all(&dir).unwrap();
        let of = |t: &str| {
            plan.items
                .iter()
                .filter(|i| i["type"] == t)
                .collect::<Vec<_>>()
        };
        let req = of("api_request");
        assert_eq!(req.len(), 1);
        assert_eq!(req[0]["cache_creation_1h_tokens"], 200);
        assert_eq!(req[0]["cost_usd"], 0.25);
        assert_eq!(req[0]["request_id"], "r1");
        let tool = of("tool_use");
        assert_eq!(tool.len(), 1);
        assert_eq!(tool[0]["success"], false);
        assert_eq!(tool[0]["duration_ms"], 2500);
        assert_eq!(tool[0]["tool_use_id"], "t1");
        let start = of("session_start");
        assert_eq!(start.len(), 1);
        assert_eq!(
            (&start[0]["cwd"], &start[0]["git_branch"]),
            (&json!("/w"), &json!("main"))
        );
        let lines: Vec<_> = plan
            .report
            .skipped
            .iter()
            .map(|s| (s.line, s.reason.as_str()))
            .collect();
        assert_eq!(lines[0], (3, "unknown line type mystery"));
        assert_eq!(lines[1].0, 4);
    }
}
