//! Tool runs: one per tool use id, whether PreToolUse, PostToolUse, a failure or OTLP
//! reported it, and counted once.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{hist_slot, is_agent_tool, Deltas, Event, Kind, SessionDeltas, HIST_SLOTS};
use crate::Result;

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
        let d = deltas.at(run.started_at, run.user_id, &run.tool, "");
        if old.is_none() {
            d.tool_executions += 1;
            if is_agent_tool(&run.tool) {
                d.agent_invocations += 1;
            }
        }
        if run.success == Some(false) && old.and_then(|o| o.success) != Some(false) {
            d.tool_failures += 1;
        }
        if let (Some(ms), None) = (run.duration_ms, old.and_then(|o| o.duration_ms)) {
            d.duration_count += 1;
            d.duration_sum_ms += ms;
            if d.hist.is_empty() {
                d.hist = vec![0; HIST_SLOTS];
            }
            d.hist[hist_slot(ms)] += 1;
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
    // Session counters follow the same transitions.
    for (id, run) in &after {
        let Some(s) = run.session_id.as_deref() else {
            continue;
        };
        let old = before.get(id);
        let d = sessions.of(s);
        if old.is_none() {
            d.tool_executions += 1;
            if is_agent_tool(&run.tool) {
                d.agent_invocations += 1;
            }
        }
        if run.success == Some(false) && old.and_then(|o| o.success) != Some(false) {
            d.tool_failures += 1;
        }
        if let Some(agent) = &run.agent {
            if old.and_then(|o| o.agent.as_ref()) != Some(agent) {
                d.agents.insert(agent.clone());
            }
        }
    }
    Ok(())
}
