//! Deltas: what a write (or a rollback) changes in the rollups and the sessions' counters,
//! gathered in memory and written in one statement per table (the rollups' three grains
//! together).

use std::collections::HashMap;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Activity, Usage, HIST_SLOTS};
use crate::Result;

#[derive(Clone, Debug, Default)]
pub(crate) struct Delta {
    pub(crate) sessions: i64,
    pub(crate) tool_executions: i64,
    pub(crate) tool_failures: i64,
    pub(crate) agent_invocations: i64,
    pub(crate) api_requests: i64,
    pub(crate) usage: Usage,
    pub(crate) lines_added: i64,
    pub(crate) lines_removed: i64,
    pub(crate) activity: Activity,
    pub(crate) duration_count: i64,
    pub(crate) duration_sum_ms: i64,
    pub(crate) hist: Vec<i64>,
}

/// What a write (or a rollback) changes in each session's counters, written in one statement.
#[derive(Clone, Debug, Default)]
pub(crate) struct SessionDelta {
    pub(crate) tool_executions: i64,
    pub(crate) tool_failures: i64,
    pub(crate) agent_invocations: i64,
    pub(crate) api_requests: i64,
    pub(crate) usage: Usage,
    pub(crate) lines_added: i64,
    pub(crate) lines_removed: i64,
    pub(crate) activity: Activity,
    /// Subagent types to add to the session's.
    pub(crate) agents: std::collections::BTreeSet<String>,
}

#[derive(Default)]
pub(crate) struct SessionDeltas(pub(crate) HashMap<String, SessionDelta>);

impl SessionDeltas {
    pub(crate) fn of(&mut self, session: &str) -> &mut SessionDelta {
        if !self.0.contains_key(session) {
            self.0.insert(session.to_string(), SessionDelta::default());
        }
        self.0.get_mut(session).expect("inserted")
    }
}

type RollupKey = (DateTime<Utc>, Uuid, String, String);

#[derive(Default)]
pub(crate) struct Deltas(HashMap<RollupKey, Delta>);

impl Deltas {
    pub(crate) fn at(
        &mut self,
        at: DateTime<Utc>,
        user: Uuid,
        tool: &str,
        model: &str,
    ) -> &mut Delta {
        let minute = at.duration_trunc(TimeDelta::minutes(1)).unwrap_or(at);
        self.0
            .entry((minute, user, tool.to_string(), model.to_string()))
            .or_default()
    }
}

/// A counter column and how to read its change from a delta.
type Column<D> = (&'static str, fn(&D) -> i64);

/// The counters of `sessions` and `rollups` a delta changes (cost and the histogram apart).
const SESSION_COLUMNS: [Column<SessionDelta>; 18] = [
    ("tool_executions", |d| d.tool_executions),
    ("tool_failures", |d| d.tool_failures),
    ("agent_invocations", |d| d.agent_invocations),
    ("api_requests", |d| d.api_requests),
    ("input_tokens", |d| d.usage.input_tokens),
    ("output_tokens", |d| d.usage.output_tokens),
    ("cache_creation_tokens", |d| d.usage.cache_creation_tokens),
    ("cache_read_tokens", |d| d.usage.cache_read_tokens),
    ("lines_added", |d| d.lines_added),
    ("lines_removed", |d| d.lines_removed),
    ("prompts", |d| d.activity.prompts),
    ("api_errors", |d| d.activity.api_errors),
    ("commits", |d| d.activity.commits),
    ("pull_requests", |d| d.activity.pull_requests),
    ("active_user_ms", |d| d.activity.active_user_ms),
    ("active_cli_ms", |d| d.activity.active_cli_ms),
    ("edits_accepted", |d| d.activity.edits_accepted),
    ("edits_rejected", |d| d.activity.edits_rejected),
];

const ROLLUP_COLUMNS: [Column<Delta>; 21] = [
    ("sessions", |d| d.sessions),
    ("tool_executions", |d| d.tool_executions),
    ("tool_failures", |d| d.tool_failures),
    ("agent_invocations", |d| d.agent_invocations),
    ("api_requests", |d| d.api_requests),
    ("input_tokens", |d| d.usage.input_tokens),
    ("output_tokens", |d| d.usage.output_tokens),
    ("cache_creation_tokens", |d| d.usage.cache_creation_tokens),
    ("cache_read_tokens", |d| d.usage.cache_read_tokens),
    ("lines_added", |d| d.lines_added),
    ("lines_removed", |d| d.lines_removed),
    ("duration_count", |d| d.duration_count),
    ("duration_sum_ms", |d| d.duration_sum_ms),
    ("prompts", |d| d.activity.prompts),
    ("api_errors", |d| d.activity.api_errors),
    ("commits", |d| d.activity.commits),
    ("pull_requests", |d| d.activity.pull_requests),
    ("active_user_ms", |d| d.activity.active_user_ms),
    ("active_cli_ms", |d| d.activity.active_cli_ms),
    ("edits_accepted", |d| d.activity.edits_accepted),
    ("edits_rejected", |d| d.activity.edits_rejected),
];

/// The columns some row changes: a write sends only those (a hook's write touches two or
/// three counters of some twenty), and each set of columns is one prepared statement.
fn changed<'a, D, R>(
    columns: &'a [Column<D>],
    rows: &'a [(R, D)],
) -> impl Iterator<Item = &'a Column<D>> + 'a {
    columns
        .iter()
        .filter(move |(_, f)| rows.iter().any(|(_, d)| f(d) != 0))
}

/// Adds each session's changes to its counters, in one statement. (Agent types only ever
/// join: a rollback recounts them from the tool runs left.)
pub(crate) async fn write_session_deltas(
    conn: &mut PgConnection,
    sessions: SessionDeltas,
) -> Result<()> {
    let rows: Vec<(String, SessionDelta)> = sessions.0.into_iter().collect();
    let ints: Vec<&Column<SessionDelta>> = changed(&SESSION_COLUMNS, &rows).collect();
    let cost = rows.iter().any(|(_, d)| d.usage.cost_usd != 0.0);
    let agents = rows.iter().any(|(_, d)| !d.agents.is_empty());
    if ints.is_empty() && !cost && !agents {
        return Ok(());
    }
    let mut sets: Vec<String> = ints
        .iter()
        .map(|(c, _)| format!("{c} = s.{c} + u.{c}"))
        .collect();
    let mut params = vec!["$1::text[]".to_string()];
    let mut names = vec!["id".to_string()];
    for (c, _) in &ints {
        params.push(format!("${}::int8[]", params.len() + 1));
        names.push(c.to_string());
    }
    if cost {
        sets.push("cost_usd = s.cost_usd + u.cost_usd".into());
        params.push(format!("${}::float8[]", params.len() + 1));
        names.push("cost_usd".into());
    }
    if agents {
        // Joined by U+001F, which no subagent type holds.
        sets.push(
            "agents = CASE WHEN u.agents = '' THEN s.agents
                      ELSE ARRAY(SELECT DISTINCT x
                                 FROM unnest(s.agents || string_to_array(u.agents, chr(31))) x
                                 ORDER BY 1)
                      END"
            .into(),
        );
        params.push(format!("${}::text[]", params.len() + 1));
        names.push("agents".into());
    }
    let statement = format!(
        "UPDATE sessions s SET {} FROM UNNEST({}) AS u({}) WHERE s.id = u.id",
        sets.join(", "),
        params.join(", "),
        names.join(", ")
    );
    let mut q =
        sqlx::query(&statement).bind(rows.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>());
    for (_, f) in &ints {
        q = q.bind(rows.iter().map(|(_, d)| f(d)).collect::<Vec<i64>>());
    }
    if cost {
        q = q.bind(
            rows.iter()
                .map(|(_, d)| d.usage.cost_usd)
                .collect::<Vec<f64>>(),
        );
    }
    if agents {
        q = q.bind(
            rows.iter()
                .map(|(_, d)| d.agents.iter().cloned().collect::<Vec<_>>().join("\u{1f}"))
                .collect::<Vec<_>>(),
        );
    }
    q.execute(&mut *conn).await?;
    Ok(())
}

/// Adds the deltas to the minute, hour and day rollups in one statement: the per-person
/// rollups' triggers then run once a write (for its inserts and its updates), not once a
/// grain.
pub(crate) async fn write_rollups(conn: &mut PgConnection, deltas: Deltas) -> Result<()> {
    if deltas.0.is_empty() {
        return Ok(());
    }
    let mut rows: Vec<((char, RollupKey), Delta)> = Vec::new();
    for (grain, trunc) in [('m', "minute"), ('h', "hour"), ('d', "day")] {
        // Minute deltas fold into coarser buckets before they reach the database.
        let mut merged: HashMap<RollupKey, Delta> = HashMap::new();
        for ((minute, user, tool, model), d) in &deltas.0 {
            let bucket = truncate(*minute, trunc);
            let m = merged
                .entry((bucket, *user, tool.clone(), model.clone()))
                .or_default();
            m.sessions += d.sessions;
            m.tool_executions += d.tool_executions;
            m.tool_failures += d.tool_failures;
            m.agent_invocations += d.agent_invocations;
            m.api_requests += d.api_requests;
            m.usage.add(&d.usage, 1);
            m.lines_added += d.lines_added;
            m.lines_removed += d.lines_removed;
            m.activity.add(&d.activity, 1);
            m.duration_count += d.duration_count;
            m.duration_sum_ms += d.duration_sum_ms;
            if !d.hist.is_empty() {
                if m.hist.is_empty() {
                    m.hist = vec![0; HIST_SLOTS];
                }
                for (a, b) in m.hist.iter_mut().zip(&d.hist) {
                    *a += b;
                }
            }
        }
        rows.extend(merged.into_iter().map(|(k, d)| ((grain, k), d)));
    }
    let ints: Vec<&Column<Delta>> = changed(&ROLLUP_COLUMNS, &rows).collect();
    let cost = rows.iter().any(|(_, d)| d.usage.cost_usd != 0.0);
    let hist = rows.iter().any(|(_, d)| !d.hist.is_empty());
    // Key columns first ($1..$5), then the changed counters.
    let mut columns: Vec<String> = ["grain", "bucket", "user_id", "tool", "model"]
        .map(String::from)
        .to_vec();
    let mut types: Vec<&str> = vec!["text[]", "timestamptz[]", "uuid[]", "text[]", "text[]"];
    let mut sums: Vec<String> = Vec::new();
    for (c, _) in &ints {
        columns.push(c.to_string());
        types.push("int8[]");
        sums.push(format!("{c} = rollups.{c} + EXCLUDED.{c}"));
    }
    if cost {
        columns.push("cost_usd".into());
        types.push("float8[]");
        sums.push("cost_usd = rollups.cost_usd + EXCLUDED.cost_usd".into());
    }
    if hist {
        // Histograms travel as array literals: rows may have none or a full one.
        columns.push("duration_hist".into());
        types.push("text[]");
        sums.push("duration_hist = hist_add(rollups.duration_hist, EXCLUDED.duration_hist)".into());
    }
    let params: Vec<String> = types
        .iter()
        .enumerate()
        .map(|(i, t)| format!("${}::{t}", i + 1))
        .collect();
    let values: Vec<String> = columns
        .iter()
        .map(|c| match c.as_str() {
            "grain" => "grain::\"char\"".to_string(),
            "duration_hist" => "duration_hist::int8[]".to_string(),
            _ => c.clone(),
        })
        .collect();
    let statement = format!(
        "INSERT INTO rollups ({cols})
         SELECT {values} FROM UNNEST({params}) AS x({cols})
         ON CONFLICT (grain, bucket, user_id, tool, model) DO {update}",
        cols = columns.join(", "),
        values = values.join(", "),
        params = params.join(", "),
        update = if sums.is_empty() {
            "NOTHING".to_string()
        } else {
            format!("UPDATE SET {}", sums.join(", "))
        }
    );
    let mut q = sqlx::query(&statement)
        .bind(
            rows.iter()
                .map(|((g, _), _)| g.to_string())
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|((_, k), _)| k.0).collect::<Vec<_>>())
        .bind(rows.iter().map(|((_, k), _)| k.1).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|((_, k), _)| k.2.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|((_, k), _)| k.3.clone())
                .collect::<Vec<_>>(),
        );
    for (_, f) in &ints {
        q = q.bind(rows.iter().map(|(_, d)| f(d)).collect::<Vec<i64>>());
    }
    if cost {
        q = q.bind(
            rows.iter()
                .map(|(_, d)| d.usage.cost_usd)
                .collect::<Vec<f64>>(),
        );
    }
    if hist {
        q = q.bind(
            rows.iter()
                .map(|(_, d)| {
                    let inner: Vec<String> = d.hist.iter().map(i64::to_string).collect();
                    format!("{{{}}}", inner.join(","))
                })
                .collect::<Vec<String>>(),
        );
    }
    q.execute(&mut *conn).await?;
    Ok(())
}

fn truncate(t: DateTime<Utc>, unit: &str) -> DateTime<Utc> {
    match unit {
        "hour" => t.duration_trunc(TimeDelta::hours(1)).unwrap_or(t),
        "day" => t.duration_trunc(TimeDelta::days(1)).unwrap_or(t),
        _ => t,
    }
}
