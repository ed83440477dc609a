//! `devpulse hook`: what Claude Code runs for every hook event. It reads the event's JSON on
//! stdin, appends it to the spool with an id and the time, makes sure a `sync` is running, and
//! exits 0 without output, whatever happens: a hook that fails or prints would disturb the
//! session. Problems go to the error log. It never touches the network itself.
//!
//! Unless the user opted in (`send_content`), the content in the body (prompt text, tool
//! output, file contents, the assistant's answer) is cut out before anything is written: see
//! [`strip_content`].

use std::{
    io::{Read, Write},
    process::{Command, Stdio},
};

use serde_json::{Map, Value};

use crate::config::{make_private, private_dir, private_file, Config, Paths};

/// Hook bodies above this are not Claude Code's; they are refused rather than spooled.
const MAX_BODY: u64 = 4 * 1024 * 1024;

pub fn run(paths: &Paths) {
    if let Err(why) = record(paths) {
        log_error(paths, &why);
    }
}

fn record(paths: &Paths) -> Result<(), String> {
    let mut body = Vec::with_capacity(4096);
    std::io::stdin()
        .take(MAX_BODY + 1)
        .read_to_end(&mut body)
        .map_err(|e| format!("cannot read the hook's stdin: {e}"))?;
    if body.len() as u64 > MAX_BODY {
        return Err(format!("hook body larger than {MAX_BODY} bytes, dropped"));
    }
    let config = Config::load(paths);
    let send_content = match std::env::var("DEVPULSE_SEND_CONTENT").as_deref() {
        Ok("1") => true,
        Ok("0") => false,
        _ => config.as_ref().is_ok_and(|c| c.send_content),
    };
    let line = stamp(&body, send_content)?;
    crate::spool::append(&paths.spool_dir(), &line).map_err(|e| {
        format!(
            "cannot append to the spool in {}: {e}",
            paths.spool_dir().display()
        )
    })?;
    match config {
        Ok(_) => start_sync(paths),
        // Spooled all the same: nothing is lost before set-up is finished.
        Err(e) => Err(e.to_string()),
    }
}

/// The body with `_id` and `_at` put in front, the rest byte for byte when nothing is cut
/// (the body is checked to be one JSON object first); with content cut, the rest re-encoded.
pub fn stamp(body: &[u8], send_content: bool) -> Result<Vec<u8>, String> {
    let trimmed = body.trim_ascii();
    let not_json = |e: serde_json::Error| format!("the hook's stdin is not JSON: {e}");
    if !send_content {
        match serde_json::from_slice::<Value>(trimmed).map_err(not_json)? {
            Value::Object(mut fields) => {
                if strip_content(&mut fields) {
                    return Ok(stamped(&fields));
                }
            }
            _ => return Err("the hook's stdin is not a JSON object".into()),
        }
    } else {
        serde_json::from_slice::<serde::de::IgnoredAny>(trimmed).map_err(not_json)?;
    }
    let inner = trimmed
        .strip_prefix(b"{")
        .and_then(|rest| rest.strip_suffix(b"}"))
        .ok_or("the hook's stdin is not a JSON object")?;
    // One line per event: newlines inside a JSON document can only be insignificant
    // whitespace (strings escape theirs), so they become spaces.
    let inner: Vec<u8> = inner
        .iter()
        .map(|b| if matches!(b, b'\n' | b'\r') { b' ' } else { *b })
        .collect();
    let mut line = head(inner.len());
    if !inner.trim_ascii().is_empty() {
        line.push(b',');
        line.extend_from_slice(&inner);
    }
    line.push(b'}');
    Ok(line)
}

/// `{"_id":…,"_at":…` for a line of about `rest` more bytes.
fn head(rest: usize) -> Vec<u8> {
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let mut line = Vec::with_capacity(rest + 96);
    write!(line, r#"{{"_id":"{}","_at":"{at}""#, uuid::Uuid::new_v4()).expect("vec write");
    line
}

/// [`stamp`] for a body already parsed. Members follow ours as the raw path has them, so a
/// body's own `_id` or `_at` wins the same way (the last duplicate counts).
fn stamped(fields: &Map<String, Value>) -> Vec<u8> {
    let mut line = head(1024);
    for (k, v) in fields {
        line.push(b',');
        serde_json::to_writer(&mut line, k).expect("vec write");
        line.push(b':');
        serde_json::to_writer(&mut line, v).expect("vec write");
    }
    line.push(b'}');
    line
}

/// Members of `tool_input` that are content: Write's file, Edit's and MultiEdit's text,
/// NotebookEdit's cell, a subagent's instructions. The rest (paths, the Bash command, flags,
/// `subagent_type`) says what ran and stays.
const CONTENT_INPUTS: &[&str] = &[
    "content",
    "old_string",
    "new_string",
    "edits",
    "new_source",
    "prompt",
];

/// Cuts the content out of a hook body, keeping every member the server reads. The server
/// itself keeps only the sizes of the prompt and the tool output, so it stores the same
/// event either way: the prompt becomes `prompt_length` (characters) and `tool_response`
/// becomes `tool_response_bytes` (its compact JSON, measured as the server does). Dropped: the
/// assistant's last answer, a failed tool's `error` (often its stderr), `/compact`'s
/// instructions and the [`CONTENT_INPUTS`] of `tool_input`. Whether anything was cut.
pub fn strip_content(body: &mut Map<String, Value>) -> bool {
    let mut cut = false;
    if let Some(prompt) = body.remove("prompt") {
        if let Value::String(p) = &prompt {
            body.insert("prompt_length".into(), p.chars().count().into());
        }
        cut = true;
    }
    if let Some(response) = body.remove("tool_response") {
        body.insert(
            "tool_response_bytes".into(),
            response.to_string().len().into(),
        );
        cut = true;
    }
    for free_text in ["last_assistant_message", "custom_instructions"] {
        cut |= body.remove(free_text).is_some();
    }
    if body.get("hook_event_name").and_then(Value::as_str) == Some("PostToolUseFailure") {
        cut |= body.remove("error").is_some();
    }
    if let Some(Value::Object(input)) = body.get_mut("tool_input") {
        let had = input.len();
        input.retain(|k, _| !CONTENT_INPUTS.contains(&k.as_str()));
        cut |= input.len() != had;
    }
    cut
}

/// Starts `devpulse sync --daemon` in the background unless one is running. A running sync
/// holds the lock; it lingers a while after the spool empties, so a burst of hooks starts one.
fn start_sync(paths: &Paths) -> Result<(), String> {
    let free = crate::spool::try_lock(&paths.sync_lock())
        .map_err(|e| format!("cannot open {}: {e}", paths.sync_lock().display()))?;
    if free.is_none() {
        return Ok(());
    }
    drop(free);
    let exe = std::env::current_exe().map_err(|e| format!("cannot find our own binary: {e}"))?;
    // `devpulse-hook` has only the hook; the sync is in `devpulse`, installed beside it.
    let exe = if exe.file_name().is_some_and(|n| n == "devpulse-hook") {
        exe.with_file_name("devpulse")
    } else {
        exe
    };
    use std::os::unix::process::CommandExt;
    Command::new(exe)
        .args(["sync", "--daemon"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group: Claude Code ending the hook's group must not end the sync.
        .process_group(0)
        .spawn()
        .map(drop)
        .map_err(|e| format!("cannot start sync: {e}"))
}

/// Appends a line to the error log; if even that fails there is nowhere left to say it.
pub fn log_error(paths: &Paths, why: &str) {
    let _ = private_dir(&paths.data_dir);
    if let Ok(mut f) = private_file()
        .create(true)
        .append(true)
        .open(paths.error_log())
    {
        // Its lines quote paths and the server's answers about events.
        let _ = make_private(&f);
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let _ = writeln!(f, "{at} {}", why.replace('\n', " "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_keep_the_body_and_refuse_non_objects() {
        let line = stamp(
            b"{\"session_id\":\"s\",\n \"hook_event_name\":\"Stop\"}\n",
            true,
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["session_id"], "s");
        assert_eq!(v["hook_event_name"], "Stop");
        assert_eq!(v["_id"].as_str().unwrap().len(), 36);
        assert!(v["_at"].as_str().unwrap().ends_with('Z'));
        assert!(!line.contains(&b'\n'));
        for send_content in [true, false] {
            assert!(stamp(b"{}", send_content).is_ok());
            assert!(stamp(b"[1]", send_content).is_err());
            assert!(stamp(b"{\"a\":", send_content).is_err());
            assert!(stamp(b"", send_content).is_err());
        }
        // Nothing to cut: still byte for byte.
        let body = br#"{"session_id":"s", "hook_event_name":"SessionStart","source":"startup"}"#;
        let line = stamp(body, false).unwrap();
        assert!(
            line.ends_with(&body[1..]),
            "{}",
            String::from_utf8_lossy(&line)
        );
    }

    /// Every hook body in the fixtures keeps, once stripped, every member the server reads
    /// (server/src/ingest/hooks.rs) as it was.
    #[test]
    fn stripping_keeps_what_the_server_reads() {
        const READ: &[&str] = &[
            "_id",
            "_at",
            "timestamp",
            "session_id",
            "hook_event_name",
            "cwd",
            "tool_name",
            "tool_use_id",
            "model",
            "prompt_id",
            "source",
            "reason",
            "duration_ms",
        ];
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/fixtures/hooks");
        let (mut prompts, mut responses, mut inputs) = (0, 0, 0);
        for user in ["ana", "bo", "chen"] {
            let text = std::fs::read_to_string(dir.join(format!("{user}.ndjson"))).unwrap();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let Ok(Value::Object(body)) = serde_json::from_str::<Value>(line) else {
                    continue;
                };
                let mut kept = body.clone();
                strip_content(&mut kept);
                for k in READ {
                    assert_eq!(kept.get(*k), body.get(*k), "{k} in {line}");
                }
                assert_eq!(
                    kept.get("tool_input").map(|i| &i["subagent_type"]),
                    body.get("tool_input").map(|i| &i["subagent_type"]),
                    "{line}"
                );
                if let Some(Value::String(p)) = body.get("prompt") {
                    assert_eq!(kept["prompt_length"], p.chars().count());
                    prompts += 1;
                }
                if let Some(r) = body.get("tool_response") {
                    assert_eq!(kept["tool_response_bytes"], r.to_string().len());
                    responses += 1;
                }
                let content = |b: &Map<String, Value>| {
                    b.get("tool_input")
                        .and_then(Value::as_object)
                        .is_some_and(|i| CONTENT_INPUTS.iter().any(|k| i.contains_key(*k)))
                };
                inputs += usize::from(content(&body));
                assert!(!content(&kept), "{line}");
                for gone in ["prompt", "tool_response", "last_assistant_message"] {
                    assert!(!kept.contains_key(gone), "{gone} in {line}");
                }
            }
        }
        assert!(prompts > 0 && responses > 0 && inputs > 0);
    }
}
