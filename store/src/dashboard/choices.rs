//! What the filter bar offers: the people and teams a reader may narrow to, and the projects,
//! models and tools seen in the window among the people they see.

use sqlx::PgConnection;
use types::dashboard::{Choice, Choices, Window};
use types::Grain;

use super::{code, Reader};
use crate::{teams, Result};

pub async fn choices(conn: &mut PgConnection, reader: &Reader, w: &Window) -> Result<Choices> {
    let people: Option<Vec<uuid::Uuid>> = reader
        .people
        .as_ref()
        .map(|p| p.iter().map(|u| u.0).collect());
    let mut out = Choices::default();
    if reader.audience.can_pick_people() {
        out.people = sqlx::query!(
            r#"SELECT id, name, email FROM users
               WHERE $1::uuid[] IS NULL OR id = ANY($1)
               ORDER BY lower(CASE WHEN name = '' THEN email ELSE name END), email"#,
            people.as_deref()
        )
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|r| Choice {
            value: r.id.to_string(),
            label: if r.name.is_empty() { r.email } else { r.name },
        })
        .collect();
        let visible = match reader.audience {
            types::dashboard::Audience::Everyone => teams::Visible::All,
            _ => teams::Visible::ManagedBy(reader.me),
        };
        out.teams = teams::list(conn, visible)
            .await?
            .into_iter()
            .map(|t| Choice {
                value: t.id.to_string(),
                label: t.name,
            })
            .collect();
    }
    // Whole UTC days around the window: suggestions, not numbers, so the day rollups do.
    let seen = sqlx::query!(
        r#"SELECT coalesce(array_remove(array_agg(DISTINCT model), ''), '{}') AS "models!",
                  coalesce(array_remove(array_agg(DISTINCT tool), ''), '{}') AS "tools!"
           FROM rollups
           WHERE grain = $1 AND bucket >= date_trunc('day', $2::timestamptz, 'UTC') AND bucket < $3
             AND ($4::uuid[] IS NULL OR user_id = ANY($4))"#,
        code(Grain::Day),
        w.from,
        w.to,
        people.as_deref()
    )
    .fetch_one(&mut *conn)
    .await?;
    out.models = seen.models;
    out.tools = seen.tools;
    out.projects = sqlx::query_scalar!(
        r#"SELECT DISTINCT project AS "project!" FROM sessions
           WHERE started_at >= $1 AND started_at < $2 AND project IS NOT NULL AND project <> ''
             AND ($3::uuid[] IS NULL OR user_id = ANY($3))
           ORDER BY 1 LIMIT 500"#,
        w.from,
        w.to,
        people.as_deref()
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(out)
}
