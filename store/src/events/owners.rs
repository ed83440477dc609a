//! Whose a session, tool run, API request or prompt is: the person whose report created it.
//! The ids come from the clients, so anyone who learned a colleague's session id could
//! otherwise add to that session (its counts, its cost) with their own key. An event naming
//! something another person owns is refused instead, naming the field, and the rest of its
//! batch is written.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Event, Kind};
use crate::Result;

/// Why an event was not written: the field at fault and the reason, for the sender.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub field: &'static str,
    pub reason: String,
}

/// The things an event names, each with the field that names it and what it is.
fn named(e: &Event) -> impl Iterator<Item = (Thing, &str)> {
    let own = match &e.kind {
        Kind::ToolStart { tool_use_id } | Kind::ToolEnd { tool_use_id } => {
            Some((Thing::ToolRun, tool_use_id.as_str()))
        }
        Kind::ApiRequest { request_id } => Some((Thing::Request, request_id.as_str())),
        // As the prompts fold names them.
        Kind::Prompt { prompt_id } => Some((
            Thing::Prompt,
            prompt_id.as_deref().unwrap_or(e.key.as_str()),
        )),
        _ => None,
    };
    e.session_id
        .as_deref()
        .map(|s| (Thing::Session, s))
        .into_iter()
        .chain(own)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Thing {
    Session,
    ToolRun,
    Request,
    Prompt,
}

impl Thing {
    const ALL: [Thing; 4] = [
        Thing::Session,
        Thing::ToolRun,
        Thing::Request,
        Thing::Prompt,
    ];

    fn field(self) -> &'static str {
        match self {
            Thing::Session => "session_id",
            Thing::ToolRun => "tool_use_id",
            Thing::Request => "request_id",
            Thing::Prompt => "prompt_id",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Thing::Session => "session",
            Thing::ToolRun => "tool run",
            Thing::Request => "API request",
            Thing::Prompt => "prompt",
        }
    }
}

/// For each event, in the order folded, whether it names something another person owns:
/// stored with another owner, or first named earlier in these events by someone else. Run it
/// under the tenant's write lock, so that two writers cannot both claim a new id.
pub(super) async fn refuse_others(
    conn: &mut PgConnection,
    events: &[&Event],
) -> Result<Vec<Option<Refusal>>> {
    let mut ids: HashMap<Thing, Vec<&str>> = HashMap::new();
    for e in events {
        for (thing, id) in named(e) {
            ids.entry(thing).or_default().push(id);
        }
    }
    if ids.is_empty() {
        return Ok(vec![None; events.len()]);
    }
    let of = |t: Thing| ids.get(&t).cloned().unwrap_or_default();
    let stored: Vec<(i16, String, Uuid)> = sqlx::query_as(
        "SELECT 0::int2, id, user_id FROM sessions WHERE id = ANY($1)
         UNION ALL SELECT 1::int2, tool_use_id, user_id FROM tool_runs WHERE tool_use_id = ANY($2)
         UNION ALL SELECT 2::int2, request_id, user_id FROM api_requests WHERE request_id = ANY($3)
         UNION ALL SELECT 3::int2, prompt_id, user_id FROM prompts WHERE prompt_id = ANY($4)",
    )
    .bind(of(Thing::Session))
    .bind(of(Thing::ToolRun))
    .bind(of(Thing::Request))
    .bind(of(Thing::Prompt))
    .fetch_all(&mut *conn)
    .await?;
    let mut owners: HashMap<(Thing, String), Uuid> = stored
        .into_iter()
        .map(|(t, id, user)| ((Thing::ALL[t as usize], id), user))
        .collect();
    Ok(events
        .iter()
        .map(|e| {
            let user = e.user_id.0;
            let refused = named(e).find(|(thing, id)| {
                owners
                    .get(&(*thing, id.to_string()))
                    .is_some_and(|owner| *owner != user)
            });
            if let Some((thing, _)) = refused {
                return Some(Refusal {
                    field: thing.field(),
                    reason: format!("is another person's {}", thing.what()),
                });
            }
            // Only an event that is written claims what it names.
            for (thing, id) in named(e) {
                owners.entry((thing, id.to_string())).or_insert(user);
            }
            None
        })
        .collect())
}
