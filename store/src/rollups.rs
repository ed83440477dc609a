//! Reading the rollups: the numbers dashboards show, never from raw events.

use std::collections::BTreeMap;

use chrono::{DateTime, Timelike, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{accounts::UserId, events::Activity, Result};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelTotals {
    pub requests: i64,
    pub cost_usd: f64,
}

/// The same keys as the fixtures' EXPECTED.json.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub sessions: i64,
    pub tool_executions: i64,
    pub tool_failures: i64,
    pub agent_invocations: i64,
    pub api_requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_creation_tokens: i64,
    pub cache_read_tokens: i64,
    pub cost_usd: f64,
    pub lines_added: i64,
    pub lines_removed: i64,
    /// Prompts, API errors, commits, pull requests, active time, edit decisions.
    #[serde(flatten)]
    pub activity: Activity,
    pub by_tool: BTreeMap<String, i64>,
    pub by_model: BTreeMap<String, ModelTotals>,
}

impl Totals {
    fn add_row(&mut self, r: &Row) {
        self.sessions += r.sessions;
        self.tool_executions += r.tool_executions;
        self.tool_failures += r.tool_failures;
        self.agent_invocations += r.agent_invocations;
        self.api_requests += r.api_requests;
        self.input_tokens += r.input_tokens;
        self.output_tokens += r.output_tokens;
        self.cache_creation_tokens += r.cache_creation_tokens;
        self.cache_read_tokens += r.cache_read_tokens;
        self.cost_usd += r.cost_usd;
        self.lines_added += r.lines_added;
        self.lines_removed += r.lines_removed;
        self.activity.add(
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
            *self.by_tool.entry(r.tool.clone()).or_default() += r.tool_executions;
        }
        if !r.model.is_empty() && (r.api_requests != 0 || r.cost_usd != 0.0) {
            let m = self.by_model.entry(r.model.clone()).or_default();
            m.requests += r.api_requests;
            m.cost_usd += r.cost_usd;
        }
    }

    /// Money to the micro-dollar: sums of float costs carry noise past that.
    fn round(&mut self) {
        let r = |v: f64| (v * 1e6).round() / 1e6;
        self.cost_usd = r(self.cost_usd);
        for m in self.by_model.values_mut() {
            m.cost_usd = r(m.cost_usd);
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UserTotals {
    pub user_id: UserId,
    pub email: Option<String>,
    #[serde(flatten)]
    pub totals: Totals,
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The rollup grain the answer came from: `day`, `hour` or `minute`.
    pub grain: &'static str,
    pub total: Totals,
    pub users: Vec<UserTotals>,
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

/// The coarsest grain whose buckets start exactly at `from` and `to`, so the answer is exact.
pub fn grain_for(from: DateTime<Utc>, to: DateTime<Utc>) -> (i8, &'static str) {
    let on_hour = |t: DateTime<Utc>| t.minute() == 0 && t.second() == 0 && t.nanosecond() == 0;
    let on_day = |t: DateTime<Utc>| on_hour(t) && t.hour() == 0;
    if on_day(from) && on_day(to) {
        (b'd' as i8, "day")
    } else if on_hour(from) && on_hour(to) {
        (b'h' as i8, "hour")
    } else {
        (b'm' as i8, "minute")
    }
}

/// Totals in `[from, to)`, per user and overall; `only` limits it to some users (a manager's
/// teams, a developer's own numbers).
pub async fn summary(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    only: Option<&[UserId]>,
) -> Result<Summary> {
    let (grain, grain_name) = grain_for(from, to);
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
        grain,
        from,
        to,
        only.as_deref()
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut total = Totals::default();
    let mut per_user: BTreeMap<Uuid, Totals> = BTreeMap::new();
    for r in &rows {
        total.add_row(r);
        per_user.entry(r.user_id).or_default().add_row(r);
    }
    total.round();
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
            totals.round();
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
        grain: grain_name,
        total,
        users,
    })
}
