//! Reading the rollups: the numbers dashboards show, never from raw events.

use std::collections::BTreeMap;

use sqlx::PgConnection;
use uuid::Uuid;

use crate::{accounts::UserId, Result};

pub use types::metrics::{Counts, ModelTotals, Summary, Totals, UserTotals};
use types::{Grain, TimeRange};

/// [`Counts`] from a query row that selects every counter column under its own name (the
/// rollups and the sessions table name them alike): the one place that lists them for reads.
#[macro_export]
#[doc(hidden)]
macro_rules! counts_of {
    ($r:expr) => {
        types::metrics::Counts {
            tool_executions: $r.tool_executions,
            tool_failures: $r.tool_failures,
            agent_invocations: $r.agent_invocations,
            api_requests: $r.api_requests,
            input_tokens: $r.input_tokens,
            output_tokens: $r.output_tokens,
            cache_creation_tokens: $r.cache_creation_tokens,
            cache_read_tokens: $r.cache_read_tokens,
            cost_usd: $r.cost_usd,
            lines_added: $r.lines_added,
            lines_removed: $r.lines_removed,
            activity: types::metrics::Activity {
                prompts: $r.prompts,
                api_errors: $r.api_errors,
                commits: $r.commits,
                pull_requests: $r.pull_requests,
                active_user_ms: $r.active_user_ms,
                active_cli_ms: $r.active_cli_ms,
                edits_accepted: $r.edits_accepted,
                edits_rejected: $r.edits_rejected,
            },
        }
    };
}

/// Adds one grouped rollup row to `t`.
fn add_row(t: &mut Totals, r: &Row) {
    t.sessions += r.sessions;
    t.counts.add(&r.counts);
    if !r.tool.is_empty() && r.counts.tool_executions != 0 {
        *t.by_tool.entry(r.tool.clone()).or_default() += r.counts.tool_executions;
    }
    if !r.model.is_empty() && (r.counts.api_requests != 0 || r.counts.cost_usd != 0.0) {
        let m = t.by_model.entry(r.model.clone()).or_default();
        m.requests += r.counts.api_requests;
        m.cost_usd += r.counts.cost_usd;
    }
}

struct Row {
    user_id: Uuid,
    tool: String,
    model: String,
    sessions: i64,
    counts: Counts,
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
    let rows = sqlx::query!(
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
    .await?
    .into_iter()
    .map(|r| Row {
        user_id: r.user_id,
        tool: r.tool,
        model: r.model,
        sessions: r.sessions,
        counts: crate::counts_of!(r),
    })
    .collect::<Vec<_>>();
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
