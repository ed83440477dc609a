//! A tenant with one user, events built the way the ingest paths build them, and what the
//! write model stored, read back without HTTP.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde_json::Value;
use store::{
    accounts::{self, Email, Role, UserId},
    events::{self, Event, Kind, Source, Usage, Written},
    rollups::Totals,
    testing::TestDb,
    Slug, TenantTx,
};

pub struct Tenant {
    pub db: TestDb,
    pub tenant: store::Tenant,
    pub user: UserId,
}

impl Tenant {
    pub async fn new() -> Tenant {
        let db = TestDb::new().await;
        let tenant = store::tenants::create(
            db.store.pool(),
            &store::audit::Actor::cli(),
            &Slug::parse("acme").unwrap(),
            "Acme",
        )
        .await
        .unwrap();
        let mut tx = TenantTx::begin(db.store.pool(), tenant.scope())
            .await
            .unwrap();
        let email = Email::parse("ana@example.com").unwrap();
        let user = accounts::create(&mut tx, &email, "Ana", Role::Developer, None)
            .await
            .unwrap()
            .id;
        tx.commit().await.unwrap();
        Tenant { db, tenant, user }
    }

    pub async fn tx(&self) -> TenantTx {
        TenantTx::begin(self.db.store.pool(), self.tenant.scope())
            .await
            .unwrap()
    }

    /// Writes a batch in a transaction of its own, as an ingest request does.
    pub async fn write(&self, events: &mut [Event]) -> Written {
        let mut tx = self.tx().await;
        let written = events::write(&mut tx, events).await.unwrap();
        tx.commit().await.unwrap();
        written
    }

    /// The day's totals from the day rollups (the other grains are in [`Tenant::snapshot`]).
    pub async fn totals(&self) -> Totals {
        let mut tx = self.tx().await;
        let from = day();
        let summary = store::rollups::summary(
            &mut tx,
            types::TimeRange::new(from, from + TimeDelta::days(1)).unwrap(),
            None,
        )
        .await
        .unwrap();
        assert_eq!(summary.grain, types::Grain::Day);
        summary.total
    }

    pub async fn session(&self, id: &str) -> store::activity::Session {
        let mut tx = self.tx().await;
        store::activity::session(&mut tx, id, None).await.unwrap()
    }

    pub async fn count(&self, table: &str) -> i64 {
        let mut tx = self.tx().await;
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&mut *tx)
            .await
            .unwrap()
    }

    /// Every row of the write model, as JSON text in a stable order. Rollup rows whose
    /// counters are all zero are left out: a rollback takes counts back out of a bucket but
    /// leaves the bucket, which reads the same as no bucket.
    /// Also checks that the per-person rollups are the rollups summed per person, which
    /// every write keeps so (so each test that snapshots checks it).
    pub async fn snapshot(&self) -> Vec<String> {
        let mut tx = self.tx().await;
        let differing: Vec<Value> = sqlx::query_scalar(
            "WITH summed AS (
                 SELECT grain, bucket, user_id, sum(sessions) AS sessions,
                        sum(tool_executions) AS tool_executions,
                        sum(tool_failures) AS tool_failures,
                        sum(agent_invocations) AS agent_invocations,
                        sum(api_requests) AS api_requests, sum(input_tokens) AS input_tokens,
                        sum(output_tokens) AS output_tokens,
                        sum(cache_creation_tokens) AS cache_creation_tokens,
                        sum(cache_read_tokens) AS cache_read_tokens, sum(cost_usd) AS cost_usd,
                        sum(lines_added) AS lines_added, sum(lines_removed) AS lines_removed,
                        sum(duration_count) AS duration_count,
                        sum(duration_sum_ms) AS duration_sum_ms, sum(prompts) AS prompts,
                        sum(api_errors) AS api_errors, sum(commits) AS commits,
                        sum(pull_requests) AS pull_requests,
                        sum(active_user_ms) AS active_user_ms,
                        sum(active_cli_ms) AS active_cli_ms,
                        sum(edits_accepted) AS edits_accepted,
                        sum(edits_rejected) AS edits_rejected
                 FROM rollups GROUP BY 1, 2, 3),
             people AS (SELECT grain, bucket, user_id, sessions, tool_executions, tool_failures,
                               agent_invocations, api_requests, input_tokens, output_tokens,
                               cache_creation_tokens, cache_read_tokens, cost_usd, lines_added,
                               lines_removed, duration_count, duration_sum_ms, prompts,
                               api_errors, commits, pull_requests, active_user_ms,
                               active_cli_ms, edits_accepted, edits_rejected
                        FROM person_rollups)
             SELECT to_jsonb(d) FROM ((TABLE summed EXCEPT TABLE people)
                                      UNION ALL (TABLE people EXCEPT TABLE summed)) d",
        )
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        assert!(
            differing.is_empty(),
            "person_rollups differ from the rollups summed per person: {differing:#?}"
        );
        let mut rows = Vec::new();
        for (table, order) in [
            ("rollups", "grain, bucket, user_id, tool, model"),
            ("sessions", "id"),
            ("tool_runs", "tool_use_id"),
            ("api_requests", "request_id"),
            ("prompts", "prompt_id"),
            ("counter_usage", "session_id, bucket, model"),
            ("metric_series", "series_key"),
            ("events", "key, occurred_at"),
        ] {
            // Apart from when the server received an event, which is the clock's.
            let json: Vec<Value> = sqlx::query_scalar(&format!(
                "SELECT to_jsonb(t) - 'received_at' FROM {table} t ORDER BY {order}"
            ))
            .fetch_all(&mut *tx)
            .await
            .unwrap();
            for row in json {
                if table == "rollups" && all_zero(&row) {
                    continue;
                }
                rows.push(format!("{table} {row}"));
            }
        }
        rows
    }
}

fn all_zero(rollup: &Value) -> bool {
    let zero = |v: &Value| match v {
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Array(a) => a.iter().all(|x| x.as_f64() == Some(0.0)),
        _ => false,
    };
    rollup
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "grain" | "bucket" | "user_id" | "tool" | "model"
            )
        })
        .all(|(_, v)| zero(v))
}

/// The day the tests' events happen on (fixed, so buckets are too).
pub fn day() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap()
}

/// `secs` seconds into 10:00 of [`day`].
pub fn at(secs: i64) -> DateTime<Utc> {
    day() + TimeDelta::hours(10) + TimeDelta::seconds(secs)
}

/// An event of `session`, as the hook and OTLP parsers make them.
pub fn event(
    user: UserId,
    key: &str,
    kind: Kind,
    source: Source,
    secs: i64,
    session: &str,
) -> Event {
    let mut e = Event::new(key.into(), kind, source, at(secs), user);
    e.session_id = Some(session.into());
    e
}

pub fn tool_start(user: UserId, session: &str, id: &str, tool: &str, secs: i64) -> Event {
    let kind = Kind::ToolStart {
        tool_use_id: id.into(),
    };
    let mut e = event(
        user,
        &format!("hook:pre:{id}"),
        kind,
        Source::Hook,
        secs,
        session,
    );
    e.tool = Some(tool.into());
    e
}

/// A PostToolUse (`ok`) or PostToolUseFailure hook.
pub fn tool_end(user: UserId, session: &str, id: &str, tool: &str, secs: i64, ok: bool) -> Event {
    let kind = Kind::ToolEnd {
        tool_use_id: id.into(),
    };
    let key = format!("hook:{}:{id}", if ok { "post" } else { "fail" });
    let mut e = event(user, &key, kind, Source::Hook, secs, session);
    e.tool = Some(tool.into());
    e.success = Some(ok);
    e
}

/// An OTLP api_request log record.
pub fn request(user: UserId, session: &str, id: &str, secs: i64, usage: Usage) -> Event {
    let kind = Kind::ApiRequest {
        request_id: id.into(),
    };
    let mut e = event(
        user,
        &format!("otlp:req:{id}"),
        kind,
        Source::Otlp,
        secs,
        session,
    );
    e.model = Some("claude-sonnet-4-5".into());
    e.usage = Some(usage);
    e
}

pub fn usage(input: i64, output: i64, cost_usd: f64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        cache_creation_tokens: 0,
        cache_read_tokens: 0,
        cost_usd,
    }
}
