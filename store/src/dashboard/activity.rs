//! The live widget: who is working now, and the latest things they did.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use types::dashboard::{Activity, PersonPresence, Presence, RecentEvent};

use super::{names, Reader};
use crate::{accounts::UserId, Result};

/// How many recent events the widget lists.
pub const RECENT: i64 = 20;

/// Presence from each visible person's latest session report in the last day, and the
/// latest events of the sessions that reported in the last hour (found through the sessions
/// table's index, not a scan of the events). A reader who sees totals only gets counts and
/// events with no names.
pub async fn activity(
    conn: &mut PgConnection,
    reader: &Reader,
    now: DateTime<Utc>,
) -> Result<Activity> {
    let people: Option<Vec<Uuid>> = reader
        .people
        .as_ref()
        .map(|p| p.iter().map(|u| u.0).collect());
    let seen = sqlx::query!(
        r#"SELECT DISTINCT ON (user_id) user_id, last_seen_at, project
           FROM sessions
           WHERE last_seen_at > $1 AND ($2::uuid[] IS NULL OR user_id = ANY($2))
           ORDER BY user_id, last_seen_at DESC"#,
        now - TimeDelta::days(1),
        people.as_deref()
    )
    .fetch_all(&mut *conn)
    .await?;
    let named = reader.names_people();
    let ids: Vec<Uuid> = seen.iter().map(|s| s.user_id).collect();
    let names = if named {
        names(conn, &ids).await?
    } else {
        Default::default()
    };
    let mut list: Vec<PersonPresence> = seen
        .into_iter()
        .map(|s| PersonPresence {
            user_id: named.then_some(UserId(s.user_id)),
            name: names.get(&s.user_id).cloned(),
            presence: Presence::of(s.last_seen_at, now),
            last_seen_at: s.last_seen_at,
            project: if named { s.project } else { None },
        })
        .collect();
    list.sort_by_key(|p| std::cmp::Reverse(p.last_seen_at));
    let count = |p: Presence| list.iter().filter(|x| x.presence == p).count() as i64;
    let (active, idle) = (count(Presence::Active), count(Presence::Idle));
    let recent = sqlx::query!(
        r#"SELECT e.occurred_at, e.kind, e.tool, e.model, e.success, e.session_id, e.user_id
           FROM sessions s
           CROSS JOIN LATERAL (
               SELECT * FROM events e
               WHERE e.session_id = s.id AND e.occurred_at > $1
                 AND e.kind NOT IN ('usage_counter', 'lines_counter', 'counter', 'other')
               ORDER BY e.occurred_at DESC LIMIT $3) e
           WHERE s.last_seen_at > $1 AND ($2::uuid[] IS NULL OR s.user_id = ANY($2))
           ORDER BY e.occurred_at DESC
           LIMIT $3"#,
        now - TimeDelta::hours(1),
        people.as_deref(),
        RECENT
    )
    .fetch_all(&mut *conn)
    .await?;
    let recent = recent
        .into_iter()
        .map(|e| RecentEvent {
            at: e.occurred_at,
            kind: e.kind,
            tool: e.tool,
            model: e.model,
            success: e.success,
            person: if named {
                names.get(&e.user_id).cloned()
            } else {
                None
            },
            session_id: if named { e.session_id } else { None },
        })
        .collect();
    if !named {
        list.clear();
    }
    Ok(Activity {
        active,
        idle,
        people: list,
        recent,
    })
}
