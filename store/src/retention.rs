//! Retention: a workspace's policy (see [`types::retention`]), what it would remove, and its
//! enforcement by the job runner.
//!
//! Enforcement never holds up ingestion. A month of raw events wholly past the policy goes
//! by dropping its partition, which needs a moment's exclusive lock on `events`; it waits at
//! most [`DROP_WAIT`] for it and otherwise deletes the month's rows instead. Everything else
//! is deleted in slices of [`SLICE_BLOCKS`] table blocks (a TID range scan, so no index on
//! time is needed and each slice is read once), one short transaction per slice. Every step
//! converges: a run that stops half-way is finished by the next.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    audit::Actor,
    events::partitions::{month_index, month_start},
    ident,
    tenants::TenantScope,
    Result, TenantTx,
};

pub use types::retention::{Cutoffs, LastRun, Outcome, Policy, Preview, Retention};

const POLICY: &str = "retention";
const LAST_RUN: &str = "retention_last_run";
/// The latest cutoff each run has applied, per kind: what is gone stays gone when a policy is
/// later made longer.
const APPLIED: &str = "retention_applied";
/// How long a partition drop waits for its lock before the month is deleted row by row.
const DROP_WAIT: &str = "500ms";
/// Table blocks (8 KiB each) one deleting transaction reads.
const SLICE_BLOCKS: i64 = 2048;

/// The rows derived one per raw event, with the column that dates them and whether they
/// carry the import batch that made them.
const DERIVED: [(&str, &str, bool); 4] = [
    ("tool_runs", "started_at", true),
    ("api_requests", "at", true),
    ("prompts", "at", true),
    ("counter_usage", "bucket", false),
];

/// The workspace's policy (keep everything until an admin sets one).
pub async fn policy(conn: &mut PgConnection) -> Result<Policy> {
    Ok(crate::settings::read(conn, POLICY)
        .await?
        .unwrap_or_default())
}

/// Before when each kind of data may be missing: the policy's cutoffs now, or the latest an
/// earlier (shorter) policy applied, whichever is later. Dashboards read coarser rollups
/// before these.
pub async fn horizons(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<Cutoffs> {
    let wanted = policy(conn).await?.cutoffs(now);
    let applied = applied(conn).await?;
    Ok(later(wanted, applied))
}

async fn applied(conn: &mut PgConnection) -> Result<Cutoffs> {
    Ok(crate::settings::read(conn, APPLIED)
        .await?
        .unwrap_or(Cutoffs {
            raw: None,
            minute: None,
            hour: None,
            day: None,
        }))
}

/// Each kind's later cutoff (`None`, nothing removed, is the earliest).
fn later(a: Cutoffs, b: Cutoffs) -> Cutoffs {
    Cutoffs {
        raw: a.raw.max(b.raw),
        minute: a.minute.max(b.minute),
        hour: a.hour.max(b.hour),
        day: a.day.max(b.day),
    }
}

/// The policy and what its last enforcement removed.
pub async fn get(conn: &mut PgConnection) -> Result<Retention> {
    Ok(Retention {
        policy: policy(conn).await?,
        last_run: crate::settings::read(conn, LAST_RUN).await?,
    })
}

/// Sets the policy, recorded in the audit log with the one it replaces; it takes effect at
/// the next daily run. A policy that keeps anything less long than now is refused until
/// `confirmed`, naming what it would remove (the console shows the [`preview`] first).
pub async fn set(
    conn: &mut PgConnection,
    actor: &Actor,
    new: Policy,
    confirmed: bool,
) -> Result<Policy> {
    new.check()?;
    let old = policy(conn).await?;
    if old == new {
        return Ok(new);
    }
    if new.shortens(&old) && !confirmed {
        let p = preview(conn, &new, Utc::now()).await?;
        return Err(crate::Error::Invalid {
            field: "confirm",
            reason: format!(
                "Confirm to keep data less long: today this policy removes {} raw events, {} rows made from them and {} rollup rows",
                p.raw_events,
                p.derived_rows,
                p.minute_rollups + p.hour_rollups + p.day_rollups
            )
            .into(),
        });
    }
    crate::settings::write(&mut *conn, POLICY, &new).await?;
    let details = serde_json::json!({
        "from": old.describe(),
        "to": new.describe(),
        "shortened": new.shortens(&old),
    });
    crate::audit::record(conn, actor, "settings.retention", None, details).await?;
    Ok(new)
}

/// What `policy` would remove if it ran at `now`: exact counts, read in the caller's tenant
/// transaction (a scan of the months concerned; seconds on very large workspaces).
pub async fn preview(
    conn: &mut PgConnection,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Preview> {
    policy.check()?;
    let c = policy.cutoffs(now);
    let mut p = Preview {
        cutoffs: Some(c),
        ..Preview::default()
    };
    if let Some(raw) = c.raw {
        p.raw_events = sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!" FROM events WHERE occurred_at < $1"#,
            raw
        )
        .fetch_one(&mut *conn)
        .await?;
        p.derived_rows = sqlx::query_scalar!(
            r#"SELECT (SELECT count(*) FROM tool_runs WHERE started_at < $1)
                    + (SELECT count(*) FROM api_requests WHERE at < $1)
                    + (SELECT count(*) FROM prompts WHERE at < $1)
                    + (SELECT count(*) FROM counter_usage WHERE bucket < $1) AS "n!""#,
            raw
        )
        .fetch_one(&mut *conn)
        .await?;
        p.import_batches = sqlx::query_scalar!(
            r#"SELECT count(*) AS "n!" FROM import_batches b
               WHERE b.rolled_back_at IS NULL AND b.trimmed_at IS NULL
                 AND (EXISTS (SELECT 1 FROM events e WHERE e.import_batch = b.id AND e.occurred_at < $1)
                      OR EXISTS (SELECT 1 FROM tool_runs t WHERE t.import_batch = b.id AND t.started_at < $1))"#,
            raw
        )
        .fetch_one(&mut *conn)
        .await?;
    }
    for (grain, cutoff, slot) in [
        ("m", c.minute, &mut p.minute_rollups),
        ("h", c.hour, &mut p.hour_rollups),
        ("d", c.day, &mut p.day_rollups),
    ] {
        if let Some(cutoff) = cutoff {
            *slot = sqlx::query_scalar!(
                r#"SELECT count(*) AS "n!" FROM rollups WHERE grain = $1::text::"char" AND bucket < $2"#,
                grain,
                cutoff
            )
            .fetch_one(&mut *conn)
            .await?;
        }
    }
    Ok(p)
}

/// Applies the workspace's policy as of `now`; records what went (in the settings and, when
/// anything went, the audit log).
pub async fn enforce(pool: &PgPool, scope: &TenantScope, now: DateTime<Utc>) -> Result<Outcome> {
    let policy = {
        let mut tx = TenantTx::begin(pool, scope).await?;
        let p = policy(&mut tx).await?;
        tx.commit().await?;
        p
    };
    let mut out = Outcome::default();
    if policy.forever() {
        return Ok(out);
    }
    let c = policy.cutoffs(now);
    let mut trimmed = BTreeSet::new();
    if let Some(raw) = c.raw {
        raw_events(pool, scope, raw, now, &mut out, &mut trimmed).await?;
        for (table, column, batched) in DERIVED {
            let gone =
                delete_older(pool, scope, table, column, "", raw, batched, &mut trimmed).await?;
            out.derived_rows += gone;
        }
    }
    for (grain, cutoff, slot) in [
        ('m', c.minute, &mut out.minute_rollups),
        ('h', c.hour, &mut out.hour_rollups),
        ('d', c.day, &mut out.day_rollups),
    ] {
        if let Some(cutoff) = cutoff {
            let only = format!("AND grain = '{grain}'");
            *slot = delete_older(
                pool,
                scope,
                "rollups",
                "bucket",
                &only,
                cutoff,
                false,
                &mut trimmed,
            )
            .await?;
        }
    }
    out.import_batches_trimmed = trimmed.len() as i64;

    let mut tx = TenantTx::begin(pool, scope).await?;
    let reached = later(applied(&mut tx).await?, c);
    crate::settings::write(&mut tx, APPLIED, &reached).await?;
    let last = LastRun {
        at: now,
        outcome: out.clone(),
    };
    crate::settings::write(&mut tx, LAST_RUN, &last).await?;
    if out.removed_anything() {
        let details = serde_json::json!({ "policy": policy.describe(), "removed": out });
        crate::audit::record(
            &mut tx,
            &Actor::system(),
            "retention.enforced",
            None,
            details,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(out)
}

/// Raw events before `cutoff`: whole months by dropping their partition, the rest (the month
/// the cutoff falls in, and the default partition) row by row.
async fn raw_events(
    pool: &PgPool,
    scope: &TenantScope,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
    out: &mut Outcome,
    trimmed: &mut BTreeSet<Uuid>,
) -> Result<()> {
    for (name, bounds) in partitions(pool, scope.schema()).await? {
        let whole = match bounds {
            Some((from, _)) if from >= cutoff => continue,
            // Never last month's or a later one: upkeep would only make it again.
            Some((from, to)) => to <= cutoff && month_index(from) < month_index(now) - 1,
            None => false,
        };
        if whole {
            if let Some(n) = drop_partition(pool, scope, &name, trimmed).await? {
                out.raw_events += n;
                out.partitions_dropped.push(name);
                continue;
            }
        }
        out.raw_events +=
            delete_older(pool, scope, &name, "occurred_at", "", cutoff, true, trimmed).await?;
    }
    Ok(())
}

/// The partitions of `events` with their bounds (`None` for the default partition), known by
/// the names [`crate::events::partitions`] gives them (`events_YYYYMM`).
async fn partitions(
    pool: &PgPool,
    schema: &str,
) -> Result<Vec<(String, Option<(DateTime<Utc>, DateTime<Utc>)>)>> {
    ident::check(schema, "schema")?;
    let mut tx = crate::begin(pool).await?;
    let rows = sqlx::query!(
        r#"SELECT c.relname AS "name!", pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' AS "default!"
           FROM pg_inherits i
           JOIN pg_class c ON c.oid = i.inhrelid
           JOIN pg_class p ON p.oid = i.inhparent
           JOIN pg_namespace n ON n.oid = p.relnamespace
           WHERE n.nspname = $1 AND p.relname = 'events'
           ORDER BY c.relname"#,
        schema
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut out = Vec::new();
    for r in rows {
        ident::check(&r.name, "partition")?;
        let month = r
            .name
            .strip_prefix("events_")
            .filter(|m| m.len() == 6)
            .and_then(|m| Some(m[..4].parse::<i32>().ok()? * 12 + m[4..].parse::<i32>().ok()? - 1));
        match (r.default, month) {
            (true, _) => out.push((r.name, None)),
            (false, Some(m)) => out.push((r.name, Some((month_start(m), month_start(m + 1))))),
            (false, None) => {
                tracing::warn!(
                    partition = r.name,
                    "a partition not named by month; left alone"
                )
            }
        }
    }
    Ok(out)
}

/// Drops a partition whose every row is past the policy, marking the import batches it held.
/// `None` when the lock did not come within [`DROP_WAIT`] (ingestion was busy; the caller
/// deletes the rows instead).
async fn drop_partition(
    pool: &PgPool,
    scope: &TenantScope,
    name: &str,
    trimmed: &mut BTreeSet<Uuid>,
) -> Result<Option<i64>> {
    let (s, p) = (ident::quote(scope.schema()), ident::quote(name));
    // Counted and its import batches marked before the lock, so ingestion never waits on
    // either: the batches lose these rows whether the drop or the row-by-row fallback takes
    // them. A partition this old only changes by an import of old history, which then
    // counts as kept (and goes on the next run).
    let mut tx = crate::begin(pool).await?;
    let rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {s}.{p}"))
        .fetch_one(&mut *tx)
        .await?;
    let batches: Vec<Uuid> = sqlx::query_scalar(&format!(
        "SELECT DISTINCT import_batch FROM {s}.{p} WHERE import_batch IS NOT NULL"
    ))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut tx = pool.begin().await?;
    mark_trimmed(&mut tx, scope.schema(), &batches).await?;
    tx.commit().await?;
    trimmed.extend(batches);
    // The lock is held for the drop alone.
    let mut tx = pool.begin().await?;
    sqlx::query(&format!("SET LOCAL lock_timeout = '{DROP_WAIT}'"))
        .execute(&mut *tx)
        .await?;
    let dropped = async {
        sqlx::query(&format!("LOCK TABLE {s}.events IN ACCESS EXCLUSIVE MODE"))
            .execute(&mut *tx)
            .await?;
        sqlx::query(&format!("DROP TABLE {s}.{p}"))
            .execute(&mut *tx)
            .await
    }
    .await;
    match dropped {
        Ok(_) => tx.commit().await?,
        // lock_not_available
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("55P03") => {
            tracing::info!(
                schema = scope.schema(),
                partition = name,
                "events busy; deleting the month's rows instead"
            );
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(
        schema = scope.schema(),
        partition = name,
        rows,
        "dropped a month of raw events"
    );
    Ok(Some(rows))
}

/// Deletes the rows of `table` whose `column` is before `cutoff` (and that match `only`), a
/// slice of the table's blocks per transaction; marks the import batches of what went when
/// `batched`. Answers how many rows went.
#[allow(clippy::too_many_arguments)]
async fn delete_older(
    pool: &PgPool,
    scope: &TenantScope,
    table: &str,
    column: &str,
    only: &str,
    cutoff: DateTime<Utc>,
    batched: bool,
    trimmed: &mut BTreeSet<Uuid>,
) -> Result<i64> {
    ident::check(table, "table")?;
    let mut tx = crate::begin(pool).await?;
    let blocks: i64 = sqlx::query_scalar(
        "SELECT pg_relation_size(format('%I.%I', $1::text, $2::text)::regclass)
                / current_setting('block_size')::int8",
    )
    .bind(scope.schema())
    .bind(table)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let returning = if batched {
        "import_batch"
    } else {
        "NULL::uuid"
    };
    let sql = format!(
        "WITH gone AS (
             DELETE FROM {t} WHERE ctid >= $1::text::tid AND ctid < $2::text::tid
                              AND {column} < $3 {only}
             RETURNING {returning} AS import_batch)
         SELECT import_batch FROM gone",
        t = ident::quote(table)
    );
    let mut gone = 0i64;
    let mut start = 0i64;
    // Rows added while this runs are newer than the cutoff, or an old import's, which the
    // next run takes.
    while start < blocks {
        let end = start + SLICE_BLOCKS;
        let mut tx = TenantTx::begin(pool, scope).await?;
        let batches: Vec<Option<Uuid>> = sqlx::query_scalar(&sql)
            .bind(format!("({start},0)"))
            .bind(format!("({end},0)"))
            .bind(cutoff)
            .fetch_all(&mut *tx)
            .await?;
        gone += batches.len() as i64;
        let batches: BTreeSet<Uuid> = batches.into_iter().flatten().collect();
        if !batches.is_empty() {
            let ids: Vec<Uuid> = batches.iter().copied().collect();
            sqlx::query!(
                "UPDATE import_batches SET trimmed_at = coalesce(trimmed_at, now()) WHERE id = ANY($1)",
                &ids
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        trimmed.extend(batches);
        start = end;
    }
    Ok(gone)
}

async fn mark_trimmed(conn: &mut PgConnection, schema: &str, ids: &[Uuid]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(&format!(
        "UPDATE {}.import_batches SET trimmed_at = coalesce(trimmed_at, now()) WHERE id = ANY($1)",
        ident::quote(schema)
    ))
    .bind(ids)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Applies every workspace's policy; one workspace's failure leaves the others to finish and
/// is answered at the end (the job then retries, converging).
pub async fn enforce_all(pool: &PgPool, now: DateTime<Utc>) -> Result<()> {
    let mut first = None;
    for tenant in crate::tenants::list(pool).await? {
        match enforce(pool, tenant.scope(), now).await {
            Ok(out) if out.removed_anything() => {
                tracing::info!(tenant = tenant.slug.as_str(), ?out, "retention applied")
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(tenant = tenant.slug.as_str(), error = %e, "retention failed; will retry");
                first.get_or_insert(e);
            }
        }
    }
    first.map_or(Ok(()), Err)
}
