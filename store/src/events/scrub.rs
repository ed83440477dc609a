//! Scrubbing: the characters PostgreSQL cannot store, replaced before anything else sees them.

use super::{Event, Kind};

/// PostgreSQL text and jsonb cannot hold U+0000, which JSON and protobuf strings may carry:
/// it becomes U+FFFD, so the event is stored (the same way each time it is sent) instead of
/// failing its whole batch.
pub(super) fn scrub(e: &mut Event) {
    fn text(s: &mut String) {
        if s.contains('\0') {
            *s = s.replace('\0', "\u{FFFD}");
        }
    }
    fn opt(s: &mut Option<String>) {
        if let Some(s) = s {
            text(s);
        }
    }
    fn json(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) => text(s),
            serde_json::Value::Array(a) => a.iter_mut().for_each(json),
            serde_json::Value::Object(m) => {
                if m.keys().any(|k| k.contains('\0')) {
                    *m = std::mem::take(m)
                        .into_iter()
                        .map(|(mut k, v)| {
                            text(&mut k);
                            (k, v)
                        })
                        .collect();
                }
                m.values_mut().for_each(json);
            }
            _ => {}
        }
    }
    text(&mut e.key);
    match &mut e.kind {
        Kind::SessionStart { source: s } | Kind::SessionEnd { reason: s } => opt(s),
        Kind::ToolStart { tool_use_id: id }
        | Kind::ToolEnd { tool_use_id: id }
        | Kind::ApiRequest { request_id: id } => text(id),
        Kind::Prompt { prompt_id } => opt(prompt_id),
        _ => {}
    }
    for s in [
        &mut e.session_id,
        &mut e.cwd,
        &mut e.git_branch,
        &mut e.tool,
        &mut e.model,
        &mut e.agent,
    ] {
        opt(s);
    }
    if let Some(c) = &mut e.cumulative {
        text(&mut c.series_key);
    }
    json(&mut e.attrs);
}
