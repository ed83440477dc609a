//! `devpulse hook`: what Claude Code runs for every hook event. It reads the event's JSON on
//! stdin, appends it to the spool with an id and the time, makes sure a `sync` is running, and
//! exits 0 without output, whatever happens: a hook that fails or prints would disturb the
//! session. Problems go to the error log. It never touches the network itself.

use std::{
    io::{Read, Write},
    process::{Command, Stdio},
};

use crate::config::{Config, Paths};

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
    let line = stamp(&body)?;
    crate::spool::append(&paths.spool_dir(), &line).map_err(|e| {
        format!(
            "cannot append to the spool in {}: {e}",
            paths.spool_dir().display()
        )
    })?;
    match Config::load(paths) {
        Ok(_) => start_sync(paths),
        // Spooled all the same: nothing is lost before set-up is finished.
        Err(e) => Err(e.to_string()),
    }
}

/// The body with `_id` and `_at` put in front, the rest byte for byte (no re-encoding on the
/// hot path; the body is checked to be one JSON object first).
pub fn stamp(body: &[u8]) -> Result<Vec<u8>, String> {
    let trimmed = body.trim_ascii();
    serde_json::from_slice::<serde::de::IgnoredAny>(trimmed)
        .map_err(|e| format!("the hook's stdin is not JSON: {e}"))?;
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
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let mut line = Vec::with_capacity(inner.len() + 96);
    write!(line, r#"{{"_id":"{}","_at":"{at}""#, uuid::Uuid::new_v4()).expect("vec write");
    if !inner.trim_ascii().is_empty() {
        line.push(b',');
        line.extend_from_slice(&inner);
    }
    line.push(b'}');
    Ok(line)
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
    let _ = std::fs::create_dir_all(&paths.data_dir);
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(paths.error_log())
    {
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let _ = writeln!(f, "{at} {}", why.replace('\n', " "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_keep_the_body_and_refuse_non_objects() {
        let line = stamp(b"{\"session_id\":\"s\",\n \"hook_event_name\":\"Stop\"}\n").unwrap();
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["session_id"], "s");
        assert_eq!(v["hook_event_name"], "Stop");
        assert_eq!(v["_id"].as_str().unwrap().len(), 36);
        assert!(v["_at"].as_str().unwrap().ends_with('Z'));
        assert!(!line.contains(&b'\n'));
        assert!(stamp(b"{}").is_ok());
        assert!(stamp(b"[1]").is_err());
        assert!(stamp(b"{\"a\":").is_err());
        assert!(stamp(b"").is_err());
    }
}
