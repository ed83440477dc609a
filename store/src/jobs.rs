//! Background jobs in the registry's `jobs` table: queued in the transaction that decides on
//! them, claimed by any instance with `FOR UPDATE SKIP LOCKED` under a lease its worker
//! renews, retried with growing waits, dead after their last attempt (and visible until an
//! operator runs them again). A job whose instance died while running it is taken up again
//! once its lease runs out, so every job is at least once and written to be safe to repeat.
//!
//! Scheduled runs carry a `dedupe_key` (`<schedule>@<fire time>`), unique in the table: a
//! fire time is queued once however many instances try.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::{PgConnection, PgPool};

use crate::{Error, Result, TenantId};

/// Where enqueues announce themselves (on commit), so idle workers wake at once.
pub const CHANNEL: &str = "devpulse_jobs";

async fn announce(conn: &mut PgConnection) -> Result<()> {
    sqlx::query!("SELECT pg_notify($1, '')", CHANNEL)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub use types::jobs::{Counts, Job, JobId, Jobs};

/// A job as its worker receives it.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub id: JobId,
    pub tenant: Option<TenantId>,
    pub kind: String,
    pub payload: serde_json::Value,
    /// This attempt's number, from 1.
    pub attempt: i32,
    pub max_attempts: i32,
}

impl Claimed {
    /// Whether a failure now makes the job dead.
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }
}

/// Queues installation-wide work (no workspace).
pub async fn enqueue(
    conn: &mut PgConnection,
    kind: &str,
    payload: &serde_json::Value,
) -> Result<JobId> {
    let id = sqlx::query_scalar!(
        "INSERT INTO public.jobs (kind, payload) VALUES ($1, $2) RETURNING id",
        kind,
        payload
    )
    .fetch_one(&mut *conn)
    .await?;
    announce(conn).await?;
    Ok(JobId(id))
}

/// Queues work for the workspace whose [`crate::TenantTx`] `conn` is, in that transaction:
/// the job exists exactly when what asked for it commits.
///
/// The tenant's role may not touch the registry, so this steps out of it for the insert
/// and back in; the workspace is the one whose role the transaction was in, never one the
/// caller names.
pub async fn enqueue_here(
    conn: &mut PgConnection,
    kind: &str,
    payload: &serde_json::Value,
) -> Result<JobId> {
    let role = crate::tenant_tx::step_out(conn).await?;
    let id = sqlx::query_scalar!(
        "INSERT INTO public.jobs (tenant_id, kind, payload)
         SELECT id, $2, $3 FROM public.tenants WHERE role_name = $1
         RETURNING id",
        role,
        kind,
        payload
    )
    .fetch_optional(&mut *conn)
    .await?;
    announce(conn).await?;
    crate::tenant_tx::step_back(conn, &role).await?;
    id.map(JobId)
        .ok_or(Error::NotFound("workspace of this transaction"))
}

/// Queues a schedule's run for `fire` unless some instance already has; `true` when this
/// call queued it.
pub async fn schedule(
    pool: &PgPool,
    schedule: &str,
    fire: DateTime<Utc>,
    kind: &str,
) -> Result<bool> {
    let key = format!("{schedule}@{}", fire.to_rfc3339());
    let mut tx = crate::begin(pool).await?;
    let queued = sqlx::query!(
        "INSERT INTO jobs (kind, dedupe_key, run_at) VALUES ($1, $2, $3)
         ON CONFLICT (dedupe_key) DO NOTHING",
        kind,
        key,
        fire
    )
    .execute(&mut *tx)
    .await?;
    if queued.rows_affected() == 1 {
        announce(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(queued.rows_affected() == 1)
}

/// Why a job whose worker vanished on its last attempt is dead.
pub const ABANDONED: &str = "its worker stopped during the last attempt";

/// The jobs whose lease ran out on their last attempt: their worker vanished every time.
/// Whoever finds one marks what it was for as given up, then [`bury`]s it; both steps may be
/// repeated, so a failure between them is mended on the next round.
pub async fn abandoned(pool: &PgPool) -> Result<Vec<Claimed>> {
    let mut tx = crate::begin(pool).await?;
    let rows = sqlx::query!(
        "SELECT id, tenant_id, kind, payload, attempts, max_attempts FROM jobs
         WHERE state = 'running' AND locked_until < now() AND attempts >= max_attempts
         ORDER BY id LIMIT 100"
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| Claimed {
            id: JobId(r.id),
            tenant: r.tenant_id.map(TenantId),
            kind: r.kind,
            payload: r.payload,
            attempt: r.attempts,
            max_attempts: r.max_attempts,
        })
        .collect())
}

/// Declares an [`abandoned`] job dead.
pub async fn bury(pool: &PgPool, id: JobId) -> Result<()> {
    let mut tx = crate::begin(pool).await?;
    sqlx::query!(
        "UPDATE jobs SET state = 'dead', finished_at = now(), locked_by = NULL,
                locked_until = NULL,
                last_error = coalesce(last_error || '; ', '') || $2
         WHERE id = $1 AND state = 'running' AND locked_until < now()
           AND attempts >= max_attempts",
        id.0,
        ABANDONED
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Takes the next due job of one of `kinds` (this instance may be older or newer than the
/// one that queued it) for `worker`, leased for `lease`. A running job whose lease ran out is
/// taken up again while it has attempts left; one without is [`abandoned`].
pub async fn claim(
    pool: &PgPool,
    worker: &str,
    kinds: &[String],
    lease: TimeDelta,
) -> Result<Option<Claimed>> {
    let mut tx = crate::begin(pool).await?;
    let row = sqlx::query!(
        r#"WITH next AS (
               SELECT id FROM jobs
               WHERE kind = ANY($3)
                 AND ((state = 'queued' AND run_at <= now())
                      OR (state = 'running' AND locked_until < now()
                          AND attempts < max_attempts))
               ORDER BY run_at
               LIMIT 1
               FOR UPDATE SKIP LOCKED)
           UPDATE jobs j
           SET state = 'running', attempts = j.attempts + 1, locked_by = $1,
               locked_until = now() + make_interval(secs => $2)
           FROM next WHERE j.id = next.id
           RETURNING j.id, j.tenant_id, j.kind, j.payload, j.attempts, j.max_attempts"#,
        worker,
        lease.as_seconds_f64(),
        kinds
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.map(|r| Claimed {
        id: JobId(r.id),
        tenant: r.tenant_id.map(TenantId),
        kind: r.kind,
        payload: r.payload,
        attempt: r.attempts,
        max_attempts: r.max_attempts,
    }))
}

/// Extends a running job's lease; `false` when the job is no longer this worker's (its
/// lease ran out and another worker took it).
pub async fn renew(pool: &PgPool, id: JobId, worker: &str, lease: TimeDelta) -> Result<bool> {
    let mut tx = crate::begin(pool).await?;
    let done = sqlx::query!(
        "UPDATE jobs SET locked_until = now() + make_interval(secs => $3)
         WHERE id = $1 AND locked_by = $2 AND state = 'running'",
        id.0,
        worker,
        lease.as_seconds_f64()
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Marks the job done, if it is still this worker's.
pub async fn complete(pool: &PgPool, id: JobId, worker: &str) -> Result<()> {
    let mut tx = crate::begin(pool).await?;
    sqlx::query!(
        "UPDATE jobs SET state = 'done', finished_at = now(), locked_by = NULL,
                locked_until = NULL
         WHERE id = $1 AND locked_by = $2 AND state = 'running'",
        id.0,
        worker
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Records a failed attempt: the job runs again after `wait`, or is dead when that was its
/// last attempt or `permanent` (retrying cannot help).
pub async fn fail(
    pool: &PgPool,
    id: JobId,
    worker: &str,
    error: &str,
    wait: TimeDelta,
    permanent: bool,
) -> Result<()> {
    let mut tx = crate::begin(pool).await?;
    sqlx::query!(
        "UPDATE jobs
         SET state = CASE WHEN $5 OR attempts >= max_attempts THEN 'dead' ELSE 'queued' END,
             finished_at = CASE WHEN $5 OR attempts >= max_attempts THEN now() END,
             run_at = now() + make_interval(secs => $4),
             last_error = left($3, 2000), locked_by = NULL, locked_until = NULL
         WHERE id = $1 AND locked_by = $2 AND state = 'running'",
        id.0,
        worker,
        error,
        wait.as_seconds_f64(),
        permanent
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Gives a dead job a fresh set of attempts, now.
pub async fn revive(pool: &PgPool, id: JobId) -> Result<()> {
    let mut tx = crate::begin(pool).await?;
    let done = sqlx::query!(
        "UPDATE jobs SET state = 'queued', attempts = 0, run_at = now(), finished_at = NULL
         WHERE id = $1 AND state = 'dead'",
        id.0
    )
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("dead job"));
    }
    announce(&mut tx).await?;
    Ok(tx.commit().await?)
}

/// The newest jobs, optionally only those in `state`.
pub async fn list(pool: &PgPool, state: Option<&str>, limit: i64) -> Result<Vec<Job>> {
    let mut tx = crate::begin(pool).await?;
    let rows = sqlx::query!(
        r#"SELECT j.id, t.slug AS "slug?", j.kind, j.state, j.attempts, j.max_attempts, j.run_at,
                  j.last_error, j.created_at, j.finished_at
           FROM jobs j LEFT JOIN tenants t ON t.id = j.tenant_id
           WHERE $1::text IS NULL OR j.state = $1
           ORDER BY j.id DESC LIMIT $2"#,
        state,
        limit
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| Job {
            id: JobId(r.id),
            tenant: r.slug,
            kind: r.kind,
            state: r.state,
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            run_at: r.run_at,
            last_error: r.last_error,
            created_at: r.created_at,
            finished_at: r.finished_at,
        })
        .collect())
}

pub async fn counts(pool: &PgPool) -> Result<Counts> {
    let mut tx = crate::begin(pool).await?;
    let r = sqlx::query!(
        r#"SELECT count(*) FILTER (WHERE state = 'queued') AS "queued!",
                  count(*) FILTER (WHERE state = 'running') AS "running!",
                  count(*) FILTER (WHERE state = 'dead') AS "dead!"
           FROM jobs WHERE state <> 'done'"#
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Counts {
        queued: r.queued,
        running: r.running,
        dead: r.dead,
    })
}

/// Forgets finished jobs older than `keep` (dead ones are kept as long again, for the
/// console), in bounded batches so the table never locks for long.
pub async fn prune(pool: &PgPool, keep: TimeDelta) -> Result<u64> {
    let mut removed = 0;
    loop {
        let mut tx = crate::begin(pool).await?;
        let done = sqlx::query!(
            "DELETE FROM jobs WHERE id IN (
                 SELECT id FROM jobs
                 WHERE (state = 'done' AND finished_at < now() - make_interval(secs => $1))
                    OR (state = 'dead' AND finished_at < now() - make_interval(secs => $1 * 2))
                 LIMIT 1000)",
            keep.as_seconds_f64()
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        removed += done.rows_affected();
        if done.rows_affected() < 1000 {
            return Ok(removed);
        }
    }
}
