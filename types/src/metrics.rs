//! The read models: what dashboards, the REST API and MCP answer with. `store` fills them from
//! the rollups and the sessions table; pages render them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ids::UserId, range::Grain};

/// The counts besides tools, requests, tokens and lines, per rollup bucket and per session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Activity {
    pub prompts: i64,
    pub api_errors: i64,
    pub commits: i64,
    pub pull_requests: i64,
    pub active_user_ms: i64,
    pub active_cli_ms: i64,
    pub edits_accepted: i64,
    pub edits_rejected: i64,
}

impl Activity {
    /// Adds `o` times `sign` (-1 takes it away again: a rollback).
    pub fn add(&mut self, o: &Activity, sign: i64) {
        self.prompts += sign * o.prompts;
        self.api_errors += sign * o.api_errors;
        self.commits += sign * o.commits;
        self.pull_requests += sign * o.pull_requests;
        self.active_user_ms += sign * o.active_user_ms;
        self.active_cli_ms += sign * o.active_cli_ms;
        self.edits_accepted += sign * o.edits_accepted;
        self.edits_rejected += sign * o.edits_rejected;
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelTotals {
    pub requests: i64,
    pub cost_usd: f64,
}

/// What every rollup bucket and every session counts. Flattened into [`Totals`] and
/// [`Session`], so the JSON keys are the same in both (and in the fixtures' EXPECTED.json).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Counts {
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
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.tool_executions += o.tool_executions;
        self.tool_failures += o.tool_failures;
        self.agent_invocations += o.agent_invocations;
        self.api_requests += o.api_requests;
        self.input_tokens += o.input_tokens;
        self.output_tokens += o.output_tokens;
        self.cache_creation_tokens += o.cache_creation_tokens;
        self.cache_read_tokens += o.cache_read_tokens;
        self.cost_usd += o.cost_usd;
        self.lines_added += o.lines_added;
        self.lines_removed += o.lines_removed;
        self.activity.add(&o.activity, 1);
    }
}

/// Everything counted over a range, for everyone visible or one person. The same keys as the
/// fixtures' EXPECTED.json.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Totals {
    pub sessions: i64,
    #[serde(flatten)]
    pub counts: Counts,
    pub by_tool: BTreeMap<String, i64>,
    pub by_model: BTreeMap<String, ModelTotals>,
}

impl Totals {
    /// Money to the micro-dollar: sums of float costs carry noise past that.
    pub fn round_money(&mut self) {
        self.counts.cost_usd = round_usd(self.counts.cost_usd);
        for m in self.by_model.values_mut() {
            m.cost_usd = round_usd(m.cost_usd);
        }
    }
}

pub fn round_usd(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserTotals {
    pub user_id: UserId,
    pub email: Option<String>,
    #[serde(flatten)]
    pub totals: Totals,
}

/// `GET /api/v1/dashboard/summary`: totals overall and per person in `[from, to)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Summary {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The rollup grain the answer came from.
    pub grain: Grain,
    pub total: Totals,
    pub users: Vec<UserTotals>,
}

/// One coding session, kept current as its events arrive.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Session {
    pub id: String,
    pub user_id: UserId,
    pub email: Option<String>,
    pub project: Option<String>,
    pub cwd: Option<String>,
    pub git_branch: Option<String>,
    pub model: Option<String>,
    pub start_source: Option<String>,
    /// What reported it first: hook, otlp, api, mcp or import.
    pub source: Option<String>,
    pub started_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub end_reason: Option<String>,
    #[serde(flatten)]
    pub counts: Counts,
    /// The distinct subagent types its agent tools started.
    pub agents: Vec<String>,
    /// 0 to 10, the legacy hooks' score (see the migration that defines it).
    pub productivity_score: f64,
}

/// One tool over a range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ToolStats {
    pub tool: String,
    pub executions: i64,
    pub failures: i64,
    pub success_rate: f64,
    pub avg_duration_ms: Option<f64>,
    /// Upper bounds from a log2 histogram: the true value is at most this, and above half of it.
    pub p50_duration_ms: Option<i64>,
    pub p95_duration_ms: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_flattens_into_totals_and_round_trips() {
        let mut t = Totals::default();
        t.counts.cost_usd = 0.1 + 0.2;
        t.counts.activity.prompts = 3;
        t.by_model.insert(
            "claude-sonnet".into(),
            ModelTotals {
                requests: 1,
                cost_usd: 1.0000004,
            },
        );
        t.round_money();
        assert_eq!(t.counts.cost_usd, 0.3);
        assert_eq!(t.by_model["claude-sonnet"].cost_usd, 1.0);
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(json["prompts"], 3);
        assert!(json.get("activity").is_none() && json.get("counts").is_none());
        assert_eq!(json["cost_usd"], 0.3);
        assert_eq!(serde_json::from_value::<Totals>(json).unwrap(), t);
    }

    #[test]
    fn a_rollback_takes_away_what_was_added() {
        let a = Activity {
            prompts: 2,
            commits: 1,
            active_user_ms: 500,
            ..Activity::default()
        };
        let mut sum = Activity::default();
        sum.add(&a, 1);
        sum.add(&a, 1);
        sum.add(&a, -1);
        assert_eq!(sum, a);
    }
}
