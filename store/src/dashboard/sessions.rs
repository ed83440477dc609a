//! The sessions table and one session's drill-down.

use std::collections::BTreeMap;

use sqlx::PgConnection;

use types::dashboard::{
    Filters, SessionDetail, SessionPage, SessionSort, TimelineEntry, Window, TIMELINE_LIMIT,
};

use super::Reader;
use crate::{
    accounts::UserId,
    activity::{self, SessionFilter},
    Error, Result,
};

/// Sessions a page holds.
pub const PER_PAGE: i64 = 25;

/// Sessions are rows about one person each: a reader who sees totals only gets none.
fn refuse_aggregate(reader: &Reader) -> Result<()> {
    if reader.names_people() {
        Ok(())
    } else {
        Err(Error::Invalid {
            field: "sessions",
            reason: "your role sees totals only; sessions belong to people".into(),
        })
    }
}

/// Page `page` (from 1) of the sessions that started in the window.
pub async fn sessions_page(
    conn: &mut PgConnection,
    reader: &Reader,
    w: &Window,
    f: &Filters,
    sort: SessionSort,
    page: i64,
) -> Result<SessionPage> {
    refuse_aggregate(reader)?;
    if !(1..=10_000).contains(&page) {
        return Err(Error::Invalid {
            field: "page",
            reason: "must be from 1 to 10000".into(),
        });
    }
    let people = reader.people_for(conn, f).await?;
    let only: Option<Vec<UserId>> = people
        .as_ref()
        .map(|p| p.iter().copied().map(UserId).collect());
    let total = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM sessions
           WHERE started_at >= $1 AND started_at < $2
             AND ($3::uuid[] IS NULL OR user_id = ANY($3))
             AND ($4::text IS NULL OR project = $4)
             AND ($5::text IS NULL OR model = $5)"#,
        w.from,
        w.to,
        people.as_deref(),
        f.project,
        f.model
    )
    .fetch_one(&mut *conn)
    .await?;
    let filter = SessionFilter {
        only: only.as_deref(),
        project: f.project.as_deref(),
        model: f.model.as_deref(),
        sort,
        offset: (page - 1) * PER_PAGE,
        ..SessionFilter::new(w.from, w.to, PER_PAGE)
    };
    let sessions = activity::sessions(conn, filter).await?;
    Ok(SessionPage {
        window: w.clone(),
        sort,
        page,
        per_page: PER_PAGE,
        total,
        sessions,
    })
}

/// One session with its timeline, if the reader may see its person (else not found).
pub async fn session_detail(
    conn: &mut PgConnection,
    reader: &Reader,
    id: &str,
) -> Result<SessionDetail> {
    refuse_aggregate(reader)?;
    let session = activity::session(conn, id, reader.people.as_deref()).await?;
    // Tool runs and prompts come from their own tables (each counted once whichever source
    // reported it); requests and errors from the raw events, which their ids already dedupe.
    let rows = sqlx::query!(
        r#"SELECT * FROM (
             SELECT t.started_at AS at, 'tool' AS kind, t.tool, NULL::text AS model, t.success,
                    t.duration_ms, NULL::int8 AS tokens, NULL::int8 AS cache_read,
                    NULL::float8 AS cost,
                    coalesce(t.agent, (SELECT e.attrs->>'error' FROM events e
                                       WHERE e.session_id = t.session_id AND e.kind = 'tool_end'
                                         AND e.success = false
                                         AND e.key LIKE '%:' || t.tool_use_id LIMIT 1)) AS detail
             FROM tool_runs t WHERE t.session_id = $1
             UNION ALL
             SELECT p.at, 'prompt', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
             FROM prompts p WHERE p.session_id = $1
             UNION ALL
             SELECT e.occurred_at, e.kind, NULL, e.model, NULL, e.duration_ms,
                    coalesce(e.input_tokens, 0) + coalesce(e.output_tokens, 0)
                      + coalesce(e.cache_creation_tokens, 0) + coalesce(e.cache_read_tokens, 0),
                    e.cache_read_tokens, e.cost_usd::float8,
                    coalesce(e.attrs->>'status_code', e.attrs->>'error')
             FROM events e
             WHERE e.session_id = $1 AND e.kind IN ('api_request', 'api_error')
           ) x ORDER BY at, kind LIMIT $2"#,
        id,
        TIMELINE_LIMIT + 1
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut timeline: Vec<TimelineEntry> = rows
        .into_iter()
        .filter_map(|r| {
            Some(TimelineEntry {
                at: r.at?,
                kind: r.kind?,
                tool: r.tool,
                model: r.model,
                success: r.success,
                duration_ms: r.duration_ms,
                tokens: r.tokens,
                cache_read_tokens: r.cache_read,
                cost_usd: r.cost,
                detail: r.detail,
            })
        })
        .collect();
    let truncated = timeline.len() as i64 > TIMELINE_LIMIT;
    timeline.truncate(TIMELINE_LIMIT as usize);
    let by_tool: BTreeMap<String, i64> = sqlx::query!(
        r#"SELECT tool, count(*) AS "n!" FROM tool_runs WHERE session_id = $1 GROUP BY tool"#,
        id
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| (r.tool, r.n))
    .collect();
    Ok(SessionDetail {
        session,
        timeline,
        truncated,
        by_tool,
    })
}
