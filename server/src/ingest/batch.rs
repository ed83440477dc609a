//! `POST /api/v1/ingest/batch` items: either a Claude Code hook body (it has
//! `hook_event_name`; what the collector forwards) or a typed item for everything else; and
//! writing a batch of them, each item's fate in the answer.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use store::{
    events::{Event, Kind, Source, Unpriced, Usage},
    UserId,
};

use super::{check_time, content_key, hooks, Fate, Writer};
use crate::{
    auth::Caller,
    error::{ApiError, FieldError},
};

pub const TYPES: &str = "session_start, session_end, tool_use, api_request, lines, event";

struct Item<'a> {
    body: &'a Map<String, Value>,
    errors: Vec<FieldError>,
}

impl<'a> Item<'a> {
    fn err(&mut self, field: &str, detail: impl Into<String>) {
        self.errors.push(FieldError {
            pointer: format!("/{field}"),
            detail: detail.into(),
        });
    }

    fn text(&mut self, field: &str, max: usize, required: bool) -> Option<String> {
        match self.body.get(field) {
            None | Some(Value::Null) => {
                if required {
                    self.err(field, "is required");
                }
                None
            }
            Some(Value::String(s)) if s.is_empty() => {
                self.err(field, "must not be empty");
                None
            }
            Some(Value::String(s)) if s.chars().count() > max => {
                self.err(field, format!("must be at most {max} characters"));
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.err(field, "must be a string");
                None
            }
        }
    }

    fn int(&mut self, field: &str, max: i64) -> Option<i64> {
        match self.body.get(field) {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_i64() {
                Some(n) if (0..=max).contains(&n) => Some(n),
                _ => {
                    self.err(field, format!("must be a whole number from 0 to {max}"));
                    None
                }
            },
        }
    }

    fn money(&mut self, field: &str) -> Option<f64> {
        match self.body.get(field) {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_f64() {
                Some(n) if (0.0..=1_000_000.0).contains(&n) => Some(n),
                _ => {
                    self.err(field, "must be a number from 0 to 1000000");
                    None
                }
            },
        }
    }

    fn boolean(&mut self, field: &str) -> Option<bool> {
        match self.body.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.err(field, "must be true or false");
                None
            }
        }
    }
}

/// One batch item into an event, or its problems (pointers relative to the item).
///
/// Takes the item by value: the body becomes the event's attributes without a copy.
pub fn parse_item(
    value: Value,
    user: UserId,
    now: DateTime<Utc>,
) -> Result<Event, Vec<FieldError>> {
    let Value::Object(body) = &value else {
        return Err(vec![FieldError {
            pointer: String::new(),
            detail: "must be a JSON object".into(),
        }]);
    };
    if body.contains_key("hook_event_name") {
        return hooks::parse(&value, user, now).map(|mut e| {
            e.source = Source::Api;
            e
        });
    }
    let mut item = Item {
        body,
        errors: Vec::new(),
    };
    let kind = item.text("type", 40, true);
    let at = item.text("timestamp", 64, true).and_then(|t| {
        match DateTime::parse_from_rfc3339(&t).map(|t| t.with_timezone(&Utc)) {
            Ok(t) => match check_time(t, now) {
                Ok(()) => Some(t),
                Err(why) => {
                    item.err("timestamp", why);
                    None
                }
            },
            Err(_) => {
                item.err("timestamp", "must be an RFC 3339 timestamp");
                None
            }
        }
    });
    let id = item.text("id", 200, false);
    let session = item.text("session_id", 200, false);
    let tool = item.text("tool_name", 200, false);
    let tool_use_id = item.text("tool_use_id", 200, false);
    let request_id = item.text("request_id", 200, false);
    let model = item.text("model", 200, false);
    let cwd = item.text("cwd", 4096, false);
    let git_branch = item.text("git_branch", 400, false);
    let reason = item.text("reason", 200, false);
    let agent = item.text("agent", 200, false);
    let success = item.boolean("success");
    let duration = item.int("duration_ms", 7 * 86_400_000);
    let tokens = [
        item.int("input_tokens", 1_000_000_000),
        item.int("output_tokens", 1_000_000_000),
        item.int("cache_creation_tokens", 1_000_000_000),
        item.int("cache_read_tokens", 1_000_000_000),
    ];
    let cache_1h = item.int("cache_creation_1h_tokens", 1_000_000_000);
    if cache_1h.unwrap_or(0) > tokens[2].unwrap_or(0) {
        item.err(
            "cache_creation_1h_tokens",
            "must not exceed cache_creation_tokens (it is the 1-hour part of them)",
        );
    }
    let cost = item.money("cost_usd");
    let added = item.int("lines_added", 10_000_000);
    let removed = item.int("lines_removed", 10_000_000);
    if let Some(a) = body.get("attributes") {
        if !a.is_object() {
            item.err("attributes", "must be an object");
        }
    }
    // Only items without an id of their own are named by their content.
    let hashed = |prefix: &str| content_key(prefix, &[value.to_string().as_bytes()]);
    let own = |prefix: &str, id: &Option<String>| {
        id.as_ref()
            .map(|i| format!("api:{prefix}:{i}"))
            .unwrap_or_else(|| hashed(&format!("api:{prefix}")))
    };
    let (kind, key) = match kind.as_deref() {
        Some("session_start") => (
            Kind::SessionStart {
                source: reason.clone(),
            },
            own("session_start", &id),
        ),
        Some("session_end") => (
            Kind::SessionEnd {
                reason: reason.clone(),
            },
            own("session_end", &id),
        ),
        Some("tool_use") => match &tool_use_id {
            Some(t) => (
                Kind::ToolEnd {
                    tool_use_id: t.clone(),
                },
                format!("api:tool_use:{t}"),
            ),
            None => {
                // Without the source's id, the item's own id (or content) names the execution.
                let key = own("tool_use", &id);
                (
                    Kind::ToolEnd {
                        tool_use_id: key.clone(),
                    },
                    key,
                )
            }
        },
        Some("api_request") => match &request_id {
            Some(r) => (
                Kind::ApiRequest {
                    request_id: r.clone(),
                },
                format!("api:api_request:{r}"),
            ),
            None => {
                let key = own("api_request", &id);
                (
                    Kind::ApiRequest {
                        request_id: key.clone(),
                    },
                    key,
                )
            }
        },
        Some("lines") => (Kind::LinesCounter, own("lines", &id)),
        Some("event") => (Kind::Other, own("event", &id)),
        Some(_) => {
            item.err("type", format!("must be one of {TYPES}"));
            (Kind::Other, String::new())
        }
        None => (Kind::Other, String::new()),
    };
    if matches!(kind, Kind::ToolEnd { .. }) && tool.is_none() {
        item.err("tool_name", "is required for tool_use");
    }
    if matches!(kind, Kind::SessionStart { .. } | Kind::SessionEnd { .. }) && session.is_none() {
        item.err("session_id", "is required for session events");
    }
    if !item.errors.is_empty() {
        return Err(item.errors);
    }
    let mut e = Event::new(key, kind.clone(), Source::Api, at.unwrap_or(now), user);
    e.session_id = session;
    e.tool = tool;
    e.model = model;
    e.cwd = cwd;
    e.git_branch = git_branch;
    e.success = success;
    e.duration_ms = duration;
    if e.tool.as_deref().is_some_and(store::events::is_agent_tool) {
        e.agent = agent;
    }
    if matches!(kind, Kind::ApiRequest { .. }) {
        e.usage = Some(Usage {
            input_tokens: tokens[0].unwrap_or(0),
            output_tokens: tokens[1].unwrap_or(0),
            cache_creation_tokens: tokens[2].unwrap_or(0),
            cache_read_tokens: tokens[3].unwrap_or(0),
            cost_usd: cost.unwrap_or(0.0),
        });
        // Without a cost, the tenant's price table decides it when the event is written.
        if cost.is_none() {
            e.unpriced = Some(Unpriced {
                cache_creation_1h_tokens: cache_1h.unwrap_or(0),
            });
        }
    }
    if matches!(kind, Kind::LinesCounter) {
        e.lines_added = Some(added.unwrap_or(0));
        e.lines_removed = Some(removed.unwrap_or(0));
    }
    drop(item);
    e.attrs = value;
    Ok(e)
}

#[derive(serde::Serialize)]
struct ItemResult {
    index: usize,
    status: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldError>,
}

/// Parses and writes batch items as `me`; `file` marks each accepted event (its source, its
/// import batch). Answers with each item's fate, in the shape of `POST /api/v1/ingest/batch`
/// (which MCP's `record` answers too).
pub async fn write_batch(
    writer: &Writer,
    me: &Caller,
    items: Vec<Result<Value, String>>,
    file: impl Fn(&mut Event),
) -> Result<Value, ApiError> {
    let now = Utc::now();
    let mut results = Vec::with_capacity(items.len());
    let mut events = Vec::new();
    let mut positions = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let parsed = item
            .map_err(|detail| {
                vec![FieldError {
                    pointer: String::new(),
                    detail,
                }]
            })
            .and_then(|v| parse_item(v, me.user_id, now));
        match parsed {
            Ok(mut event) => {
                file(&mut event);
                positions.push(index);
                events.push(event);
                results.push(ItemResult {
                    index,
                    status: "accepted",
                    errors: Vec::new(),
                });
            }
            Err(errors) => results.push(ItemResult {
                index,
                status: "rejected",
                errors: errors
                    .into_iter()
                    .map(|e| FieldError {
                        pointer: format!("/{index}{}", e.pointer),
                        detail: e.detail,
                    })
                    .collect(),
            }),
        }
    }
    let receipt = writer.submit(me.tenant()?.scope(), events).await?;
    for (pos, fate) in positions.into_iter().zip(receipt.fates) {
        match fate {
            Fate::New => {}
            Fate::Duplicate => results[pos].status = "duplicate",
            Fate::Unstorable(detail) => {
                results[pos].status = "rejected";
                results[pos].errors.push(FieldError {
                    pointer: format!("/{pos}"),
                    detail,
                });
            }
            Fate::Refused(r) => {
                results[pos].status = "rejected";
                results[pos].errors.push(FieldError {
                    pointer: format!("/{pos}/{}", r.field),
                    detail: r.reason,
                });
            }
        }
    }
    let count = |s: &str| results.iter().filter(|r| r.status == s).count();
    Ok(serde_json::json!({
        "accepted": count("accepted"),
        "duplicates": count("duplicate"),
        "rejected": count("rejected"),
        "items": results,
    }))
}
