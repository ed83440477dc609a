//! Writing what Claude Code did. [`write`] takes validated [`Event`]s for one tenant and, in
//! the caller's transaction: stores each new one in `events` (a re-sent event is a no-op),
//! folds them into the things they describe (sessions, tool runs, API requests, each counted
//! once whichever source reported it) and adds the resulting changes to the minute, hour and
//! day rollups. The caller commits, then acknowledges: acknowledged means durable.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Datelike, DurationRound, SubsecRound, TimeDelta, TimeZone, Utc};
use serde::Serialize;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::{accounts::UserId, Result};

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
    /// Per input event, in order: `true` if new, `false` if it was already stored.
    pub new: Vec<bool>,
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

/// Histogram slot of a duration: 0 for < 1 ms, then one slot per power of two, capped.
pub const HIST_SLOTS: usize = 32;
pub fn hist_slot(ms: i64) -> usize {
    if ms < 1 {
        0
    } else {
        ((64 - (ms as u64).leading_zeros()) as usize).min(HIST_SLOTS - 1)
    }
}

/// The counts besides tools, requests, tokens and lines, per rollup bucket and per session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
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

    fn counter(&mut self, c: Counter) -> &mut i64 {
        match c {
            Counter::Commits => &mut self.commits,
            Counter::PullRequests => &mut self.pull_requests,
            Counter::ActiveUserMs => &mut self.active_user_ms,
            Counter::ActiveCliMs => &mut self.active_cli_ms,
            Counter::EditsAccepted => &mut self.edits_accepted,
            Counter::EditsRejected => &mut self.edits_rejected,
        }
    }
}

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
pub async fn write(conn: &mut PgConnection, events: &mut [Event]) -> Result<Written> {
    if events.is_empty() {
        return Ok(Written::default());
    }
    // PostgreSQL keeps microseconds; anything finer would make a stored row look different
    // from the event that produced it.
    for e in events.iter_mut() {
        scrub(e);
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
    price(conn, events).await?;
    phase("price");
    let new = insert_raw(conn, events).await?;
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

    let mut fresh: Vec<&mut Event> = events
        .iter_mut()
        .zip(&new)
        .filter_map(|(e, n)| n.then_some(e))
        .collect();
    // Within a batch, fold in time order so pairs and first-seen times come out right.
    fresh.sort_by_key(|e| e.occurred_at);
    cumulative_to_delta(conn, &mut fresh).await?;
    let fresh: Vec<&Event> = fresh.into_iter().map(|e| &*e).collect();

    phase("cumulative");

    let mut deltas = Deltas::default();
    let mut sessions = SessionDeltas::default();
    fold_sessions(conn, &fresh, &mut deltas).await?;
    phase("sessions");
    fold_tool_runs(conn, &fresh, &mut deltas, &mut sessions).await?;
    phase("tool_runs");
    fold_api_requests(conn, &fresh, &mut deltas, &mut sessions).await?;
    phase("api_requests");
    fold_prompts(conn, &fresh, &mut deltas, &mut sessions).await?;
    phase("prompts");
    fold_counters(conn, &fresh, &mut deltas, &mut sessions).await?;
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
    Ok(Written { new })
}

/// PostgreSQL text and jsonb cannot hold U+0000, which JSON and protobuf strings may carry:
/// it becomes U+FFFD, so the event is stored (the same way each time it is sent) instead of
/// failing its whole batch.
fn scrub(e: &mut Event) {
    fn text(s: &mut String) {
        if s.contains('\0') {
            *s = s.replace('\0', "\u{FFFD}");
        }
    }
    fn opt(s: &mut Option<String>) {
        if let Some(s) = s {
            text(s);
        }
    }
    fn json(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) => text(s),
            serde_json::Value::Array(a) => a.iter_mut().for_each(json),
            serde_json::Value::Object(m) => {
                if m.keys().any(|k| k.contains('\0')) {
                    *m = std::mem::take(m)
                        .into_iter()
                        .map(|(mut k, v)| {
                            text(&mut k);
                            (k, v)
                        })
                        .collect();
                }
                m.values_mut().for_each(json);
            }
            _ => {}
        }
    }
    text(&mut e.key);
    match &mut e.kind {
        Kind::SessionStart { source: s } | Kind::SessionEnd { reason: s } => opt(s),
        Kind::ToolStart { tool_use_id: id }
        | Kind::ToolEnd { tool_use_id: id }
        | Kind::ApiRequest { request_id: id } => text(id),
        Kind::Prompt { prompt_id } => opt(prompt_id),
        _ => {}
    }
    for s in [
        &mut e.session_id,
        &mut e.cwd,
        &mut e.git_branch,
        &mut e.tool,
        &mut e.model,
        &mut e.agent,
    ] {
        opt(s);
    }
    if let Some(c) = &mut e.cumulative {
        text(&mut c.series_key);
    }
    json(&mut e.attrs);
}

/// The tenant's write lock: writers (and rollbacks) fold one after the other.
pub(crate) async fn lock(conn: &mut PgConnection) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext(current_schema()), 1)")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Costs requests that came without one, from the shipped price table and the tenant's
/// overrides. A model neither knows costs 0 and says so in the event's attributes.
async fn price(conn: &mut PgConnection, events: &mut [Event]) -> Result<()> {
    if events.iter().all(|e| e.unpriced.is_none()) {
        return Ok(());
    }
    let prices = crate::prices::table(conn).await?;
    for e in events.iter_mut() {
        // Kept, not taken: pricing the same event again gives the same cost.
        let (Some(hint), Some(usage)) = (e.unpriced, e.usage.as_mut()) else {
            continue;
        };
        let tokens = pricing::Tokens {
            input: usage.input_tokens,
            output: usage.output_tokens,
            cache_creation: usage.cache_creation_tokens,
            cache_creation_1h: hint.cache_creation_1h_tokens,
            cache_read: usage.cache_read_tokens,
        };
        match prices.cost(e.model.as_deref().unwrap_or(""), &tokens) {
            Some(cost) => usage.cost_usd = cost,
            None => {
                if let serde_json::Value::Object(map) = &mut e.attrs {
                    map.insert("_unpriced".into(), true.into());
                }
            }
        }
    }
    Ok(())
}

async fn insert_raw(conn: &mut PgConnection, events: &[Event]) -> Result<Vec<bool>> {
    // One statement for the whole batch; rows that already exist come back absent.
    let mut keys = Vec::with_capacity(events.len());
    let mut at = Vec::with_capacity(events.len());
    let mut kind = Vec::with_capacity(events.len());
    let mut source = Vec::with_capacity(events.len());
    let mut session = Vec::with_capacity(events.len());
    let mut user = Vec::with_capacity(events.len());
    let mut tool = Vec::with_capacity(events.len());
    let mut model = Vec::with_capacity(events.len());
    let mut success = Vec::with_capacity(events.len());
    let mut duration = Vec::with_capacity(events.len());
    let mut input = Vec::with_capacity(events.len());
    let mut output = Vec::with_capacity(events.len());
    let mut cache_creation = Vec::with_capacity(events.len());
    let mut cache_read = Vec::with_capacity(events.len());
    let mut cost = Vec::with_capacity(events.len());
    let mut added = Vec::with_capacity(events.len());
    let mut removed = Vec::with_capacity(events.len());
    let mut batch = Vec::with_capacity(events.len());
    let mut attrs = Vec::with_capacity(events.len());
    // Key order: concurrent writers then take row locks in the same order (no deadlock).
    let mut ordered: Vec<&Event> = events.iter().collect();
    ordered.sort_by(|a, b| (&a.key, a.occurred_at).cmp(&(&b.key, b.occurred_at)));
    for e in ordered {
        keys.push(e.key.as_str());
        at.push(e.occurred_at);
        kind.push(e.kind.name());
        source.push(e.source.as_str());
        session.push(e.session_id.as_deref());
        user.push(e.user_id.0);
        tool.push(e.tool.as_deref());
        model.push(e.model.as_deref());
        success.push(e.success);
        duration.push(e.duration_ms);
        input.push(e.usage.map(|u| u.input_tokens));
        output.push(e.usage.map(|u| u.output_tokens));
        cache_creation.push(e.usage.map(|u| u.cache_creation_tokens));
        cache_read.push(e.usage.map(|u| u.cache_read_tokens));
        cost.push(e.usage.map(|u| u.cost_usd));
        added.push(e.lines_added);
        removed.push(e.lines_removed);
        batch.push(e.import_batch);
        // Borrowed, not copied: only a cumulative point's attributes gain its series key.
        attrs.push(match (&e.cumulative, &e.attrs) {
            (Some(c), serde_json::Value::Object(map)) => {
                let mut map = map.clone();
                map.insert("_series".into(), c.series_key.clone().into());
                std::borrow::Cow::Owned(serde_json::Value::Object(map))
            }
            (_, a) => std::borrow::Cow::Borrowed(a),
        });
    }
    let attrs: Vec<sqlx::types::Json<&serde_json::Value>> = attrs
        .iter()
        .map(|a| sqlx::types::Json(a.as_ref()))
        .collect();
    let inserted = sqlx::query(
        "INSERT INTO events (key, occurred_at, kind, source, session_id, user_id, tool, model,
             success, duration_ms, input_tokens, output_tokens, cache_creation_tokens,
             cache_read_tokens, cost_usd, lines_added, lines_removed, import_batch, attrs)
         SELECT * FROM UNNEST($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[],
             $6::uuid[], $7::text[], $8::text[], $9::bool[], $10::int8[], $11::int8[],
             $12::int8[], $13::int8[], $14::int8[], $15::float8[], $16::int8[], $17::int8[],
             $18::uuid[], $19::jsonb[])
         ON CONFLICT DO NOTHING
         RETURNING key, occurred_at",
    )
    .bind(&keys)
    .bind(&at)
    .bind(&kind)
    .bind(&source)
    .bind(&session)
    .bind(&user)
    .bind(&tool)
    .bind(&model)
    .bind(&success)
    .bind(&duration)
    .bind(&input)
    .bind(&output)
    .bind(&cache_creation)
    .bind(&cache_read)
    .bind(&cost)
    .bind(&added)
    .bind(&removed)
    .bind(&batch)
    .bind(&attrs)
    .fetch_all(&mut *conn)
    .await?;
    let mut stored: HashSet<(String, DateTime<Utc>)> = inserted
        .into_iter()
        .map(|r| (r.get::<String, _>(0), r.get::<DateTime<Utc>, _>(1)))
        .collect();
    // A key repeated inside one batch is new once.
    Ok(events
        .iter()
        .map(|e| stored.remove(&(e.key.clone(), e.occurred_at)))
        .collect())
}

/// Replaces each cumulative data point's value by its increase since the series' last point
/// (the whole value after a reset or for a series never seen).
async fn cumulative_to_delta(conn: &mut PgConnection, events: &mut [&mut Event]) -> Result<()> {
    let keys: Vec<String> = events
        .iter()
        .filter_map(|e| e.cumulative.as_ref().map(|c| c.series_key.clone()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if keys.is_empty() {
        return Ok(());
    }
    let mut last: HashMap<String, (DateTime<Utc>, DateTime<Utc>, f64)> = sqlx::query!(
        "SELECT series_key, start_at, last_at, last_value FROM metric_series
         WHERE series_key = ANY($1) FOR UPDATE",
        &keys
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| (r.series_key, (r.start_at, r.last_at, r.last_value)))
    .collect();
    for e in events.iter_mut() {
        let Some(reported) = e.cumulative.as_ref().map(|c| c.reported) else {
            continue;
        };
        let value = reported.unwrap_or_else(|| cumulative_value(e));
        let Some(c) = e.cumulative.as_mut() else {
            continue;
        };
        c.reported = Some(value);
        let c = c.clone();
        let previous = last.get(&c.series_key).copied();
        let delta = match previous {
            // An older point arriving late changes nothing.
            Some((start, at, _)) if start == c.start_at && e.occurred_at <= at => 0.0,
            Some((start, _, v)) if start == c.start_at && value >= v => value - v,
            _ => value,
        };
        if previous.is_none_or(|(start, at, _)| start != c.start_at || e.occurred_at > at) {
            last.insert(c.series_key.clone(), (c.start_at, e.occurred_at, value));
        }
        set_cumulative_value(e, delta);
    }
    let mut k = Vec::with_capacity(last.len());
    let mut s = Vec::with_capacity(last.len());
    let mut a = Vec::with_capacity(last.len());
    let mut v = Vec::with_capacity(last.len());
    for (key, (start, at, value)) in last {
        k.push(key);
        s.push(start);
        a.push(at);
        v.push(value);
    }
    sqlx::query!(
        "INSERT INTO metric_series (series_key, start_at, last_at, last_value)
         SELECT * FROM UNNEST($1::text[], $2::timestamptz[], $3::timestamptz[], $4::float8[])
         ON CONFLICT (series_key) DO UPDATE
         SET start_at = EXCLUDED.start_at, last_at = EXCLUDED.last_at, last_value = EXCLUDED.last_value",
        &k,
        &s,
        &a,
        &v
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The one number a counter data point carries, wherever it sits.
fn cumulative_value(e: &Event) -> f64 {
    if let Some(u) = e.usage {
        return (u.input_tokens + u.output_tokens + u.cache_creation_tokens + u.cache_read_tokens)
            as f64
            + u.cost_usd;
    }
    e.lines_added.or(e.lines_removed).or(e.count).unwrap_or(0) as f64
}

fn set_cumulative_value(e: &mut Event, v: f64) {
    if let Some(u) = &mut e.usage {
        if u.cost_usd != 0.0 {
            u.cost_usd = v;
        } else if u.input_tokens != 0 {
            u.input_tokens = v as i64;
        } else if u.output_tokens != 0 {
            u.output_tokens = v as i64;
        } else if u.cache_creation_tokens != 0 {
            u.cache_creation_tokens = v as i64;
        } else if u.cache_read_tokens != 0 {
            u.cache_read_tokens = v as i64;
        }
    } else if e.lines_added.is_some() {
        e.lines_added = Some(v as i64);
    } else if e.lines_removed.is_some() {
        e.lines_removed = Some(v as i64);
    } else if e.count.is_some() {
        e.count = Some(v as i64);
    }
}

fn project_of(cwd: &str) -> String {
    cwd.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(cwd)
        .to_string()
}

#[derive(Clone, Debug)]
struct SessionRow {
    user_id: Uuid,
    cwd: Option<String>,
    git_branch: Option<String>,
    model: Option<String>,
    start_source: Option<String>,
    started_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    end_reason: Option<String>,
    usage_from_events: bool,
    is_new: bool,
    import_batch: Option<Uuid>,
    source: Option<String>,
}

async fn fold_sessions(
    conn: &mut PgConnection,
    events: &[&Event],
    deltas: &mut Deltas,
) -> Result<()> {
    let ids: Vec<String> = events
        .iter()
        .filter_map(|e| e.session_id.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    // No row locks: every writer of sessions and tool runs holds the tenant's write lock.
    let mut rows: BTreeMap<String, SessionRow> = sqlx::query!(
        "SELECT id, user_id, cwd, git_branch, model, start_source, started_at, last_seen_at,
                ended_at, end_reason, usage_from_events, source
         FROM sessions WHERE id = ANY($1)",
        &ids
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| {
        (
            r.id,
            SessionRow {
                user_id: r.user_id,
                cwd: r.cwd,
                git_branch: r.git_branch,
                model: r.model,
                start_source: r.start_source,
                started_at: r.started_at,
                last_seen_at: r.last_seen_at,
                ended_at: r.ended_at,
                end_reason: r.end_reason,
                usage_from_events: r.usage_from_events,
                is_new: false,
                import_batch: None,
                source: r.source,
            },
        )
    })
    .collect();
    for e in events {
        let Some(id) = &e.session_id else { continue };
        let row = rows.entry(id.clone()).or_insert_with(|| SessionRow {
            user_id: e.user_id.0,
            cwd: None,
            git_branch: None,
            model: None,
            start_source: None,
            started_at: e.occurred_at,
            last_seen_at: e.occurred_at,
            ended_at: None,
            end_reason: None,
            usage_from_events: false,
            is_new: true,
            import_batch: e.import_batch,
            source: None,
        });
        row.source = row.source.take().or_else(|| Some(e.source.as_str().into()));
        row.started_at = row.started_at.min(e.occurred_at);
        row.last_seen_at = row.last_seen_at.max(e.occurred_at);
        row.cwd = row.cwd.take().or_else(|| e.cwd.clone());
        row.git_branch = row.git_branch.take().or_else(|| e.git_branch.clone());
        row.model = row.model.take().or_else(|| e.model.clone());
        match &e.kind {
            Kind::SessionStart { source } => {
                row.start_source = row.start_source.take().or_else(|| source.clone());
            }
            Kind::SessionEnd { reason } => {
                row.ended_at = Some(row.ended_at.map_or(e.occurred_at, |t| t.max(e.occurred_at)));
                row.end_reason = row.end_reason.take().or_else(|| reason.clone());
            }
            _ => {}
        }
    }
    for row in rows.values().filter(|r| r.is_new) {
        deltas.at(row.started_at, row.user_id, "", "").sessions += 1;
    }
    // One statement for all of the batch's sessions.
    let ids: Vec<&String> = rows.keys().collect();
    let rs: Vec<&SessionRow> = rows.values().collect();
    sqlx::query(
        "INSERT INTO sessions (id, user_id, project, cwd, git_branch, model, start_source,
             started_at, last_seen_at, ended_at, end_reason, usage_from_events, import_batch,
             source)
         SELECT * FROM UNNEST($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[],
             $6::text[], $7::text[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[],
             $11::text[], $12::bool[], $13::uuid[], $14::text[])
         ON CONFLICT (id) DO UPDATE SET
             project = EXCLUDED.project, cwd = EXCLUDED.cwd, git_branch = EXCLUDED.git_branch,
             model = EXCLUDED.model, start_source = EXCLUDED.start_source,
             started_at = EXCLUDED.started_at, last_seen_at = EXCLUDED.last_seen_at,
             ended_at = EXCLUDED.ended_at, end_reason = EXCLUDED.end_reason,
             source = EXCLUDED.source",
    )
    .bind(&ids)
    .bind(rs.iter().map(|r| r.user_id).collect::<Vec<_>>())
    .bind(
        rs.iter()
            .map(|r| r.cwd.as_deref().map(project_of))
            .collect::<Vec<_>>(),
    )
    .bind(rs.iter().map(|r| r.cwd.clone()).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.git_branch.clone()).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.model.clone()).collect::<Vec<_>>())
    .bind(
        rs.iter()
            .map(|r| r.start_source.clone())
            .collect::<Vec<_>>(),
    )
    .bind(rs.iter().map(|r| r.started_at).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.last_seen_at).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.ended_at).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.end_reason.clone()).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.usage_from_events).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.import_batch).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.source.as_deref()).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
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

async fn fold_tool_runs(
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

async fn fold_api_requests(
    conn: &mut PgConnection,
    events: &[&Event],
    deltas: &mut Deltas,
    sessions: &mut SessionDeltas,
) -> Result<()> {
    let requests: Vec<(&String, &Event)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            Kind::ApiRequest { request_id } => Some((request_id, *e)),
            _ => None,
        })
        .collect();
    if requests.is_empty() {
        return Ok(());
    }
    // The first report of each request in this batch is the candidate; the insert says which
    // candidates are new (one index probe each, no separate lookup).
    let mut seen: HashSet<&str> = HashSet::with_capacity(requests.len());
    let candidates: Vec<(&String, &Event, &str)> = requests
        .into_iter()
        .filter(|(id, _)| seen.insert(id.as_str()))
        .map(|(id, e)| (id, e, e.model.as_deref().unwrap_or("unknown")))
        .collect();
    let usage = |f: fn(&Usage) -> i64| -> Vec<i64> {
        candidates
            .iter()
            .map(|r| r.1.usage.as_ref().map_or(0, f))
            .collect()
    };
    let inserted: HashSet<String> = sqlx::query_as::<_, (String, bool)>(
        "INSERT INTO api_requests (request_id, session_id, user_id, model, at, import_batch,
             input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens, cost_usd)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::uuid[], $4::text[], $5::timestamptz[],
             $6::uuid[], $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::float8[])
         -- A request an import stored and something else reports too is no longer the
         -- import's alone (its rollback must leave it); `xmax = 0` tells new rows from those.
         ON CONFLICT (request_id) DO UPDATE SET import_batch = NULL
             WHERE api_requests.import_batch IS DISTINCT FROM EXCLUDED.import_batch
               AND api_requests.import_batch IS NOT NULL
         RETURNING request_id, xmax = 0",
    )
    .bind(candidates.iter().map(|r| r.0.as_str()).collect::<Vec<_>>())
    .bind(
        candidates
            .iter()
            .map(|r| r.1.session_id.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(candidates.iter().map(|r| r.1.user_id.0).collect::<Vec<_>>())
    .bind(candidates.iter().map(|r| r.2).collect::<Vec<_>>())
    .bind(
        candidates
            .iter()
            .map(|r| r.1.occurred_at)
            .collect::<Vec<_>>(),
    )
    .bind(
        candidates
            .iter()
            .map(|r| r.1.import_batch)
            .collect::<Vec<_>>(),
    )
    .bind(usage(|u| u.input_tokens))
    .bind(usage(|u| u.output_tokens))
    .bind(usage(|u| u.cache_creation_tokens))
    .bind(usage(|u| u.cache_read_tokens))
    .bind(
        candidates
            .iter()
            .map(|r| r.1.usage.unwrap_or_default().cost_usd)
            .collect::<Vec<_>>(),
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .filter_map(|(id, new)| new.then_some(id))
    .collect();
    let mut sessions_with_requests: HashSet<String> = HashSet::new();
    for (_, e, model) in candidates.iter().filter(|r| inserted.contains(r.0)) {
        let usage = e.usage.unwrap_or_default();
        let d = deltas.at(e.occurred_at, e.user_id.0, "", model);
        d.api_requests += 1;
        d.usage.add(&usage, 1);
        if let Some(s) = &e.session_id {
            sessions_with_requests.insert(s.clone());
            let d = sessions.of(s);
            d.api_requests += 1;
            d.usage.add(&usage, 1);
        }
    }
    // Sessions that now send request events: their counters, counted so far, come out again.
    let flipping: Vec<String> = sessions_with_requests.into_iter().collect();
    let flipped = sqlx::query_scalar!(
        "UPDATE sessions SET usage_from_events = true
         WHERE id = ANY($1) AND NOT usage_from_events RETURNING id",
        &flipping
    )
    .fetch_all(&mut *conn)
    .await?;
    counter_usage(conn, &flipped, -1, deltas, sessions).await?;
    Ok(())
}

/// Adds (`sign` 1) or takes out (-1) the token and cost counters `sessions` reported, in the
/// rollups and the sessions: when a session turns out to send api_request events, its
/// counters stop counting; when a rollback takes out all its requests, they count again.
pub(crate) async fn counter_usage(
    conn: &mut PgConnection,
    sessions: &[String],
    sign: i64,
    deltas: &mut Deltas,
    session_deltas: &mut SessionDeltas,
) -> Result<()> {
    if sessions.is_empty() {
        return Ok(());
    }
    let counted = sqlx::query!(
        r#"SELECT session_id, bucket, model, user_id, input_tokens, output_tokens,
                  cache_creation_tokens, cache_read_tokens, cost_usd::float8 AS "cost!"
           FROM counter_usage WHERE session_id = ANY($1)"#,
        sessions
    )
    .fetch_all(&mut *conn)
    .await?;
    for c in counted {
        let usage = Usage {
            input_tokens: c.input_tokens,
            output_tokens: c.output_tokens,
            cache_creation_tokens: c.cache_creation_tokens,
            cache_read_tokens: c.cache_read_tokens,
            cost_usd: c.cost,
        };
        deltas
            .at(c.bucket, c.user_id, "", &c.model)
            .usage
            .add(&usage, sign);
        session_deltas.of(&c.session_id).usage.add(&usage, sign);
    }
    Ok(())
}

/// Prompts, each once: by prompt id where the source gives one (a hook and OTLP report the
/// same prompt), else by the event.
async fn fold_prompts(
    conn: &mut PgConnection,
    events: &[&Event],
    deltas: &mut Deltas,
    sessions: &mut SessionDeltas,
) -> Result<()> {
    let mut seen: HashSet<&str> = HashSet::new();
    let candidates: Vec<(&str, &Event)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            Kind::Prompt { prompt_id } => Some((prompt_id.as_deref().unwrap_or(&e.key), *e)),
            _ => None,
        })
        .filter(|(id, _)| seen.insert(id))
        .collect();
    if candidates.is_empty() {
        return Ok(());
    }
    let inserted: HashSet<String> = sqlx::query_as::<_, (String, bool)>(
        "INSERT INTO prompts (prompt_id, session_id, user_id, at, import_batch)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::uuid[], $4::timestamptz[], $5::uuid[])
         -- As for API requests: reported from elsewhere too, it is no longer an import's alone.
         ON CONFLICT (prompt_id) DO UPDATE SET import_batch = NULL
             WHERE prompts.import_batch IS DISTINCT FROM EXCLUDED.import_batch
               AND prompts.import_batch IS NOT NULL
         RETURNING prompt_id, xmax = 0",
    )
    .bind(candidates.iter().map(|c| c.0).collect::<Vec<_>>())
    .bind(
        candidates
            .iter()
            .map(|c| c.1.session_id.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(candidates.iter().map(|c| c.1.user_id.0).collect::<Vec<_>>())
    .bind(
        candidates
            .iter()
            .map(|c| c.1.occurred_at)
            .collect::<Vec<_>>(),
    )
    .bind(
        candidates
            .iter()
            .map(|c| c.1.import_batch)
            .collect::<Vec<_>>(),
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .filter_map(|(id, new)| new.then_some(id))
    .collect();
    for (_, e) in candidates.iter().filter(|c| inserted.contains(c.0)) {
        deltas
            .at(e.occurred_at, e.user_id.0, "", "")
            .activity
            .prompts += 1;
        if let Some(s) = &e.session_id {
            sessions.of(s).activity.prompts += 1;
        }
    }
    Ok(())
}

async fn fold_counters(
    conn: &mut PgConnection,
    events: &[&Event],
    deltas: &mut Deltas,
    sessions: &mut SessionDeltas,
) -> Result<()> {
    let counters: Vec<&Event> = events
        .iter()
        .copied()
        .filter(|e| {
            matches!(
                e.kind,
                Kind::UsageCounter | Kind::LinesCounter | Kind::ApiError | Kind::Counter(_)
            )
        })
        .collect();
    if counters.is_empty() {
        return Ok(());
    }
    let with_usage: Vec<String> = counters
        .iter()
        .filter(|e| e.kind == Kind::UsageCounter)
        .filter_map(|e| e.session_id.clone())
        .collect();
    let from_events: HashSet<String> = if with_usage.is_empty() {
        HashSet::new()
    } else {
        sqlx::query_scalar!(
            "SELECT id FROM sessions WHERE id = ANY($1) AND usage_from_events",
            &with_usage
        )
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect()
    };
    // Usage is also kept per session, minute and model, so it can come out of the rollups
    // again if the session turns out to send api_request events too.
    let mut usage: HashMap<(&str, DateTime<Utc>, String), (Uuid, Usage)> = HashMap::new();
    for e in counters {
        let session = e.session_id.as_deref();
        match e.kind {
            Kind::LinesCounter => {
                let (added, removed) = (e.lines_added.unwrap_or(0), e.lines_removed.unwrap_or(0));
                let d = deltas.at(e.occurred_at, e.user_id.0, "", "");
                d.lines_added += added;
                d.lines_removed += removed;
                if let Some(s) = session {
                    let d = sessions.of(s);
                    d.lines_added += added;
                    d.lines_removed += removed;
                }
            }
            Kind::ApiError => {
                let model = e.model.as_deref().unwrap_or("");
                deltas
                    .at(e.occurred_at, e.user_id.0, "", model)
                    .activity
                    .api_errors += 1;
                if let Some(s) = session {
                    sessions.of(s).activity.api_errors += 1;
                }
            }
            Kind::Counter(c) => {
                let n = e.count.unwrap_or(0);
                let tool = e.tool.as_deref().unwrap_or("");
                *deltas
                    .at(e.occurred_at, e.user_id.0, tool, "")
                    .activity
                    .counter(c) += n;
                if let Some(s) = session {
                    *sessions.of(s).activity.counter(c) += n;
                }
            }
            Kind::UsageCounter => {
                let u = e.usage.unwrap_or_default();
                let model = e.model.clone().unwrap_or_else(|| "unknown".into());
                let counted = match session {
                    None => true,
                    Some(session) => {
                        let minute = e
                            .occurred_at
                            .duration_trunc(TimeDelta::minutes(1))
                            .unwrap_or(e.occurred_at);
                        usage
                            .entry((session, minute, model.clone()))
                            .or_insert_with(|| (e.user_id.0, Usage::default()))
                            .1
                            .add(&u, 1);
                        !from_events.contains(session)
                    }
                };
                if counted {
                    deltas
                        .at(e.occurred_at, e.user_id.0, "", &model)
                        .usage
                        .add(&u, 1);
                    if let Some(s) = session {
                        sessions.of(s).usage.add(&u, 1);
                    }
                }
            }
            _ => {}
        }
    }
    if !usage.is_empty() {
        let rows: Vec<_> = usage.into_iter().collect();
        let col = |f: fn(&Usage) -> i64| rows.iter().map(|r| f(&r.1 .1)).collect::<Vec<_>>();
        sqlx::query(
            "INSERT INTO counter_usage (session_id, bucket, model, user_id, input_tokens,
                 output_tokens, cache_creation_tokens, cache_read_tokens, cost_usd)
             SELECT * FROM UNNEST($1::text[], $2::timestamptz[], $3::text[], $4::uuid[],
                 $5::int8[], $6::int8[], $7::int8[], $8::int8[], $9::float8[])
             ON CONFLICT (session_id, bucket, model) DO UPDATE SET
                 input_tokens = counter_usage.input_tokens + EXCLUDED.input_tokens,
                 output_tokens = counter_usage.output_tokens + EXCLUDED.output_tokens,
                 cache_creation_tokens = counter_usage.cache_creation_tokens + EXCLUDED.cache_creation_tokens,
                 cache_read_tokens = counter_usage.cache_read_tokens + EXCLUDED.cache_read_tokens,
                 cost_usd = counter_usage.cost_usd + EXCLUDED.cost_usd",
        )
        .bind(rows.iter().map(|r| r.0 .0).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.0 .1).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.0 .2.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.1 .0).collect::<Vec<_>>())
        .bind(col(|u| u.input_tokens))
        .bind(col(|u| u.output_tokens))
        .bind(col(|u| u.cache_creation_tokens))
        .bind(col(|u| u.cache_read_tokens))
        .bind(rows.iter().map(|r| r.1 .1.cost_usd).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
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

pub(crate) async fn write_rollups(conn: &mut PgConnection, deltas: Deltas) -> Result<()> {
    if deltas.0.is_empty() {
        return Ok(());
    }
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
        let rows: Vec<(RollupKey, Delta)> = merged.into_iter().collect();
        let ints: Vec<&Column<Delta>> = changed(&ROLLUP_COLUMNS, &rows).collect();
        let cost = rows.iter().any(|(_, d)| d.usage.cost_usd != 0.0);
        let hist = rows.iter().any(|(_, d)| !d.hist.is_empty());
        // Key columns first ($2..$5 after the grain), then the changed counters.
        let mut columns: Vec<String> = ["bucket", "user_id", "tool", "model"]
            .map(String::from)
            .to_vec();
        let mut types: Vec<&str> = vec!["timestamptz[]", "uuid[]", "text[]", "text[]"];
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
            sums.push(
                "duration_hist = hist_add(rollups.duration_hist, EXCLUDED.duration_hist)".into(),
            );
        }
        let params: Vec<String> = types
            .iter()
            .enumerate()
            .map(|(i, t)| format!("${}::{t}", i + 2))
            .collect();
        let values: Vec<String> = columns
            .iter()
            .map(|c| {
                if c == "duration_hist" {
                    "duration_hist::int8[]".to_string()
                } else {
                    c.clone()
                }
            })
            .collect();
        let statement = format!(
            "INSERT INTO rollups (grain, {cols})
             SELECT $1, {values} FROM UNNEST({params}) AS x({cols})
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
            .bind(grain as i8)
            .bind(rows.iter().map(|(k, _)| k.0).collect::<Vec<_>>())
            .bind(rows.iter().map(|(k, _)| k.1).collect::<Vec<_>>())
            .bind(rows.iter().map(|(k, _)| k.2.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|(k, _)| k.3.clone()).collect::<Vec<_>>());
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
    }
    Ok(())
}

fn truncate(t: DateTime<Utc>, unit: &str) -> DateTime<Utc> {
    match unit {
        "hour" => t.duration_trunc(TimeDelta::hours(1)).unwrap_or(t),
        "day" => t.duration_trunc(TimeDelta::days(1)).unwrap_or(t),
        _ => t,
    }
}

/// A month as a number (`year * 12 + month - 1`), the unit of `events` partitions.
pub fn month_index(t: DateTime<Utc>) -> i32 {
    t.year() * 12 + t.month0() as i32
}

fn month_start(month: i32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(
        month.div_euclid(12),
        month.rem_euclid(12) as u32 + 1,
        1,
        0,
        0,
        0,
    )
    .single()
    .expect("first of month")
}

/// Creates the monthly partitions of `events` from last month to `ahead` months ahead, and
/// one for every month whose events sit in the default partition (history imported before
/// its month had a partition). Run by the migration role (the tenant role may not create
/// tables) at start-up and hourly.
pub async fn ensure_partitions(conn: &mut PgConnection, schema: &str, ahead: u32) -> Result<()> {
    crate::ident::check(schema, "schema")?;
    let now = month_index(Utc::now());
    let stranded: Vec<i32> = sqlx::query_scalar(&format!(
        "SELECT DISTINCT (extract(year FROM occurred_at AT TIME ZONE 'UTC') * 12
                          + extract(month FROM occurred_at AT TIME ZONE 'UTC') - 1)::int4
         FROM {}.events_default",
        crate::ident::quote(schema)
    ))
    .fetch_all(&mut *conn)
    .await?;
    for month in (now - 1..=now + ahead as i32).chain(stranded) {
        create_month(conn, schema, month).await?;
    }
    Ok(())
}

/// Makes sure `month` has its partition, in a transaction of its own (the writer calls it
/// before writing events of a month it has not seen).
pub async fn ensure_month(pool: &sqlx::PgPool, schema: &str, month: i32) -> Result<()> {
    crate::ident::check(schema, "schema")?;
    let mut tx = pool.begin().await?;
    create_month(&mut tx, schema, month).await?;
    tx.commit().await?;
    Ok(())
}

/// Creates the partition of `month` unless it exists, moving in the rows that the default
/// partition holds for it (PostgreSQL refuses to create a partition whose rows sit in the
/// default one). Takes the caller's transaction; `schema` is checked by the caller.
async fn create_month(conn: &mut PgConnection, schema: &str, month: i32) -> Result<()> {
    let (from, to) = (month_start(month), month_start(month + 1));
    let name = format!("events_{}", from.format("%Y%m"));
    // One creator at a time per tenant; the others then find the partition made.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1), 2)")
        .bind(schema)
        .execute(&mut *conn)
        .await?;
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relname = $2)",
    )
    .bind(schema)
    .bind(&name)
    .fetch_one(&mut *conn)
    .await?;
    if exists {
        return Ok(());
    }
    let q = crate::ident::quote(schema);
    let range = format!(
        "occurred_at >= '{}' AND occurred_at < '{}'",
        from.to_rfc3339(),
        to.to_rfc3339()
    );
    // Creating a partition takes the parent, then the default partition: lock them in that
    // order (as every statement on `events` does) up front, so no row of the month slips in
    // between and no one waits on us in the opposite order. Rare and short: the move finds
    // nothing unless an older version stranded rows.
    for statement in [
        format!("LOCK TABLE {q}.events IN ACCESS EXCLUSIVE MODE"),
        format!("CREATE TEMP TABLE devpulse_moving (LIKE {q}.events) ON COMMIT DROP"),
        format!(
            "WITH moved AS (DELETE FROM {q}.events_default WHERE {range} RETURNING *)
             INSERT INTO devpulse_moving SELECT * FROM moved"
        ),
        format!(
            "CREATE TABLE {q}.{name} PARTITION OF {q}.events FOR VALUES FROM ('{}') TO ('{}')",
            from.to_rfc3339(),
            to.to_rfc3339()
        ),
        format!("INSERT INTO {q}.events SELECT * FROM devpulse_moving"),
        "DROP TABLE devpulse_moving".to_string(),
    ] {
        sqlx::query(&statement).execute(&mut *conn).await?;
    }
    Ok(())
}
