//! What the installation's console reads: each workspace's size and activity (read inside
//! that workspace's own transaction, as everything tenant-scoped is), and the database's
//! health.

use std::{collections::HashMap, time::Instant};

use futures::{stream, StreamExt};
use sqlx::PgPool;
use types::system::{Database, ReadReplica, Replica, Schemas, TenantSummary};

use crate::{migrate, tenants, Result, Store, TenantStatus};

/// Workspaces read at once: each is a short transaction of its own.
const CONCURRENT: usize = 4;

/// Every workspace with its people, recent events, storage and last activity, by slug. A
/// workspace that cannot be read just now is listed without its counts (and logged), so one
/// broken schema does not hide the others.
pub async fn tenants(store: &Store) -> Result<Vec<TenantSummary>> {
    let list = tenants::list(store.pool()).await?;
    let sizes: HashMap<String, i64> = schema_sizes(store.pool()).await?.into_iter().collect();
    let versions: HashMap<String, i64> = versions(store.pool()).await?.into_iter().collect();
    Ok(stream::iter(list)
        .map(|t| {
            let size = sizes.get(t.scope().schema()).copied().unwrap_or(0);
            let version = versions.get(t.slug.as_str()).copied().unwrap_or(0);
            summary(store, t, size, version)
        })
        .buffered(CONCURRENT)
        .collect()
        .await)
}

async fn summary(
    store: &Store,
    t: tenants::Tenant,
    storage_bytes: i64,
    migrated_version: i64,
) -> TenantSummary {
    let counts = counts(store, &t).await.unwrap_or_else(|e| {
        tracing::warn!(tenant = %t.slug, error = %e, "reading a workspace's counts failed");
        (None, None, None)
    });
    TenantSummary {
        slug: t.slug.to_string(),
        name: t.name,
        plan: t.plan,
        status: match t.status {
            TenantStatus::Active => "active".into(),
            TenantStatus::Suspended => "suspended".into(),
        },
        created_at: t.created_at,
        migrated_version,
        people: counts.0,
        events_24h: counts.1,
        storage_bytes,
        last_activity: counts.2,
    }
}

type Counts = (
    Option<i64>,
    Option<i64>,
    Option<chrono::DateTime<chrono::Utc>>,
);

async fn counts(store: &Store, t: &tenants::Tenant) -> Result<Counts> {
    let mut tx = store.tenant_tx(t.scope()).await?;
    // Events are filed by when they happened; a laptop's clock a little ahead still counts.
    let row = sqlx::query!(
        r#"SELECT (SELECT count(*) FROM users WHERE status = 'active' AND erased_at IS NULL)
                    AS "people!",
                  (SELECT count(*) FROM events WHERE occurred_at > now() - interval '1 day'
                                                 AND occurred_at <= now() + interval '1 hour')
                    AS "events!",
                  (SELECT max(last_seen_at) FROM sessions) AS last_activity"#
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((Some(row.people), Some(row.events), row.last_activity))
}

/// Bytes on disk per schema: what `pg_class` knows, which needs no access to the tables.
async fn schema_sizes(pool: &PgPool) -> Result<Vec<(String, i64)>> {
    let mut tx = crate::begin(pool).await?;
    let rows = sqlx::query!(
        r#"SELECT n.nspname AS "schema!",
                  coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS "bytes!"
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN tenants t ON t.schema_name = n.nspname
           WHERE c.relkind IN ('r', 'm')
           GROUP BY n.nspname"#
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(|r| (r.schema, r.bytes)).collect())
}

async fn versions(pool: &PgPool) -> Result<Vec<(String, i64)>> {
    let mut tx = crate::begin(pool).await?;
    let rows = sqlx::query!("SELECT slug, migrated_version FROM tenants ORDER BY slug")
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.slug, r.migrated_version))
        .collect())
}

/// The registry's migration, what this build expects, and the workspaces not there yet.
pub async fn schemas(pool: &PgPool) -> Result<Schemas> {
    let mut tx = crate::begin(pool).await?;
    let registry_version = sqlx::query_scalar!(
        r#"SELECT coalesce(max(version), 0) AS "v!" FROM _sqlx_migrations WHERE success"#
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let all = versions(pool).await?;
    let tenant_expected = migrate::tenant_version();
    Ok(Schemas {
        registry_version,
        registry_expected: migrate::registry_version(),
        tenant_expected,
        tenants: all.len() as i64,
        behind: all
            .into_iter()
            .filter(|(_, v)| *v != tenant_expected)
            .collect(),
    })
}

/// The database as one instance sees it; `mode` says who runs it.
pub async fn database(store: &Store, mode: &str) -> Result<Database> {
    let pool = store.pool();
    let started = Instant::now();
    let mut tx = crate::begin(pool).await?;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let row = sqlx::query!(
        r#"SELECT current_setting('server_version') AS "version!",
                  pg_database_size(current_database()) AS "size!",
                  (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database())
                    AS "connections!",
                  current_setting('max_connections')::bigint AS "max_connections!",
                  pg_is_in_recovery() AS "in_recovery!""#
    )
    .fetch_one(&mut *tx)
    .await?;
    // Only a primary has a WAL position to measure replicas against.
    let replicas = if row.in_recovery {
        Vec::new()
    } else {
        sqlx::query!(
            r#"SELECT coalesce(application_name, '') AS "name!", coalesce(state, '') AS "state!",
                      pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS lag
               FROM pg_stat_replication ORDER BY application_name"#
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| Replica {
            name: r.name,
            state: r.state,
            lag_bytes: r.lag,
        })
        .collect()
    };
    tx.commit().await?;
    Ok(Database {
        version: row.version,
        mode: mode.to_string(),
        size_bytes: row.size,
        connections: row.connections,
        max_connections: row.max_connections,
        pool_size: pool.size(),
        pool_idle: pool.num_idle() as u32,
        in_recovery: row.in_recovery,
        replicas,
        read_replica: store.replica().map(|r| {
            let st = r.status();
            ReadReplica {
                up: st.up,
                staleness_ms: st.staleness.map(|d| d.as_millis() as u64),
                max_lag_ms: st.max_lag.as_millis() as u64,
                error: st.error,
                replica_reads: st.replica_reads,
                primary_reads: st.primary_reads,
            }
        }),
        latency_ms,
    })
}
