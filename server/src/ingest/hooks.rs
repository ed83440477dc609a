//! Claude Code hook bodies (what an `http` hook POSTs, or the collector forwards) into events.
//! Every event name is accepted, known or not; only the fields we rely on are checked.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use store::{
    events::{self, Event, Kind, Source},
    UserId,
};

use super::{check_time, content_key};
use crate::error::FieldError;

const MAX_ID: usize = 200;
const MAX_TEXT: usize = 4096;
/// Long strings inside `tool_input` (file contents, diffs) are cut to this in storage.
const KEEP_CHARS: usize = 1000;

fn string<'a>(
    body: &'a Map<String, Value>,
    field: &str,
    max: usize,
    required: bool,
    errors: &mut Vec<FieldError>,
) -> Option<&'a str> {
    match body.get(field) {
        None | Some(Value::Null) if !required => None,
        None | Some(Value::Null) => {
            errors.push(FieldError {
                pointer: format!("/{field}"),
                detail: "is required".into(),
            });
            None
        }
        Some(Value::String(s)) if s.chars().count() <= max && !s.is_empty() => Some(s),
        Some(Value::String(s)) if s.is_empty() => {
            errors.push(FieldError {
                pointer: format!("/{field}"),
                detail: "must not be empty".into(),
            });
            None
        }
        Some(Value::String(_)) => {
            errors.push(FieldError {
                pointer: format!("/{field}"),
                detail: format!("must be at most {max} characters"),
            });
            None
        }
        Some(_) => {
            errors.push(FieldError {
                pointer: format!("/{field}"),
                detail: "must be a string".into(),
            });
            None
        }
    }
}

/// When the hook ran: the collector's `_at` (or a `timestamp`), else when we received it.
fn occurred_at(
    body: &Map<String, Value>,
    now: DateTime<Utc>,
    errors: &mut Vec<FieldError>,
) -> DateTime<Utc> {
    for field in ["_at", "timestamp"] {
        let Some(v) = body.get(field) else { continue };
        let parsed = v
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc));
        match parsed {
            Some(t) => match check_time(t, now) {
                Ok(()) => return t,
                Err(why) => errors.push(FieldError {
                    pointer: format!("/{field}"),
                    detail: why.into(),
                }),
            },
            None => errors.push(FieldError {
                pointer: format!("/{field}"),
                detail: "must be an RFC 3339 timestamp".into(),
            }),
        }
    }
    now
}

/// What to keep of the body: everything but the prompt text, the tool's output and the
/// assistant's last message (sensitive or large), with long strings in `tool_input` cut.
fn stored_attrs(body: &Map<String, Value>) -> Value {
    let mut kept = body.clone();
    if let Some(Value::String(p)) = kept.remove("prompt") {
        kept.insert("prompt_length".into(), p.chars().count().into());
    }
    if let Some(r) = kept.remove("tool_response") {
        kept.insert("tool_response_bytes".into(), r.to_string().len().into());
    }
    kept.remove("last_assistant_message");
    if let Some(Value::Object(input)) = kept.get_mut("tool_input") {
        for v in input.values_mut() {
            if let Value::String(s) = v {
                if s.chars().count() > KEEP_CHARS {
                    *s = s.chars().take(KEEP_CHARS).collect::<String>() + "…";
                }
            }
        }
    }
    Value::Object(kept)
}

/// One hook body into one event, or every problem with it.
pub fn parse(body: &Value, user: UserId, now: DateTime<Utc>) -> Result<Event, Vec<FieldError>> {
    let Value::Object(body) = body else {
        return Err(vec![FieldError {
            pointer: String::new(),
            detail: "must be a JSON object (the hook's stdin)".into(),
        }]);
    };
    let mut errors = Vec::new();
    let session = string(body, "session_id", MAX_ID, true, &mut errors);
    let name = string(body, "hook_event_name", 100, true, &mut errors);
    let cwd = string(body, "cwd", MAX_TEXT, false, &mut errors);
    let tool = string(body, "tool_name", MAX_ID, false, &mut errors);
    let tool_use_id = string(body, "tool_use_id", MAX_ID, false, &mut errors);
    let model = string(body, "model", MAX_ID, false, &mut errors);
    let prompt_id = string(body, "prompt_id", MAX_ID, false, &mut errors);
    // Known values (startup, resume, ... / clear, logout, ...) grow with Claude Code
    // versions: any short string is kept.
    let start_source = (name == Some("SessionStart"))
        .then(|| string(body, "source", 100, false, &mut errors))
        .flatten();
    let end_reason = (name == Some("SessionEnd"))
        .then(|| string(body, "reason", 100, false, &mut errors))
        .flatten();
    let agent = match body.get("tool_input") {
        Some(Value::Object(input)) if tool.is_some_and(events::is_agent_tool) => {
            string(input, "subagent_type", MAX_ID, false, &mut Vec::new())
        }
        _ => None,
    };
    let at = occurred_at(body, now, &mut errors);
    let duration_ms = match body.get("duration_ms") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64() {
            Some(ms) if (0..=86_400_000 * 7).contains(&ms) => Some(ms),
            _ => {
                errors.push(FieldError {
                    pointer: "/duration_ms".into(),
                    detail: "must be a whole number of milliseconds between 0 and a week".into(),
                });
                None
            }
        },
    };
    let tool_event = matches!(
        name,
        Some("PreToolUse" | "PostToolUse" | "PostToolUseFailure")
    );
    if tool_event && tool_use_id.is_none() && !errors.iter().any(|e| e.pointer == "/tool_use_id") {
        errors.push(FieldError {
            pointer: "/tool_use_id".into(),
            detail: "is required on tool events".into(),
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let (session, name) = (session.unwrap_or_default(), name.unwrap_or_default());
    let (kind, key) = match (name, tool_use_id) {
        ("PreToolUse", Some(id)) => (
            Kind::ToolStart {
                tool_use_id: id.into(),
            },
            format!("hook:pre:{id}"),
        ),
        ("PostToolUse", Some(id)) => (
            Kind::ToolEnd {
                tool_use_id: id.into(),
            },
            format!("hook:post:{id}"),
        ),
        ("PostToolUseFailure", Some(id)) => (
            Kind::ToolEnd {
                tool_use_id: id.into(),
            },
            format!("hook:fail:{id}"),
        ),
        ("UserPromptSubmit", _) if prompt_id.is_some() => {
            let id = prompt_id.unwrap_or_default();
            (
                Kind::Prompt {
                    prompt_id: Some(id.into()),
                },
                format!("hook:prompt:{id}"),
            )
        }
        (other, _) => {
            let kind = match other {
                "SessionStart" => Kind::SessionStart {
                    source: start_source.map(String::from),
                },
                "SessionEnd" => Kind::SessionEnd {
                    reason: end_reason.map(String::from),
                },
                "UserPromptSubmit" => Kind::Prompt { prompt_id: None },
                _ => Kind::Other,
            };
            // The collector names each spooled hook (`_id`); a plain http hook has only its
            // content.
            let key = match body.get("_id").and_then(Value::as_str) {
                Some(id) if !id.is_empty() && id.len() <= 200 => format!("hook:{other}:{id}"),
                _ => {
                    let canonical = Value::Object(body.clone()).to_string();
                    content_key(&format!("hook:{other}"), &[canonical.as_bytes()])
                }
            };
            (kind, key)
        }
    };
    let mut event = Event::new(key, kind, Source::Hook, at, user);
    event.session_id = Some(session.into());
    event.cwd = cwd.map(String::from);
    event.tool = tool.map(String::from);
    event.model = model.map(String::from);
    event.agent = agent.map(String::from);
    event.duration_ms = duration_ms;
    event.success = match name {
        "PostToolUse" => Some(true),
        "PostToolUseFailure" => Some(false),
        _ => None,
    };
    event.attrs = stored_attrs(body);
    Ok(event)
}
