//! Sessions: one row per session id, whichever sources report it, with its first and last
//! times and what it ran in.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Deltas, Event, Kind};
use crate::Result;

fn project_of(cwd: &str) -> String {
    cwd.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(cwd)
        .to_string()
}

#[derive(Clone, Debug)]
struct SessionRow {
    user_id: Uuid,
    cwd: Option<String>,
    git_branch: Option<String>,
    model: Option<String>,
    start_source: Option<String>,
    started_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    end_reason: Option<String>,
    usage_from_events: bool,
    is_new: bool,
    import_batch: Option<Uuid>,
    source: Option<String>,
}

pub(super) async fn fold_sessions(
    conn: &mut PgConnection,
    events: &[&Event],
    deltas: &mut Deltas,
) -> Result<()> {
    let ids: Vec<String> = events
        .iter()
        .filter_map(|e| e.session_id.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    // No row locks: every writer of sessions and tool runs holds the tenant's write lock.
    let mut rows: BTreeMap<String, SessionRow> = sqlx::query!(
        "SELECT id, user_id, cwd, git_branch, model, start_source, started_at, last_seen_at,
                ended_at, end_reason, usage_from_events, source
         FROM sessions WHERE id = ANY($1)",
        &ids
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| {
        (
            r.id,
            SessionRow {
                user_id: r.user_id,
                cwd: r.cwd,
                git_branch: r.git_branch,
                model: r.model,
                start_source: r.start_source,
                started_at: r.started_at,
                last_seen_at: r.last_seen_at,
                ended_at: r.ended_at,
                end_reason: r.end_reason,
                usage_from_events: r.usage_from_events,
                is_new: false,
                import_batch: None,
                source: r.source,
            },
        )
    })
    .collect();
    for e in events {
        let Some(id) = &e.session_id else { continue };
        let row = rows.entry(id.clone()).or_insert_with(|| SessionRow {
            user_id: e.user_id.0,
            cwd: None,
            git_branch: None,
            model: None,
            start_source: None,
            started_at: e.occurred_at,
            last_seen_at: e.occurred_at,
            ended_at: None,
            end_reason: None,
            usage_from_events: false,
            is_new: true,
            import_batch: e.import_batch,
            source: None,
        });
        row.source = row.source.take().or_else(|| Some(e.source.as_str().into()));
        row.started_at = row.started_at.min(e.occurred_at);
        row.last_seen_at = row.last_seen_at.max(e.occurred_at);
        row.cwd = row.cwd.take().or_else(|| e.cwd.clone());
        row.git_branch = row.git_branch.take().or_else(|| e.git_branch.clone());
        row.model = row.model.take().or_else(|| e.model.clone());
        match &e.kind {
            Kind::SessionStart { source } => {
                row.start_source = row.start_source.take().or_else(|| source.clone());
            }
            Kind::SessionEnd { reason } => {
                row.ended_at = Some(row.ended_at.map_or(e.occurred_at, |t| t.max(e.occurred_at)));
                row.end_reason = row.end_reason.take().or_else(|| reason.clone());
            }
            _ => {}
        }
    }
    for row in rows.values().filter(|r| r.is_new) {
        deltas.at(row.started_at, row.user_id, "", "").sessions += 1;
    }
    // One statement for all of the batch's sessions.
    let ids: Vec<&String> = rows.keys().collect();
    let rs: Vec<&SessionRow> = rows.values().collect();
    sqlx::query(
        "INSERT INTO sessions (id, user_id, project, cwd, git_branch, model, start_source,
             started_at, last_seen_at, ended_at, end_reason, usage_from_events, import_batch,
             source)
         SELECT * FROM UNNEST($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[],
             $6::text[], $7::text[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[],
             $11::text[], $12::bool[], $13::uuid[], $14::text[])
         ON CONFLICT (id) DO UPDATE SET
             project = EXCLUDED.project, cwd = EXCLUDED.cwd, git_branch = EXCLUDED.git_branch,
             model = EXCLUDED.model, start_source = EXCLUDED.start_source,
             started_at = EXCLUDED.started_at, last_seen_at = EXCLUDED.last_seen_at,
             ended_at = EXCLUDED.ended_at, end_reason = EXCLUDED.end_reason,
             source = EXCLUDED.source",
    )
    .bind(&ids)
    .bind(rs.iter().map(|r| r.user_id).collect::<Vec<_>>())
    .bind(
        rs.iter()
            .map(|r| r.cwd.as_deref().map(project_of))
            .collect::<Vec<_>>(),
    )
    .bind(rs.iter().map(|r| r.cwd.clone()).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.git_branch.clone()).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.model.clone()).collect::<Vec<_>>())
    .bind(
        rs.iter()
            .map(|r| r.start_source.clone())
            .collect::<Vec<_>>(),
    )
    .bind(rs.iter().map(|r| r.started_at).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.last_seen_at).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.ended_at).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.end_reason.clone()).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.usage_from_events).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.import_batch).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.source.as_deref()).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
}
