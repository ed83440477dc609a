//! Reading sessions and tools for drill-down: the session list (from `sessions`, kept current
//! as events arrive) and per-tool statistics (from the rollups, with percentiles from their
//! duration histograms).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use types::{
    metrics::{round_usd, Counts},
    TimeRange,
};

use crate::{accounts::UserId, events::HIST_SLOTS, Error, Result};

pub use types::dashboard::SessionSort;
pub use types::metrics::{Session, ToolStats};

/// Which sessions to list.
pub struct SessionFilter<'a> {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Only these people's (a manager's teams, a developer's own).
    pub only: Option<&'a [UserId]>,
    /// Continues a page: sessions that started before this.
    pub before: Option<DateTime<Utc>>,
    pub id: Option<&'a str>,
    pub project: Option<&'a str>,
    pub model: Option<&'a str>,
    pub sort: SessionSort,
    /// Rows to skip (a sorted table's later pages; `before` pages by start time instead).
    pub offset: i64,
    pub limit: i64,
}

impl<'a> SessionFilter<'a> {
    /// Every session started in `[from, to)`, newest first, up to `limit`.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>, limit: i64) -> Self {
        SessionFilter {
            from,
            to,
            only: None,
            before: None,
            id: None,
            project: None,
            model: None,
            sort: SessionSort::Started,
            offset: 0,
            limit,
        }
    }
}

/// Sessions that started in `[from, to)`, in `f.sort`'s order (largest first; newest first
/// for start time), ties broken newest first.
pub async fn sessions(conn: &mut PgConnection, f: SessionFilter<'_>) -> Result<Vec<Session>> {
    let (from, to, before, limit) = (f.from, f.to, f.before, f.limit);
    let id = f.id;
    let only: Option<Vec<Uuid>> = f.only.map(|u| u.iter().map(|u| u.0).collect());
    let rows = sqlx::query!(
        r#"SELECT s.id, s.user_id, u.email AS "email?", s.project, s.cwd, s.git_branch, s.model,
                  s.start_source, s.source, s.started_at, s.last_seen_at, s.ended_at,
                  s.end_reason, s.tool_executions, s.tool_failures, s.agent_invocations,
                  s.agents, s.api_requests, s.input_tokens, s.output_tokens,
                  s.cache_creation_tokens, s.cache_read_tokens,
                  s.cost_usd::float8 AS "cost_usd!", s.lines_added, s.lines_removed,
                  s.prompts, s.api_errors, s.commits, s.pull_requests, s.active_user_ms,
                  s.active_cli_ms, s.edits_accepted, s.edits_rejected,
                  s.productivity_score AS "productivity_score!"
           FROM sessions s LEFT JOIN users u ON u.id = s.user_id
           WHERE s.started_at >= $1 AND s.started_at < $2
             AND ($3::uuid[] IS NULL OR s.user_id = ANY($3))
             AND ($4::timestamptz IS NULL OR s.started_at < $4)
             AND ($6::text IS NULL OR s.id = $6)
             AND ($7::text IS NULL OR s.project = $7)
             AND ($8::text IS NULL OR s.model = $8)
           ORDER BY CASE $9::text WHEN 'cost' THEN s.cost_usd::float8
                                  WHEN 'duration' THEN extract(epoch FROM
                                      coalesce(s.ended_at, s.last_seen_at) - s.started_at)::float8
                                  WHEN 'tools' THEN s.tool_executions::float8
                                  WHEN 'score' THEN s.productivity_score END DESC NULLS LAST,
                    s.started_at DESC, s.id
           LIMIT $5 OFFSET $10"#,
        from,
        to,
        only.as_deref(),
        before,
        limit,
        id,
        f.project,
        f.model,
        f.sort.as_str(),
        f.offset
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Session {
            id: r.id,
            user_id: UserId(r.user_id),
            email: r.email,
            project: r.project,
            cwd: r.cwd,
            git_branch: r.git_branch,
            model: r.model,
            start_source: r.start_source,
            source: r.source,
            started_at: r.started_at,
            last_seen_at: r.last_seen_at,
            ended_at: r.ended_at,
            end_reason: r.end_reason,
            counts: Counts {
                cost_usd: round_usd(r.cost_usd),
                ..crate::counts_of!(r)
            },
            agents: r.agents,
            productivity_score: r.productivity_score,
        })
        .collect())
}

/// One session, if `only` allows it (someone else's is not found, not forbidden).
pub async fn session(
    conn: &mut PgConnection,
    id: &str,
    only: Option<&[UserId]>,
) -> Result<Session> {
    let far = |secs| DateTime::<Utc>::from_timestamp(secs, 0).expect("valid time");
    let filter = SessionFilter {
        only,
        id: Some(id),
        ..SessionFilter::new(far(0), far(32_503_680_000), 1)
    };
    sessions(conn, filter)
        .await?
        .pop()
        .ok_or(Error::NotFound("session"))
}

/// The duration below which `q` of the observations fall, to the histogram's resolution.
pub fn hist_quantile(hist: &[i64], q: f64) -> Option<i64> {
    let total: i64 = hist.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = (q * total as f64).ceil().max(1.0) as i64;
    let mut seen = 0;
    for (slot, n) in hist.iter().enumerate() {
        seen += n;
        if seen >= rank {
            // Slot i holds [2^(i-1), 2^i) ms; slot 0 holds < 1 ms.
            return Some(if slot == 0 { 0 } else { 1i64 << slot });
        }
    }
    None
}

/// Per tool in `range`, each piece read at the coarsest exact rollup grain (see
/// [`crate::rollups::pieces`]).
pub async fn tool_stats(
    conn: &mut PgConnection,
    range: TimeRange,
    only: Option<&[UserId]>,
) -> Result<Vec<ToolStats>> {
    let (grains, froms, tos) = crate::rollups::piece_arrays(range);
    let only: Option<Vec<Uuid>> = only.map(|u| u.iter().map(|u| u.0).collect());
    let rows = sqlx::query!(
        r#"SELECT tool, tool_executions, tool_failures, duration_count, duration_sum_ms,
                  duration_hist
           FROM rollups r
           JOIN unnest($1::"char"[], $2::timestamptz[], $3::timestamptz[]) AS p(g, f, t)
             ON r.grain = p.g AND r.bucket >= p.f AND r.bucket < p.t
           WHERE tool <> '' AND ($4::uuid[] IS NULL OR user_id = ANY($4))"#,
        &grains,
        &froms,
        &tos,
        only.as_deref()
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut by_tool: BTreeMap<String, (i64, i64, i64, i64, Vec<i64>)> = BTreeMap::new();
    for r in rows {
        let t = by_tool
            .entry(r.tool)
            .or_insert_with(|| (0, 0, 0, 0, vec![0; HIST_SLOTS]));
        t.0 += r.tool_executions;
        t.1 += r.tool_failures;
        t.2 += r.duration_count;
        t.3 += r.duration_sum_ms;
        crate::events::merge_hist(&mut t.4, &r.duration_hist);
    }
    let mut stats: Vec<ToolStats> = by_tool
        .into_iter()
        .map(|(tool, (n, f, dc, ds, hist))| ToolStats {
            tool,
            executions: n,
            failures: f,
            success_rate: if n > 0 {
                (n - f) as f64 / n as f64
            } else {
                0.0
            },
            avg_duration_ms: (dc > 0).then(|| ds as f64 / dc as f64),
            p50_duration_ms: hist_quantile(&hist, 0.50),
            p95_duration_ms: hist_quantile(&hist, 0.95),
        })
        .collect();
    stats.sort_by(|a, b| b.executions.cmp(&a.executions).then(a.tool.cmp(&b.tool)));
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_the_histogram_slots() {
        let mut h = vec![0; HIST_SLOTS];
        h[crate::events::hist_slot(0)] += 1; // < 1 ms
        for _ in 0..8 {
            h[crate::events::hist_slot(100)] += 1; // [64, 128)
        }
        h[crate::events::hist_slot(5000)] += 1; // [4096, 8192)
        assert_eq!(hist_quantile(&h, 0.5), Some(128));
        assert_eq!(hist_quantile(&h, 0.95), Some(8192));
        assert_eq!(hist_quantile(&h, 0.05), Some(0));
        assert_eq!(hist_quantile(&[0; 4], 0.5), None);
    }
}
