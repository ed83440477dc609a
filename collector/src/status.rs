//! `devpulse status`: the spool, the last sync, recent errors.

use std::fmt::Write;

use crate::{
    config::{Config, Paths},
    spool, sync,
};

pub fn render(paths: &Paths) -> String {
    let mut out = String::new();
    match Config::load(paths) {
        Ok(c) => {
            let _ = writeln!(out, "server      {} ({:?} mode)", c.server, c.mode);
        }
        Err(e) => {
            let _ = writeln!(out, "server      not configured: {e}");
        }
    }
    let (lines, bytes) = spool::pending(&paths.spool_dir());
    let _ = writeln!(out, "spool       {lines} events waiting ({bytes} bytes)");
    let running = match spool::try_lock(&paths.sync_lock()) {
        Ok(Some(_)) => "no".to_string(),
        Ok(None) => {
            let pid = std::fs::read_to_string(paths.sync_lock()).unwrap_or_default();
            format!("yes (pid {})", pid.trim())
        }
        Err(e) => format!("unknown ({e})"),
    };
    let _ = writeln!(out, "sync running {running}");
    let state = sync::State::load(paths);
    let _ = writeln!(
        out,
        "last sync   {}",
        state.last_success_at.as_deref().unwrap_or("never")
    );
    let _ = writeln!(
        out,
        "delivered   {} events ({} refused by the server)",
        state.delivered, state.rejected
    );
    if let (Some(e), Some(at)) = (&state.last_error, &state.last_error_at) {
        let _ = writeln!(out, "last error  {at} {e}");
    }
    let errors = std::fs::read_to_string(paths.error_log()).unwrap_or_default();
    let recent: Vec<&str> = errors.lines().rev().take(5).collect();
    let _ = writeln!(
        out,
        "error log   {} lines in {}",
        errors.lines().count(),
        paths.error_log().display()
    );
    for line in recent.iter().rev() {
        let _ = writeln!(out, "  {line}");
    }
    out
}
