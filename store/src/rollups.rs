//! Reading the rollups: the numbers dashboards show, never from raw events.

use std::collections::BTreeMap;

use sqlx::PgConnection;
use uuid::Uuid;

use crate::{accounts::UserId, Result};

pub use types::metrics::{ModelTotals, Summary, Totals, UserTotals};
use types::{metrics::Activity, Grain, TimeRange};

/// Adds one grouped rollup row to `t`.
fn add_row(t: &mut Totals, r: &Row) {
    t.sessions += r.sessions;
    t.tool_executions += r.tool_executions;
    t.tool_failures += r.tool_failures;
    t.agent_invocations += r.agent_invocations;
    t.api_requests += r.api_requests;
    t.input_tokens += r.input_tokens;
    t.output_tokens += r.output_tokens;
    t.cache_creation_tokens += r.cache_creation_tokens;
    t.cache_read_tokens += r.cache_read_tokens;
    t.cost_usd += r.cost_usd;
    t.lines_added += r.lines_added;
    t.lines_removed += r.lines_removed;
    t.activity.add(
        &Activity {
            prompts: r.prompts,
            api_errors: r.api_errors,
            commits: r.commits,
            pull_requests: r.pull_requests,
            active_user_ms: r.active_user_ms,
            active_cli_ms: r.active_cli_ms,
            edits_accepted: r.edits_accepted,
            edits_rejected: r.edits_rejected,
        },
        1,
    );
    if !r.tool.is_empty() && r.tool_executions != 0 {
        *t.by_tool.entry(r.tool.clone()).or_default() += r.tool_executions;
    }
    if !r.model.is_empty() && (r.api_requests != 0 || r.cost_usd != 0.0) {
        let m = t.by_model.entry(r.model.clone()).or_default();
        m.requests += r.api_requests;
        m.cost_usd += r.cost_usd;
    }
}

struct Row {
    user_id: Uuid,
    tool: String,
    model: String,
    sessions: i64,
    tool_executions: i64,
    tool_failures: i64,
    agent_invocations: i64,
    api_requests: i64,
    input_tokens: i64,
    output_tokens: i64,
    cache_creation_tokens: i64,
    cache_read_tokens: i64,
    cost_usd: f64,
    lines_added: i64,
    lines_removed: i64,
    prompts: i64,
    api_errors: i64,
    commits: i64,
    pull_requests: i64,
    active_user_ms: i64,
    active_cli_ms: i64,
    edits_accepted: i64,
    edits_rejected: i64,
}

/// The `grain` column's code for a rollup grain.
pub fn grain_code(g: Grain) -> i8 {
    (match g {
        Grain::Minute => b'm',
        Grain::Hour => b'h',
        Grain::Day => b'd',
    }) as i8
}

/// Totals in `[from, to)`, per user and overall; `only` limits it to some users (a manager's
/// teams, a developer's own numbers).
pub async fn summary(
    conn: &mut PgConnection,
    range: TimeRange,
    only: Option<&[UserId]>,
) -> Result<Summary> {
    let TimeRange { from, to } = range;
    let grain = range.grain();
    let code = grain_code(grain);
    let only: Option<Vec<Uuid>> = only.map(|u| u.iter().map(|u| u.0).collect());
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT user_id, tool, model,
                  sum(sessions)::int8 AS "sessions!", sum(tool_executions)::int8 AS "tool_executions!",
                  sum(tool_failures)::int8 AS "tool_failures!",
                  sum(agent_invocations)::int8 AS "agent_invocations!",
                  sum(api_requests)::int8 AS "api_requests!", sum(input_tokens)::int8 AS "input_tokens!",
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
           FROM rollups
           WHERE grain = $1 AND bucket >= $2 AND bucket < $3
             AND ($4::uuid[] IS NULL OR user_id = ANY($4))
           GROUP BY user_id, tool, model"#,
        code,
        from,
        to,
        only.as_deref()
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut total = Totals::default();
    let mut per_user: BTreeMap<Uuid, Totals> = BTreeMap::new();
    for r in &rows {
        add_row(&mut total, r);
        add_row(per_user.entry(r.user_id).or_default(), r);
    }
    total.round_money();
    let ids: Vec<Uuid> = per_user.keys().copied().collect();
    let emails: BTreeMap<Uuid, String> =
        sqlx::query!("SELECT id, email FROM users WHERE id = ANY($1)", &ids)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|r| (r.id, r.email))
            .collect();
    let mut users: Vec<UserTotals> = per_user
        .into_iter()
        .map(|(id, mut totals)| {
            totals.round_money();
            UserTotals {
                user_id: UserId(id),
                email: emails.get(&id).cloned(),
                totals,
            }
        })
        .collect();
    users.sort_by(|a, b| a.email.cmp(&b.email));
    Ok(Summary {
        from,
        to,
        grain,
        total,
        users,
    })
}
