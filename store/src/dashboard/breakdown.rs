//! Breakdowns (one row per model, tool, person, team or project) and the weekly heatmap.

use std::collections::BTreeMap;

use sqlx::PgConnection;
use uuid::Uuid;

use types::dashboard::{Breakdown, Dimension, Filters, Heatmap, Row, Split, Window};
use types::metrics::round_usd;

use super::{code, per_person, series::labels, source_grain, Reader};
use crate::{activity::hist_quantile, events::HIST_SLOTS, Error, Result};

/// Whether `reader` may see a breakdown by `by`: one that names people needs a role that sees
/// people, not only totals.
pub fn may_read(reader: &Reader, by: Dimension) -> Result<()> {
    if by.names_people() && !reader.names_people() {
        return Err(Error::Invalid {
            field: "by",
            reason: "your role sees totals only, not people".into(),
        });
    }
    Ok(())
}

/// The breakdown by `by`, with each row's mean session score from `scores` ([`scores`] for
/// the same reader, window and filters; `None`: rows without scores).
pub async fn breakdown(
    conn: &mut PgConnection,
    reader: &Reader,
    w: &Window,
    f: &Filters,
    by: Dimension,
    scores: Option<&Scores>,
) -> Result<Breakdown> {
    may_read(reader, by)?;
    let people = reader.people_for(conn, f).await?;
    let people = people.as_deref();
    let mut rows = if by == Dimension::Project || f.project.is_some() {
        from_sessions(conn, w, f, people, by).await?
    } else {
        from_rollups(conn, w, f, people, by).await?
    };
    if let Some(scores) = scores {
        for r in &mut rows {
            r.avg_score = scores.get(by, &r.key);
        }
    }
    if by == Dimension::Tool {
        let hists = histograms(conn, w, f, people).await?;
        for r in &mut rows {
            if let Some(h) = hists.get(&r.key) {
                r.p50_ms = hist_quantile(h, 0.50);
                r.p95_ms = hist_quantile(h, 0.95);
            }
        }
    }
    let split = match by {
        Dimension::Person => Some(Split::Person),
        Dimension::Team => Some(Split::Team),
        Dimension::Project => Some(Split::Project),
        Dimension::Model | Dimension::Tool => None,
    };
    if let Some(split) = split {
        let names = labels(conn, split, rows.iter().map(|r| &r.key)).await?;
        for r in &mut rows {
            if let Some(n) = names.get(&r.key) {
                r.label = n.clone();
            }
        }
    }
    rows.retain(|r| match by {
        // Tool and model rows exist only where a tool ran or a model answered.
        Dimension::Tool => !r.key.is_empty() && r.counts.tool_executions > 0,
        Dimension::Model => !r.key.is_empty(),
        _ => true,
    });
    if by == Dimension::Tool {
        rows.sort_by(|a, b| {
            (b.counts.tool_executions)
                .cmp(&a.counts.tool_executions)
                .then(a.key.cmp(&b.key))
        });
    } else {
        rows.sort_by(|a, b| {
            b.counts
                .cost_usd
                .total_cmp(&a.counts.cost_usd)
                .then(a.label.cmp(&b.label))
        });
    }
    Ok(Breakdown {
        window: w.clone(),
        by,
        rows,
    })
}

async fn from_rollups(
    conn: &mut PgConnection,
    w: &Window,
    f: &Filters,
    people: Option<&[Uuid]>,
    by: Dimension,
) -> Result<Vec<Row>> {
    let src = source_grain(conn, w).await?;
    let rows = sqlx::query!(
        // Summed per key and person first, then per key: counting the people of a key is
        // then a count of rows, where `count(DISTINCT user_id)` sorted every rollup row.
        r#"SELECT key AS "key!", count(*)::int8 AS "people!",
                  sum(sessions)::int8 AS "sessions!",
                  sum(tool_executions)::int8 AS "tool_executions!",
                  sum(tool_failures)::int8 AS "tool_failures!",
                  sum(agent_invocations)::int8 AS "agent_invocations!",
                  sum(api_requests)::int8 AS "api_requests!",
                  sum(input_tokens)::int8 AS "input_tokens!",
                  sum(output_tokens)::int8 AS "output_tokens!",
                  sum(cache_creation_tokens)::int8 AS "cache_creation_tokens!",
                  sum(cache_read_tokens)::int8 AS "cache_read_tokens!",
                  sum(cost_usd)::float8 AS "cost_usd!", sum(lines_added)::int8 AS "lines_added!",
                  sum(lines_removed)::int8 AS "lines_removed!", sum(prompts)::int8 AS "prompts!",
                  sum(api_errors)::int8 AS "api_errors!", sum(commits)::int8 AS "commits!",
                  sum(pull_requests)::int8 AS "pull_requests!",
                  sum(active_user_ms)::int8 AS "active_user_ms!",
                  sum(active_cli_ms)::int8 AS "active_cli_ms!",
                  sum(edits_accepted)::int8 AS "edits_accepted!",
                  sum(edits_rejected)::int8 AS "edits_rejected!"
           FROM (SELECT CASE $6::text WHEN 'model' THEN r.model WHEN 'tool' THEN r.tool
                                      WHEN 'person' THEN r.user_id::text
                                      ELSE coalesce(tm.team_id::text, '') END AS key,
                        r.user_id,
                        sum(r.sessions) AS sessions, sum(r.tool_executions) AS tool_executions,
                        sum(r.tool_failures) AS tool_failures,
                        sum(r.agent_invocations) AS agent_invocations,
                        sum(r.api_requests) AS api_requests, sum(r.input_tokens) AS input_tokens,
                        sum(r.output_tokens) AS output_tokens,
                        sum(r.cache_creation_tokens) AS cache_creation_tokens,
                        sum(r.cache_read_tokens) AS cache_read_tokens,
                        sum(r.cost_usd) AS cost_usd, sum(r.lines_added) AS lines_added,
                        sum(r.lines_removed) AS lines_removed, sum(r.prompts) AS prompts,
                        sum(r.api_errors) AS api_errors, sum(r.commits) AS commits,
                        sum(r.pull_requests) AS pull_requests,
                        sum(r.active_user_ms) AS active_user_ms,
                        sum(r.active_cli_ms) AS active_cli_ms,
                        sum(r.edits_accepted) AS edits_accepted,
                        sum(r.edits_rejected) AS edits_rejected
                 FROM rollup_rows r
                 LEFT JOIN team_members tm ON $6::text = 'team' AND tm.user_id = r.user_id
                 WHERE r.per_person = $8 AND r.grain = $1 AND r.bucket >= $2 AND r.bucket < $3
                   AND ($4::uuid[] IS NULL OR r.user_id = ANY($4))
                   AND ($5::text IS NULL OR r.model = $5)
                   AND ($7::text IS NULL OR r.tool = $7)
                 GROUP BY 1, 2) per_person
           GROUP BY 1"#,
        code(src),
        w.from,
        w.to,
        people,
        f.model,
        by.as_str(),
        f.tool,
        matches!(by, Dimension::Person | Dimension::Team) && per_person(f)
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mut counts = crate::counts_of!(r);
            counts.cost_usd = round_usd(counts.cost_usd);
            Row {
                label: r.key.clone(),
                key: r.key,
                people: r.people,
                sessions: r.sessions,
                counts,
                p50_ms: None,
                p95_ms: None,
                avg_score: None,
            }
        })
        .collect())
}

/// Rows from the sessions table: by project always (rollups carry none), and by anything
/// when a project filter is on.
async fn from_sessions(
    conn: &mut PgConnection,
    w: &Window,
    f: &Filters,
    people: Option<&[Uuid]>,
    by: Dimension,
) -> Result<Vec<Row>> {
    let rows = sqlx::query!(
        r#"SELECT CASE $6::text WHEN 'model' THEN coalesce(s.model, '') WHEN 'tool' THEN ''
                                WHEN 'person' THEN s.user_id::text
                                WHEN 'team' THEN coalesce(tm.team_id::text, '')
                                ELSE coalesce(s.project, '') END AS "key!",
                  count(DISTINCT s.user_id)::int8 AS "people!",
                  count(*)::int8 AS "sessions!",
                  sum(s.tool_executions)::int8 AS "tool_executions!",
                  sum(s.tool_failures)::int8 AS "tool_failures!",
                  sum(s.agent_invocations)::int8 AS "agent_invocations!",
                  sum(s.api_requests)::int8 AS "api_requests!",
                  sum(s.input_tokens)::int8 AS "input_tokens!",
                  sum(s.output_tokens)::int8 AS "output_tokens!",
                  sum(s.cache_creation_tokens)::int8 AS "cache_creation_tokens!",
                  sum(s.cache_read_tokens)::int8 AS "cache_read_tokens!",
                  sum(s.cost_usd)::float8 AS "cost_usd!",
                  sum(s.lines_added)::int8 AS "lines_added!",
                  sum(s.lines_removed)::int8 AS "lines_removed!",
                  sum(s.prompts)::int8 AS "prompts!", sum(s.api_errors)::int8 AS "api_errors!",
                  sum(s.commits)::int8 AS "commits!",
                  sum(s.pull_requests)::int8 AS "pull_requests!",
                  sum(s.active_user_ms)::int8 AS "active_user_ms!",
                  sum(s.active_cli_ms)::int8 AS "active_cli_ms!",
                  sum(s.edits_accepted)::int8 AS "edits_accepted!",
                  sum(s.edits_rejected)::int8 AS "edits_rejected!"
           FROM sessions s
           LEFT JOIN team_members tm ON $6::text = 'team' AND tm.user_id = s.user_id
           WHERE s.started_at >= $1 AND s.started_at < $2
             AND ($3::uuid[] IS NULL OR s.user_id = ANY($3))
             AND ($4::text IS NULL OR s.model = $4)
             AND ($5::text IS NULL OR s.project = $5)
           GROUP BY 1"#,
        w.from,
        w.to,
        people,
        f.model,
        f.project,
        by.as_str()
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mut counts = crate::counts_of!(r);
            counts.cost_usd = round_usd(counts.cost_usd);
            Row {
                label: r.key.clone(),
                key: r.key,
                people: r.people,
                sessions: r.sessions,
                counts,
                p50_ms: None,
                p95_ms: None,
                avg_score: None,
            }
        })
        .collect())
}

/// The mean session score of each row of every breakdown but by tool (a score belongs to a
/// session, and tools have none), by dimension then row key: one scan of the window's
/// sessions for the four breakdowns a page shows.
#[derive(Clone, Debug)]
pub struct Scores(BTreeMap<&'static str, BTreeMap<String, Option<f64>>>);

impl Scores {
    fn get(&self, by: Dimension, key: &str) -> Option<f64> {
        self.0.get(by.as_str())?.get(key).copied().flatten()
    }
}

pub async fn scores(
    conn: &mut PgConnection,
    reader: &Reader,
    w: &Window,
    f: &Filters,
) -> Result<Scores> {
    let people = reader.people_for(conn, f).await?;
    let rows = sqlx::query!(
        r#"WITH s AS MATERIALIZED (
               SELECT s.user_id, coalesce(s.model, '') AS model,
                      coalesce(s.project, '') AS project, s.productivity_score AS score
               FROM sessions s
               WHERE s.started_at >= $1 AND s.started_at < $2
                 AND ($3::uuid[] IS NULL OR s.user_id = ANY($3))
                 AND ($4::text IS NULL OR s.project = $4))
           SELECT 'person' AS "by!", user_id::text AS "key!",
                  round(avg(score)::numeric, 1)::float8 AS score
           FROM s GROUP BY user_id
           UNION ALL
           SELECT 'model', model, round(avg(score)::numeric, 1)::float8 FROM s GROUP BY model
           UNION ALL
           SELECT 'project', project, round(avg(score)::numeric, 1)::float8
           FROM s GROUP BY project
           UNION ALL
           SELECT 'team', coalesce(tm.team_id::text, ''), round(avg(score)::numeric, 1)::float8
           FROM s LEFT JOIN team_members tm ON tm.user_id = s.user_id
           GROUP BY 2"#,
        w.from,
        w.to,
        people.as_deref(),
        f.project,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut scores: BTreeMap<&'static str, BTreeMap<String, Option<f64>>> = BTreeMap::new();
    for r in rows {
        if let Some(by) = Dimension::parse(&r.by) {
            scores
                .entry(by.as_str())
                .or_default()
                .insert(r.key, r.score);
        }
    }
    Ok(Scores(scores))
}

/// Each tool's duration histogram over the window, summed slot by slot here: reading the
/// arrays is cheap, while unnesting every row's array to group its slots in the database is
/// the costliest read of the page.
async fn histograms(
    conn: &mut PgConnection,
    w: &Window,
    f: &Filters,
    people: Option<&[Uuid]>,
) -> Result<BTreeMap<String, Vec<i64>>> {
    let src = source_grain(conn, w).await?;
    let rows = sqlx::query!(
        r#"SELECT r.tool, r.duration_hist
           FROM rollups r
           WHERE r.grain = $1 AND r.bucket >= $2 AND r.bucket < $3 AND r.tool <> ''
             AND ($4::uuid[] IS NULL OR r.user_id = ANY($4))
             AND ($5::text IS NULL OR r.tool = $5)"#,
        code(src),
        w.from,
        w.to,
        people,
        f.tool
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in rows {
        let h = out.entry(r.tool).or_insert_with(|| vec![0; HIST_SLOTS]);
        crate::events::merge_hist(h, &r.duration_hist);
    }
    Ok(out)
}

/// Hands-on work (tool executions plus prompts) by weekday and hour in the tenant's zone.
pub async fn heatmap(
    conn: &mut PgConnection,
    reader: &Reader,
    w: &Window,
    f: &Filters,
) -> Result<Heatmap> {
    let people = reader.people_for(conn, f).await?;
    // Hours of the day need rollups no coarser than an hour (minutes in half-hour zones).
    let hourly = types::dashboard::Window {
        grain: types::Grain::Hour,
        ..w.clone()
    };
    if let Some(project) = &f.project {
        return heatmap_of_sessions(conn, w, f, people.as_deref(), project).await;
    }
    let src = source_grain(conn, &hourly).await?;
    // Summed per rollup bucket first: the zone's conversion then runs once a bucket instead
    // of once a rollup row (a third of the time on a month of hours).
    let rows = sqlx::query!(
        r#"WITH per_bucket AS (
               SELECT bucket, sum(tool_executions + prompts) AS n
               FROM rollup_rows
               WHERE per_person = $8 AND grain = $1 AND bucket >= $2 AND bucket < $3
                 AND ($4::uuid[] IS NULL OR user_id = ANY($4))
                 AND ($6::text IS NULL OR model = $6)
                 AND ($7::text IS NULL OR tool = $7)
               GROUP BY bucket)
           SELECT (extract(isodow FROM bucket AT TIME ZONE $5::text) - 1)::int4 AS "day!",
                  extract(hour FROM bucket AT TIME ZONE $5::text)::int4 AS "hour!",
                  sum(n)::int8 AS "n!"
           FROM per_bucket
           GROUP BY 1, 2"#,
        code(src),
        w.from,
        w.to,
        people.as_deref(),
        w.tz,
        f.model,
        f.tool,
        per_person(f)
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(heatmap_of(
        w,
        rows.into_iter().map(|r| (r.day, r.hour, r.n)),
    ))
}

/// The heatmap narrowed to one project, from the sessions (rollups carry no project): each
/// session's work counted in the hour it started.
async fn heatmap_of_sessions(
    conn: &mut PgConnection,
    w: &Window,
    f: &Filters,
    people: Option<&[Uuid]>,
    project: &str,
) -> Result<Heatmap> {
    let rows = sqlx::query!(
        r#"SELECT (extract(isodow FROM started_at AT TIME ZONE $3::text) - 1)::int4 AS "day!",
                  extract(hour FROM started_at AT TIME ZONE $3::text)::int4 AS "hour!",
                  sum(tool_executions + prompts)::int8 AS "n!"
           FROM sessions
           WHERE started_at >= $1 AND started_at < $2 AND project = $4
             AND ($5::uuid[] IS NULL OR user_id = ANY($5))
             AND ($6::text IS NULL OR model = $6)
           GROUP BY 1, 2"#,
        w.from,
        w.to,
        w.tz,
        project,
        people,
        f.model
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(heatmap_of(
        w,
        rows.into_iter().map(|r| (r.day, r.hour, r.n)),
    ))
}

/// Weekday (Monday first) × hour cells from (day, hour, count) rows.
fn heatmap_of(w: &Window, rows: impl Iterator<Item = (i32, i32, i64)>) -> Heatmap {
    let mut cells = vec![vec![0i64; 24]; 7];
    for (day, hour, n) in rows {
        if let Some(c) = cells
            .get_mut(day as usize)
            .and_then(|d| d.get_mut(hour as usize))
        {
            *c += n;
        }
    }
    Heatmap {
        window: w.clone(),
        cells,
    }
}
