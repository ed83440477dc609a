//! Import batches: each run of `devpulse import` is one. Its events carry the batch id, and so
//! do the sessions, tool runs and API requests they created, so [`rollback`] can take exactly
//! that out again, rollups included.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    accounts::UserId,
    events::{
        self,
        tool_runs::{Outcome, RunCount},
        Deltas, SessionDeltas, Usage,
    },
    Error, Result,
};

pub use types::ImportId;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportBatch {
    pub id: ImportId,
    pub user_id: Uuid,
    pub source: String,
    pub host: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub rolled_back_at: Option<DateTime<Utc>>,
    /// When retention first removed some of the batch's rows: it can no longer be rolled back.
    pub trimmed_at: Option<DateTime<Utc>>,
    /// The importer's e-mail (an erased person's is gone).
    pub owner: Option<String>,
    pub stats: serde_json::Value,
    /// Events stored under this batch (duplicates of what was already stored do not count).
    pub events: i64,
}

/// What a rollback removed, from whose batch.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RolledBack {
    /// The person who imported the batch.
    pub owner: Uuid,
    pub events: u64,
    pub sessions: u64,
    pub tool_runs: u64,
    pub api_requests: u64,
    pub prompts: u64,
}

pub async fn create(
    conn: &mut PgConnection,
    user: UserId,
    source: &str,
    host: Option<&str>,
) -> Result<ImportBatch> {
    if source.is_empty() || source.chars().count() > 200 {
        return Err(Error::Invalid {
            field: "source",
            reason: "must be 1 to 200 characters".into(),
        });
    }
    if host.is_some_and(|h| h.chars().count() > 200) {
        return Err(Error::Invalid {
            field: "host",
            reason: "must be at most 200 characters".into(),
        });
    }
    let id = ImportId(Uuid::new_v4());
    sqlx::query!(
        "INSERT INTO import_batches (id, user_id, source, host) VALUES ($1, $2, $3, $4)",
        id.0,
        user.0,
        source,
        host
    )
    .execute(&mut *conn)
    .await?;
    get(conn, user, id).await
}

/// Whose batches a caller reaches: a person their own, a tenant admin everyone's.
#[derive(Clone, Copy, Debug)]
pub enum Whose {
    Own(UserId),
    Anyone,
}

impl Whose {
    /// A signed-in person's reach: everyone's batches when they manage people.
    pub fn of(user: UserId, manages_people: bool) -> Whose {
        if manages_people {
            Whose::Anyone
        } else {
            Whose::Own(user)
        }
    }
}

/// One of `user`'s batches (another person's is not found).
pub async fn get(conn: &mut PgConnection, user: UserId, id: ImportId) -> Result<ImportBatch> {
    batch(conn, Whose::Own(user), id).await
}

/// A batch `whose` reaches; any other is not found.
pub async fn batch(conn: &mut PgConnection, whose: Whose, id: ImportId) -> Result<ImportBatch> {
    list_where(conn, whose, Some(id))
        .await?
        .pop()
        .ok_or(Error::NotFound("import batch"))
}

/// `user`'s batches, newest first.
pub async fn list(conn: &mut PgConnection, user: UserId) -> Result<Vec<ImportBatch>> {
    list_where(conn, Whose::Own(user), None).await
}

/// The batches `whose` reaches, newest first (the newest 200).
pub async fn batches(conn: &mut PgConnection, whose: Whose) -> Result<Vec<ImportBatch>> {
    list_where(conn, whose, None).await
}

async fn list_where(
    conn: &mut PgConnection,
    whose: Whose,
    id: Option<ImportId>,
) -> Result<Vec<ImportBatch>> {
    let user = match whose {
        Whose::Own(u) => Some(u.0),
        Whose::Anyone => None,
    };
    Ok(sqlx::query!(
        r#"SELECT b.id, b.user_id, b.source, b.host, b.created_at, b.finished_at,
                  b.rolled_back_at, b.trimmed_at, b.stats,
                  (SELECT u.email FROM users u WHERE u.id = b.user_id AND u.erased_at IS NULL)
                    AS owner,
                  (SELECT count(*) FROM events e WHERE e.import_batch = b.id) AS "events!"
           FROM import_batches b
           WHERE ($1::uuid IS NULL OR b.user_id = $1) AND ($2::uuid IS NULL OR b.id = $2)
           ORDER BY b.created_at DESC LIMIT 200"#,
        user,
        id.map(|i| i.0)
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| ImportBatch {
        id: ImportId(r.id),
        user_id: r.user_id,
        source: r.source,
        host: r.host,
        created_at: r.created_at,
        finished_at: r.finished_at,
        rolled_back_at: r.rolled_back_at,
        trimmed_at: r.trimmed_at,
        owner: r.owner,
        stats: r.stats,
        events: r.events,
    })
    .collect())
}

/// Checks that events may be added to the batch: it is `user`'s and not rolled back.
/// A finished batch takes more (an interrupted import that resumes).
pub async fn open_for_writes(conn: &mut PgConnection, user: UserId, id: ImportId) -> Result<()> {
    let batch = get(conn, user, id).await?;
    if batch.rolled_back_at.is_some() {
        return Err(Error::Conflict("the import batch was rolled back".into()));
    }
    Ok(())
}

/// Records the importer's own figures and the time it finished.
pub async fn finish(
    conn: &mut PgConnection,
    user: UserId,
    id: ImportId,
    stats: &serde_json::Value,
) -> Result<ImportBatch> {
    open_for_writes(conn, user, id).await?;
    sqlx::query!(
        "UPDATE import_batches SET finished_at = now(), stats = $2 WHERE id = $1",
        id.0,
        stats
    )
    .execute(&mut *conn)
    .await?;
    get(conn, user, id).await
}

/// Removes the batch's events and what they created, and takes them out of the rollups and
/// the sessions' counters. A session the batch created stays if events from elsewhere (hooks,
/// OTLP, another batch) refer to it. Records who did it, with what was removed.
pub async fn rollback(
    conn: &mut PgConnection,
    actor: &crate::audit::Actor,
    whose: Whose,
    id: ImportId,
) -> Result<RolledBack> {
    events::lock(conn).await?;
    let found = batch(conn, whose, id).await?;
    if found.rolled_back_at.is_some() {
        return Err(Error::Conflict("the import batch was rolled back".into()));
    }
    // Locked, so retention (which marks the batch in the transaction that removes its rows)
    // either marked it already or waits until the rollback is done.
    let trimmed = sqlx::query_scalar!(
        "SELECT trimmed_at FROM import_batches WHERE id = $1 FOR UPDATE",
        id.0
    )
    .fetch_one(&mut *conn)
    .await?;
    if trimmed.is_some() {
        return Err(Error::Conflict(
            "retention has removed some of this batch's events, so a rollback could no longer take out exactly what it added"
                .into(),
        ));
    }
    let mut deltas = Deltas::default();
    let mut sessions = SessionDeltas::default();
    let mut done = RolledBack {
        owner: found.user_id,
        ..RolledBack::default()
    };

    let runs = sqlx::query!(
        "DELETE FROM tool_runs WHERE import_batch = $1
         RETURNING session_id, user_id, tool, started_at, success, duration_ms, agent",
        id.0
    )
    .fetch_all(&mut *conn)
    .await?;
    done.tool_runs = runs.len() as u64;
    // Sessions that lose an agent run: their subagent types are recounted from the runs left.
    let mut recount_agents: Vec<&str> = Vec::new();
    for r in &runs {
        // Everything the run counted comes out, by the rule that counted it.
        let outcome = Outcome {
            success: r.success,
            duration_ms: r.duration_ms,
        };
        let count = RunCount::of(&r.tool, outcome, None);
        count.add_to(deltas.at(r.started_at, r.user_id, &r.tool, ""), -1);
        if let Some(s) = &r.session_id {
            count.add_to_session(sessions.of(s), -1);
            if r.agent.is_some() {
                recount_agents.push(s);
            }
        }
    }
    if !recount_agents.is_empty() {
        sqlx::query!(
            "UPDATE sessions s SET agents = ARRAY(
                 SELECT DISTINCT t.agent FROM tool_runs t
                 WHERE t.session_id = s.id AND t.agent IS NOT NULL ORDER BY 1)
             WHERE s.id = ANY($1)",
            &recount_agents as &[&str]
        )
        .execute(&mut *conn)
        .await?;
    }

    let requests = sqlx::query!(
        r#"DELETE FROM api_requests WHERE import_batch = $1
           RETURNING session_id, user_id, model, at, input_tokens, output_tokens,
                     cache_creation_tokens, cache_read_tokens, cost_usd::float8 AS "cost!""#,
        id.0
    )
    .fetch_all(&mut *conn)
    .await?;
    done.api_requests = requests.len() as u64;
    let mut ids = Vec::new();
    for r in &requests {
        let usage = Usage {
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            cache_creation_tokens: r.cache_creation_tokens,
            cache_read_tokens: r.cache_read_tokens,
            cost_usd: r.cost,
        };
        let d = deltas.at(r.at, r.user_id, "", &r.model);
        d.api_requests -= 1;
        d.usage.add(&usage, -1);
        if let Some(s) = &r.session_id {
            ids.push(s.as_str());
            let d = sessions.of(s);
            d.api_requests -= 1;
            d.usage.add(&usage, -1);
        }
    }

    // A session whose requests were all the batch's counts its OTLP token and cost counters
    // again, as it did before the import replaced them.
    let unflipped = sqlx::query_scalar!(
        "UPDATE sessions s SET usage_from_events = false
         WHERE s.id = ANY($1) AND s.usage_from_events
           AND NOT EXISTS (SELECT 1 FROM api_requests r WHERE r.session_id = s.id)
         RETURNING s.id",
        &ids as &[&str]
    )
    .fetch_all(&mut *conn)
    .await?;
    events::counter_usage(conn, &unflipped, 1, &mut deltas, &mut sessions).await?;

    let prompts = sqlx::query!(
        "DELETE FROM prompts WHERE import_batch = $1 RETURNING session_id, user_id, at",
        id.0
    )
    .fetch_all(&mut *conn)
    .await?;
    done.prompts = prompts.len() as u64;
    for p in &prompts {
        deltas.at(p.at, p.user_id, "", "").activity.prompts -= 1;
        if let Some(s) = &p.session_id {
            sessions.of(s).activity.prompts -= 1;
        }
    }

    let lines = sqlx::query!(
        r#"SELECT occurred_at, user_id, session_id, lines_added AS "added!", lines_removed AS "removed!"
           FROM events
           WHERE import_batch = $1 AND kind = 'lines_counter'
             AND lines_added IS NOT NULL AND lines_removed IS NOT NULL"#,
        id.0
    )
    .fetch_all(&mut *conn)
    .await?;
    for l in &lines {
        let d = deltas.at(l.occurred_at, l.user_id, "", "");
        d.lines_added -= l.added;
        d.lines_removed -= l.removed;
        if let Some(s) = &l.session_id {
            let d = sessions.of(s);
            d.lines_added -= l.added;
            d.lines_removed -= l.removed;
        }
    }
    // Imports carry no API errors or OTLP counters (the batch API has no items for them), so
    // nothing else of a session's counters came from the batch.
    events::write_session_deltas(conn, sessions).await?;

    let deleted = sqlx::query!(
        "DELETE FROM sessions s WHERE s.import_batch = $1
           AND NOT EXISTS (SELECT 1 FROM events e WHERE e.session_id = s.id
                             AND e.import_batch IS DISTINCT FROM $1)
         RETURNING user_id, started_at",
        id.0
    )
    .fetch_all(&mut *conn)
    .await?;
    done.sessions = deleted.len() as u64;
    for s in &deleted {
        deltas.at(s.started_at, s.user_id, "", "").sessions -= 1;
    }

    done.events = sqlx::query!("DELETE FROM events WHERE import_batch = $1", id.0)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    events::write_rollups(conn, deltas).await?;
    sqlx::query!(
        "UPDATE import_batches SET rolled_back_at = now() WHERE id = $1",
        id.0
    )
    .execute(&mut *conn)
    .await?;
    let details = serde_json::json!(done);
    crate::audit::record(
        conn,
        actor,
        "import.rolled_back",
        Some(&id.to_string()),
        details,
    )
    .await?;
    Ok(done)
}
