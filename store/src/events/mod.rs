//! Writing what Claude Code did. [`write`] takes validated [`Event`]s for one tenant and, in
//! the caller's transaction: stores each new one in `events` (a re-sent event is a no-op),
//! folds them into the things they describe (sessions, tool runs, API requests, each counted
//! once whichever source reported it) and adds the resulting changes to the minute, hour and
//! day rollups. The caller commits, then acknowledges: acknowledged means durable.

//!
//! One rule per file: [`scrub`], [`price`], [`raw`] (the insert that says what is new),
//! [`owners`] (whose a session or run is), [`cumulative`] (counters to deltas), the folds ([`sessions`], [`tool_runs`],
//! [`requests`], [`prompts`], [`counters`]), [`deltas`] (rollups and session counters),
//! [`histogram`] and [`partitions`].

mod counters;
mod cumulative;
mod deltas;
mod histogram;
mod owners;
pub(crate) mod partitions;
mod price;
mod prompts;
mod raw;
mod requests;
mod scrub;
mod sessions;
pub(crate) mod tool_runs;

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{accounts::UserId, Result};

pub(crate) use deltas::{write_rollups, write_session_deltas, Deltas, SessionDeltas};
pub use histogram::{hist_slot, merge as merge_hist, HIST_SLOTS};
pub use owners::Refusal;
pub use partitions::{ensure_month, ensure_partitions, month_index};
pub(crate) use requests::counter_usage;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Hook,
    Otlp,
    Api,
    Mcp,
    Import,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Hook => "hook",
            Source::Otlp => "otlp",
            Source::Api => "api",
            Source::Mcp => "mcp",
            Source::Import => "import",
        }
    }
}

/// What an event means for the model. Everything else about it is kept in `attrs`.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    SessionStart {
        source: Option<String>,
    },
    SessionEnd {
        reason: Option<String>,
    },
    /// A tool execution began (PreToolUse).
    ToolStart {
        tool_use_id: String,
    },
    /// A tool execution finished (PostToolUse, PostToolUseFailure, OTLP tool_result).
    ToolEnd {
        tool_use_id: String,
    },
    ApiRequest {
        request_id: String,
    },
    /// Token and cost counters (OTLP `token.usage`, `cost.usage`); used only for sessions that
    /// send no api_request events.
    UsageCounter,
    /// Lines added and removed (OTLP `lines_of_code.count`, REST).
    LinesCounter,
    /// A prompt the user submitted (hook UserPromptSubmit, OTLP user_prompt): counted once per
    /// prompt id, or once per event without one.
    Prompt {
        prompt_id: Option<String>,
    },
    /// A failed API request (OTLP api_error).
    ApiError,
    /// One of Claude Code's other counters; [`Event::count`] holds the amount.
    Counter(Counter),
    /// Stored and shown in the session's timeline; no counter moves.
    Other,
}

/// Claude Code's counters beyond tokens, cost and lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    Commits,
    PullRequests,
    /// Active time in milliseconds (OTLP `active_time.total`, type user or cli).
    ActiveUserMs,
    ActiveCliMs,
    /// Edit-tool decisions (OTLP `code_edit_tool.decision`).
    EditsAccepted,
    EditsRejected,
}

impl Kind {
    fn name(&self) -> &'static str {
        match self {
            Kind::SessionStart { .. } => "session_start",
            Kind::SessionEnd { .. } => "session_end",
            Kind::ToolStart { .. } => "tool_start",
            Kind::ToolEnd { .. } => "tool_end",
            Kind::ApiRequest { .. } => "api_request",
            Kind::UsageCounter => "usage_counter",
            Kind::LinesCounter => "lines_counter",
            Kind::Prompt { .. } => "prompt",
            Kind::ApiError => "api_error",
            Kind::Counter(_) => "counter",
            Kind::Other => "other",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_creation_tokens: i64,
    pub cache_read_tokens: i64,
    pub cost_usd: f64,
}

impl Usage {
    pub(crate) fn add(&mut self, o: &Usage, sign: i64) {
        self.input_tokens += sign * o.input_tokens;
        self.output_tokens += sign * o.output_tokens;
        self.cache_creation_tokens += sign * o.cache_creation_tokens;
        self.cache_read_tokens += sign * o.cache_read_tokens;
        self.cost_usd += sign as f64 * o.cost_usd;
    }
}

/// A cumulative OTLP data point: its value becomes a delta against the series' last value.
#[derive(Clone, Debug, PartialEq)]
pub struct Cumulative {
    pub series_key: String,
    pub start_at: DateTime<Utc>,
    /// The point's value as reported, kept once [`write`] has replaced it by a delta, so that
    /// writing the same event again (a retried transaction) starts from the reported value.
    pub reported: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Unique per thing reported: the source's own id where it has one, else a content hash.
    pub key: String,
    pub kind: Kind,
    pub source: Source,
    pub occurred_at: DateTime<Utc>,
    pub user_id: UserId,
    pub session_id: Option<String>,
    pub cwd: Option<String>,
    pub git_branch: Option<String>,
    pub tool: Option<String>,
    pub model: Option<String>,
    pub success: Option<bool>,
    pub duration_ms: Option<i64>,
    pub usage: Option<Usage>,
    pub lines_added: Option<i64>,
    pub lines_removed: Option<i64>,
    /// The amount a [`Kind::Counter`] adds.
    pub count: Option<i64>,
    /// The subagent type an agent tool (Task, Agent) started, where the source says.
    pub agent: Option<String>,
    pub cumulative: Option<Cumulative>,
    pub import_batch: Option<Uuid>,
    /// Set on a request that came without its cost: [`write`] prices it from the tenant's table.
    pub unpriced: Option<Unpriced>,
    pub attrs: serde_json::Value,
}

/// What pricing needs beyond [`Usage`]: the part of the cache writes that went to the 1-hour
/// cache, which costs twice the input price.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unpriced {
    pub cache_creation_1h_tokens: i64,
}

impl Event {
    pub fn new(
        key: String,
        kind: Kind,
        source: Source,
        occurred_at: DateTime<Utc>,
        user_id: UserId,
    ) -> Event {
        Event {
            key,
            kind,
            source,
            occurred_at,
            user_id,
            session_id: None,
            cwd: None,
            git_branch: None,
            tool: None,
            model: None,
            success: None,
            duration_ms: None,
            usage: None,
            lines_added: None,
            lines_removed: None,
            count: None,
            agent: None,
            cumulative: None,
            import_batch: None,
            unpriced: None,
            attrs: serde_json::Value::Object(Default::default()),
        }
    }
}

/// What [`write`] did with a batch.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Written {
    /// Per input event, in order: `true` if new, `false` if it was already stored (or refused).
    pub new: Vec<bool>,
    /// The events refused, by position in the input, and why: they named another person's
    /// session, tool run, request or prompt (see `owners`). Nothing of them is stored.
    pub refused: std::collections::BTreeMap<usize, Refusal>,
}

impl Written {
    pub fn accepted(&self) -> usize {
        self.new.iter().filter(|n| **n).count()
    }
}

/// Tool names that start a subagent.
pub fn is_agent_tool(tool: &str) -> bool {
    matches!(tool, "Task" | "Agent")
}

/// The counts besides tools, requests, tokens and lines, per rollup bucket and per session.
pub use types::metrics::Activity;

impl Counter {
    /// The field of `a` this counter adds to.
    fn of(self, a: &mut Activity) -> &mut i64 {
        match self {
            Counter::Commits => &mut a.commits,
            Counter::PullRequests => &mut a.pull_requests,
            Counter::ActiveUserMs => &mut a.active_user_ms,
            Counter::ActiveCliMs => &mut a.active_cli_ms,
            Counter::EditsAccepted => &mut a.edits_accepted,
            Counter::EditsRejected => &mut a.edits_rejected,
        }
    }
}

/// Writes a batch for one tenant. Run it inside that tenant's transaction.
///
/// It prices, truncates and turns cumulative points into deltas in place, in a way that
/// writing the same events again gives the same rows: if the transaction fails, the caller
/// can retry with them as they are, without having kept a copy.
///
/// The raw rows go in first, without the tenant's write lock, so that two writers can insert
/// at once; then the lock is taken and the new events are folded one writer after the other.
/// Inserting before the lock stays exact: `ON CONFLICT DO NOTHING` makes a second writer with
/// the same key wait for the first to commit (then the row is not new to it) or roll back
/// (then it is). Rows go in key order, so two writers never wait on each other in a cycle; and
/// the fold takes no lock that a raw insert holds.
#[tracing::instrument(name = "store.events.write", skip_all, fields(events = events.len()))]
pub async fn write(conn: &mut PgConnection, events: &mut [Event]) -> Result<Written> {
    if events.is_empty() {
        return Ok(Written::default());
    }
    // PostgreSQL keeps microseconds; anything finer would make a stored row look different
    // from the event that produced it.
    for e in events.iter_mut() {
        scrub::scrub(e);
        e.occurred_at = e.occurred_at.trunc_subsecs(6);
        if let Some(c) = &mut e.cumulative {
            c.start_at = c.start_at.trunc_subsecs(6);
        }
    }
    let started = std::time::Instant::now();
    let mut lap = started;
    let mut phases: Vec<(&str, u128)> = Vec::with_capacity(10);
    let mut phase = |name: &'static str| {
        phases.push((name, lap.elapsed().as_micros()));
        lap = std::time::Instant::now();
    };
    price::price(conn, events).await?;
    phase("price");
    let mut new = raw::insert_raw(conn, events).await?;
    phase("insert");

    lock(conn).await?;
    phase("lock");
    // A rollback may have run since the request checked its batch: refuse rather than write
    // events that could never be taken out again. (The rollback could not see this
    // transaction's rows; failing here takes them out with the transaction.)
    let batches: Vec<Uuid> = events.iter().filter_map(|e| e.import_batch).collect();
    if !batches.is_empty() {
        let gone: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM import_batches
                            WHERE id = ANY($1) AND rolled_back_at IS NOT NULL)",
        )
        .bind(&batches)
        .fetch_one(&mut *conn)
        .await?;
        if gone {
            return Err(crate::Error::Conflict(
                "the import batch was rolled back".into(),
            ));
        }
    }

    let mut fresh: Vec<(usize, &mut Event)> = events
        .iter_mut()
        .enumerate()
        .zip(&new)
        .filter_map(|(e, n)| n.then_some(e))
        .collect();
    // Within a batch, fold in time order so pairs and first-seen times come out right.
    fresh.sort_by_key(|(_, e)| e.occurred_at);
    // Under the lock: two writers cannot both claim a new session id.
    let shown: Vec<&Event> = fresh.iter().map(|(_, e)| &**e).collect();
    let verdicts = owners::refuse_others(conn, &shown).await?;
    let mut refused = std::collections::BTreeMap::new();
    if verdicts.iter().any(Option::is_some) {
        let gone: Vec<&Event> = shown
            .iter()
            .zip(&verdicts)
            .filter_map(|(e, v)| v.is_some().then_some(*e))
            .collect();
        raw::delete_raw(conn, &gone).await?;
        let mut kept = Vec::with_capacity(fresh.len());
        for ((i, e), verdict) in fresh.into_iter().zip(verdicts) {
            match verdict {
                Some(r) => {
                    new[i] = false;
                    refused.insert(i, r);
                }
                None => kept.push((i, e)),
            }
        }
        fresh = kept;
    }
    let mut fresh: Vec<&mut Event> = fresh.into_iter().map(|(_, e)| e).collect();
    phase("owners");
    cumulative::cumulative_to_delta(conn, &mut fresh).await?;
    let fresh: Vec<&Event> = fresh.into_iter().map(|e| &*e).collect();

    phase("cumulative");

    let mut deltas = Deltas::default();
    let mut sessions = SessionDeltas::default();
    sessions::fold_sessions(conn, &fresh, &mut deltas).await?;
    phase("sessions");
    tool_runs::fold_tool_runs(conn, &fresh, &mut deltas, &mut sessions).await?;
    phase("tool_runs");
    requests::fold_api_requests(conn, &fresh, &mut deltas, &mut sessions).await?;
    phase("api_requests");
    prompts::fold_prompts(conn, &fresh, &mut deltas, &mut sessions).await?;
    phase("prompts");
    counters::fold_counters(conn, &fresh, &mut deltas, &mut sessions).await?;
    phase("counters");
    write_session_deltas(conn, sessions).await?;
    phase("session_counters");
    write_rollups(conn, deltas).await?;
    phase("rollups");
    // Where a batch's time goes, for whoever tunes the write path (RUST_LOG=store=debug).
    tracing::debug!(
        events = events.len(),
        total_us = started.elapsed().as_micros(),
        ?phases,
        "wrote batch"
    );
    Ok(Written { new, refused })
}

/// The tenant's write lock: writers (and rollbacks) fold one after the other.
pub(crate) async fn lock(conn: &mut PgConnection) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext(current_schema()), 1)")
        .execute(&mut *conn)
        .await?;
    Ok(())
}
