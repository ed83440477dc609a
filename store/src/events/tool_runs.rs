//! Tool runs: one per tool use id, whether PreToolUse, PostToolUse, a failure or OTLP
//! reported it, and counted once.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    deltas::{Delta, SessionDelta},
    histogram, is_agent_tool, Deltas, Event, Kind, SessionDeltas,
};
use crate::Result;

/// What a tool run counts for in the rollups and its session. The fold adds what a write
/// changed about a run; a rollback takes out, negated, all that a run it deletes counted.
/// One rule for both, so that a rollback subtracts exactly what the fold added.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RunCount {
    pub(crate) executions: i64,
    pub(crate) agent_invocations: i64,
    pub(crate) failures: i64,
    /// A duration that is known now and was not: it joins the sums and the histogram.
    pub(crate) duration_ms: Option<i64>,
}

/// What counting needs of a run's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) success: Option<bool>,
    pub(crate) duration_ms: Option<i64>,
}

impl RunCount {
    /// What a run of `tool`, now `now`, counts beyond what it counted as `before` (`None`: a
    /// run new to this write; for a rollback, one whose whole count comes out).
    pub(crate) fn of(tool: &str, now: Outcome, before: Option<Outcome>) -> RunCount {
        let new = before.is_none();
        let failed = |o: Option<Outcome>| o.and_then(|o| o.success) == Some(false);
        RunCount {
            executions: new as i64,
            agent_invocations: (new && is_agent_tool(tool)) as i64,
            // A failure reported by any source stands, and counts once.
            failures: (failed(Some(now)) && !failed(before)) as i64,
            duration_ms: now
                .duration_ms
                .filter(|_| before.and_then(|b| b.duration_ms).is_none()),
        }
    }

    /// Adds the count (`sign` 1) to a rollup bucket, or takes it out (-1).
    pub(crate) fn add_to(self, d: &mut Delta, sign: i64) {
        d.tool_executions += sign * self.executions;
        d.agent_invocations += sign * self.agent_invocations;
        d.tool_failures += sign * self.failures;
        if let Some(ms) = self.duration_ms {
            d.duration_count += sign;
            d.duration_sum_ms += sign * ms;
            histogram::record(&mut d.hist, ms, sign);
        }
    }

    /// The same for the run's session, which keeps no durations.
    pub(crate) fn add_to_session(self, d: &mut SessionDelta, sign: i64) {
        d.tool_executions += sign * self.executions;
        d.agent_invocations += sign * self.agent_invocations;
        d.tool_failures += sign * self.failures;
    }
}

#[derive(Clone, Debug)]
struct ToolRun {
    session_id: Option<String>,
    user_id: Uuid,
    tool: String,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    success: Option<bool>,
    duration_ms: Option<i64>,
    agent: Option<String>,
    /// The import batch of this write's reports of the run: `None` until one is seen,
    /// `Some(None)` once a live source (or two batches) reported it.
    reported_by: Option<Option<Uuid>>,
}

impl ToolRun {
    fn outcome(&self) -> Outcome {
        Outcome {
            success: self.success,
            duration_ms: self.duration_ms,
        }
    }
}

pub(super) async fn fold_tool_runs(
    conn: &mut PgConnection,
    events: &[&Event],
    deltas: &mut Deltas,
    sessions: &mut SessionDeltas,
) -> Result<()> {
    let ids: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            Kind::ToolStart { tool_use_id } | Kind::ToolEnd { tool_use_id } => {
                Some(tool_use_id.clone())
            }
            _ => None,
        })
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let before: HashMap<String, ToolRun> = sqlx::query!(
        "SELECT tool_use_id, session_id, user_id, tool, started_at, finished_at, success,
                duration_ms, agent
         FROM tool_runs WHERE tool_use_id = ANY($1)",
        &ids
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| {
        (
            r.tool_use_id,
            ToolRun {
                session_id: r.session_id,
                user_id: r.user_id,
                tool: r.tool,
                started_at: r.started_at,
                finished_at: r.finished_at,
                success: r.success,
                duration_ms: r.duration_ms,
                agent: r.agent,
                reported_by: None,
            },
        )
    })
    .collect();
    let mut after = before.clone();
    for e in events {
        let (id, end) = match &e.kind {
            Kind::ToolStart { tool_use_id } => (tool_use_id, false),
            Kind::ToolEnd { tool_use_id } => (tool_use_id, true),
            _ => continue,
        };
        let run = after.entry(id.clone()).or_insert_with(|| ToolRun {
            session_id: e.session_id.clone(),
            user_id: e.user_id.0,
            tool: e.tool.clone().unwrap_or_else(|| "unknown".into()),
            // A finish reported first: the start is its time minus the duration, if known.
            started_at: if end {
                e.occurred_at - TimeDelta::milliseconds(e.duration_ms.unwrap_or(0))
            } else {
                e.occurred_at
            },
            finished_at: None,
            success: None,
            duration_ms: None,
            agent: None,
            reported_by: None,
        });
        if run.agent.is_none() {
            run.agent = e.agent.clone();
        }
        run.reported_by = Some(match run.reported_by {
            Some(batch) if batch != e.import_batch => None,
            _ => e.import_batch,
        });
        if run.session_id.is_none() {
            run.session_id = e.session_id.clone();
        }
        if !end {
            run.started_at = run.started_at.min(e.occurred_at);
            continue;
        }
        run.finished_at = Some(
            run.finished_at
                .map_or(e.occurred_at, |t| t.max(e.occurred_at)),
        );
        // A failure reported by any source stands.
        run.success = match (run.success, e.success) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (a, b) => b.or(a),
        };
        if run.duration_ms.is_none() {
            run.duration_ms = e.duration_ms;
        }
    }
    for (id, run) in &mut after {
        // Paired PreToolUse/PostToolUse without a reported duration: the time between them.
        if run.duration_ms.is_none() {
            if let Some(end) = run.finished_at {
                run.duration_ms = Some((end - run.started_at).num_milliseconds().max(0));
            }
        }
        let old = before.get(id);
        let count = RunCount::of(&run.tool, run.outcome(), old.map(ToolRun::outcome));
        count.add_to(deltas.at(run.started_at, run.user_id, &run.tool, ""), 1);
        // Session counters follow the same transitions.
        let Some(s) = run.session_id.as_deref() else {
            continue;
        };
        let d = sessions.of(s);
        count.add_to_session(d, 1);
        if let Some(agent) = &run.agent {
            if old.and_then(|o| o.agent.as_ref()) != Some(agent) {
                d.agents.insert(agent.clone());
            }
        }
    }
    let ids: Vec<&String> = after.keys().collect();
    let rs: Vec<&ToolRun> = after.values().collect();
    sqlx::query(
        "INSERT INTO tool_runs (tool_use_id, session_id, user_id, tool, started_at, finished_at,
             success, duration_ms, import_batch, agent)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::uuid[], $4::text[],
             $5::timestamptz[], $6::timestamptz[], $7::bool[], $8::int8[], $9::uuid[], $10::text[])
         ON CONFLICT (tool_use_id) DO UPDATE SET session_id = EXCLUDED.session_id,
             started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at,
             success = EXCLUDED.success, duration_ms = EXCLUDED.duration_ms,
             agent = EXCLUDED.agent,
             -- A run an import created and something else reported too is no longer the
             -- import's alone: rolling the import back must leave it.
             import_batch = CASE WHEN tool_runs.import_batch = EXCLUDED.import_batch
                                 THEN tool_runs.import_batch END",
    )
    .bind(&ids)
    .bind(rs.iter().map(|r| r.session_id.clone()).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.user_id).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.tool.clone()).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.started_at).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.finished_at).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.success).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.duration_ms).collect::<Vec<_>>())
    .bind(
        rs.iter()
            .map(|r| r.reported_by.flatten())
            .collect::<Vec<_>>(),
    )
    .bind(rs.iter().map(|r| r.agent.as_deref()).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Outcome, RunCount};

    fn sum(a: RunCount, b: RunCount) -> RunCount {
        RunCount {
            executions: a.executions + b.executions,
            agent_invocations: a.agent_invocations + b.agent_invocations,
            failures: a.failures + b.failures,
            duration_ms: a.duration_ms.or(b.duration_ms),
        }
    }

    /// However a run's reports arrive, what the fold adds up is what a rollback takes out.
    #[test]
    fn the_folds_increments_add_up_to_what_a_rollback_takes_out() {
        let outcomes = [None, Some(true), Some(false)]
            .into_iter()
            .flat_map(|success| {
                [None, Some(0), Some(1_500)].map(|duration_ms| Outcome {
                    success,
                    duration_ms,
                })
            });
        // A later report can turn a run into a failure but never back, and can give it a
        // duration but never change it (see the fold).
        let follows = |a: Outcome, b: Outcome| {
            (a.success != Some(false) || b.success == Some(false))
                && (a.duration_ms.is_none() || a.duration_ms == b.duration_ms)
        };
        for tool in ["Bash", "Task"] {
            for first in outcomes.clone() {
                for then in outcomes.clone().filter(|b| follows(first, *b)) {
                    let folded = sum(
                        RunCount::of(tool, first, None),
                        RunCount::of(tool, then, Some(first)),
                    );
                    assert_eq!(folded, RunCount::of(tool, then, None), "{first:?} {then:?}");
                }
            }
        }
    }

    #[test]
    fn a_known_run_counts_only_what_changed() {
        let ok = Outcome {
            success: Some(true),
            duration_ms: Some(10),
        };
        assert_eq!(RunCount::of("Task", ok, Some(ok)), RunCount::default());
        let new = RunCount::of("Task", ok, None);
        assert_eq!((new.executions, new.agent_invocations), (1, 1));
        assert_eq!((new.failures, new.duration_ms), (0, Some(10)));
    }
}
