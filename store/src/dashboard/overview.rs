//! The headline numbers: totals for the window and the one before it, and every bucket's.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use types::dashboard::{Filters, Kpis, Overview, Window};
use types::metrics::{round_usd, Counts};

use super::{buckets, code, index, per_person, source_grain, Reader};
use crate::Result;

/// One (bucket, person) group of counts, from the rollups or the sessions table.
pub(super) struct Cell {
    pub bucket: DateTime<Utc>,
    pub user_id: Uuid,
    pub sessions: i64,
    pub counts: Counts,
}

/// Counts per display bucket and person over `[from, w.to)`, honouring the filters. With a
/// project filter they come from the sessions table (rollups carry no project), each
/// session counted in the bucket it started in.
pub(super) async fn cells(
    conn: &mut PgConnection,
    w: &Window,
    from: DateTime<Utc>,
    people: Option<&[Uuid]>,
    f: &Filters,
) -> Result<Vec<Cell>> {
    if let Some(project) = &f.project {
        let rows = sqlx::query!(
            r#"SELECT date_trunc($1::text, started_at, $2::text) AS "bucket!", user_id,
                      count(*)::int8 AS "sessions!",
                      sum(tool_executions)::int8 AS "tool_executions!",
                      sum(tool_failures)::int8 AS "tool_failures!",
                      sum(agent_invocations)::int8 AS "agent_invocations!",
                      sum(api_requests)::int8 AS "api_requests!",
                      sum(input_tokens)::int8 AS "input_tokens!",
                      sum(output_tokens)::int8 AS "output_tokens!",
                      sum(cache_creation_tokens)::int8 AS "cache_creation_tokens!",
                      sum(cache_read_tokens)::int8 AS "cache_read_tokens!",
                      sum(cost_usd)::float8 AS "cost_usd!", sum(lines_added)::int8 AS "lines_added!",
                      sum(lines_removed)::int8 AS "lines_removed!",
                      sum(prompts)::int8 AS "prompts!", sum(api_errors)::int8 AS "api_errors!",
                      sum(commits)::int8 AS "commits!", sum(pull_requests)::int8 AS "pull_requests!",
                      sum(active_user_ms)::int8 AS "active_user_ms!",
                      sum(active_cli_ms)::int8 AS "active_cli_ms!",
                      sum(edits_accepted)::int8 AS "edits_accepted!",
                      sum(edits_rejected)::int8 AS "edits_rejected!"
               FROM sessions
               WHERE started_at >= $3 AND started_at < $4 AND project = $5
                 AND ($6::uuid[] IS NULL OR user_id = ANY($6))
                 AND ($7::text IS NULL OR model = $7)
               GROUP BY 1, 2"#,
            w.grain.as_str(),
            w.tz,
            from,
            w.to,
            project,
            people,
            f.model
        )
        .fetch_all(&mut *conn)
        .await?;
        return Ok(rows
            .into_iter()
            .map(|r| Cell {
                bucket: r.bucket,
                user_id: r.user_id,
                sessions: r.sessions,
                counts: crate::counts_of!(r),
            })
            .collect());
    }
    let src = source_grain(conn, w).await?;
    let rows = sqlx::query!(
        r#"SELECT date_trunc($1::text, bucket, $2::text) AS "bucket!", user_id AS "user_id!",
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
                  sum(lines_removed)::int8 AS "lines_removed!",
                  sum(prompts)::int8 AS "prompts!", sum(api_errors)::int8 AS "api_errors!",
                  sum(commits)::int8 AS "commits!", sum(pull_requests)::int8 AS "pull_requests!",
                  sum(active_user_ms)::int8 AS "active_user_ms!",
                  sum(active_cli_ms)::int8 AS "active_cli_ms!",
                  sum(edits_accepted)::int8 AS "edits_accepted!",
                  sum(edits_rejected)::int8 AS "edits_rejected!"
           FROM rollup_rows
           WHERE per_person = $9 AND grain = $3 AND bucket >= $4 AND bucket < $5
             AND ($6::uuid[] IS NULL OR user_id = ANY($6))
             AND ($7::text IS NULL OR model = $7)
             AND ($8::text IS NULL OR tool = $8)
           GROUP BY 1, 2"#,
        w.grain.as_str(),
        w.tz,
        code(src),
        from,
        w.to,
        people,
        f.model,
        f.tool,
        per_person(f)
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Cell {
            bucket: r.bucket,
            user_id: r.user_id,
            sessions: r.sessions,
            counts: crate::counts_of!(r),
        })
        .collect())
}

/// Adds cells up: their counts, and how many distinct people they hold.
#[derive(Default)]
struct Tally {
    kpis: Kpis,
    people: BTreeSet<Uuid>,
}

impl Tally {
    fn add(&mut self, c: &Cell) {
        self.kpis.sessions += c.sessions;
        self.kpis.counts.add(&c.counts);
        self.people.insert(c.user_id);
    }

    fn done(mut self, avg_score: Option<f64>) -> Kpis {
        self.kpis.active_people = self.people.len() as i64;
        self.kpis.counts.cost_usd = round_usd(self.kpis.counts.cost_usd);
        self.kpis.avg_score = avg_score;
        self.kpis
    }
}

/// The mean productivity score of the sessions that started in the window, and of those that
/// started in the period before it: one scan for both.
pub(super) async fn avg_scores(
    conn: &mut PgConnection,
    w: &Window,
    people: Option<&[Uuid]>,
    f: &Filters,
) -> Result<(Option<f64>, Option<f64>)> {
    let row = sqlx::query!(
        r#"SELECT round((avg(productivity_score) FILTER (WHERE started_at >= $2))::numeric, 1)::float8
                      AS current,
                  round((avg(productivity_score) FILTER (WHERE started_at < $2))::numeric, 1)::float8
                      AS previous
           FROM sessions
           WHERE started_at >= $1 AND started_at < $3
             AND ($4::uuid[] IS NULL OR user_id = ANY($4))
             AND ($5::text IS NULL OR project = $5)"#,
        w.previous_from,
        w.from,
        w.to,
        people,
        f.project
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok((row.current, row.previous))
}

pub async fn overview(
    conn: &mut PgConnection,
    reader: &Reader,
    w: &Window,
    f: &Filters,
) -> Result<Overview> {
    let people = reader.people_for(conn, f).await?;
    let people = people.as_deref();
    let cells = cells(conn, w, w.previous_from, people, f).await?;
    let buckets = buckets(conn, w, w.from).await?;
    let slots = index(&buckets);
    let (mut current, mut previous) = (Tally::default(), Tally::default());
    let mut per_bucket: BTreeMap<usize, Tally> = BTreeMap::new();
    for c in &cells {
        if c.bucket < w.from {
            previous.add(c);
            continue;
        }
        current.add(c);
        if let Some(&i) = slots.get(&c.bucket) {
            per_bucket.entry(i).or_default().add(c);
        }
    }
    let trend = (0..buckets.len())
        .map(|i| per_bucket.remove(&i).unwrap_or_default().done(None))
        .collect();
    let (score, previous_score) = avg_scores(conn, w, people, f).await?;
    Ok(Overview {
        window: w.clone(),
        audience: reader.audience,
        current: current.done(score),
        previous: previous.done(previous_score),
        buckets,
        trend,
    })
}
