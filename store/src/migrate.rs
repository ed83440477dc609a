//! Schema migrations: `migrations/registry` on `public`, then `migrations/tenant` on every
//! tenant schema. One advisory lock covers the whole run (and tenant provisioning), so
//! several instances can start at once.

use sqlx::{migrate::Migrator, PgConnection, PgPool};

use crate::{tenants::TenantScope, Result};

/// Advisory lock key for migrations and provisioning ("devpulse" in ASCII).
pub const LOCK_KEY: i64 = 0x6465_7670_756c_7365;

pub static REGISTRY: Migrator = sqlx::migrate!("../migrations/registry");
pub static TENANT: Migrator = sqlx::migrate!("../migrations/tenant");

fn latest(m: &Migrator) -> i64 {
    m.iter().map(|m| m.version).max().unwrap_or(0)
}

pub fn registry_version() -> i64 {
    latest(&REGISTRY)
}

pub fn tenant_version() -> i64 {
    latest(&TENANT)
}

/// Months of `events` partitions kept ready beyond the current one.
pub const PARTITIONS_AHEAD: u32 = 2;

/// Hourly upkeep of every tenant schema: the coming months' `events` partitions (so a month
/// never begins without its partition) and expired idempotency keys. A tenant that fails is
/// logged and skipped, so it cannot hold up the others; the first failure is returned.
pub async fn maintain(pool: &PgPool) -> Result<()> {
    let mut tx = crate::begin(pool).await?;
    let schemas: Vec<String> = sqlx::query_scalar!("SELECT schema_name FROM tenants")
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    let mut first = None;
    for schema in schemas {
        // One transaction per tenant: creating a partition locks and moves rows.
        let done = async {
            let mut tx = pool.begin().await?;
            crate::events::ensure_partitions(&mut tx, &schema, PARTITIONS_AHEAD).await?;
            crate::idempotency::prune(&mut tx, &schema).await?;
            crate::gdpr::prune(&mut tx, &schema).await?;
            tx.commit().await?;
            Ok::<(), crate::Error>(())
        }
        .await;
        if let Err(e) = done {
            tracing::warn!(schema, error = %e, "tenant upkeep failed; will retry");
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
}

/// Brings the registry and every tenant schema up to date.
pub async fn run(pool: &PgPool) -> Result<()> {
    let mut conn = pool.acquire().await?;
    // The connection's search_path changes below; never hand it back to the pool.
    conn.close_on_drop();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *conn)
        .await?;
    let result = run_locked(&mut conn).await;
    // Unlocking also happens when the connection closes, e.g. after an error.
    let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *conn)
        .await;
    result
}

async fn run_locked(conn: &mut PgConnection) -> Result<()> {
    registry_unlocked().run_direct(conn).await?;
    let pending = sqlx::query!(
        "SELECT id, schema_name, role_name FROM tenants WHERE migrated_version < $1 ORDER BY slug",
        tenant_version()
    )
    .fetch_all(&mut *conn)
    .await?;
    for t in pending {
        let scope = TenantScope {
            id: crate::TenantId(t.id),
            schema: t.schema_name,
            role: t.role_name,
        };
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        tenant_schema(&mut tx, &scope).await?;
        tx.commit().await?;
        tracing::info!(schema = scope.schema, "migrated tenant schema");
    }
    Ok(())
}

/// Applies the tenant migrations to one schema. The caller holds the advisory lock and an
/// open transaction (migrations nest as savepoints), so a failure rolls the tenant back whole.
pub(crate) async fn tenant_schema(conn: &mut PgConnection, scope: &TenantScope) -> Result<()> {
    crate::ident::check(&scope.schema, "schema")?;
    crate::ident::check(&scope.role, "role")?;
    // Tenant migrations name no schema: they run with the tenant's schema first on the path,
    // and may read the tenant's role name (e.g. to make a table append-only for it).
    sqlx::query!(
        r#"SELECT set_config('search_path', $1, true) AS "path!",
                  set_config('devpulse.tenant_role', $2, true) AS "role!""#,
        scope.schema,
        scope.role
    )
    .fetch_one(&mut *conn)
    .await?;
    tenant_unlocked().run_direct(conn).await?;
    crate::events::ensure_partitions(conn, &scope.schema, PARTITIONS_AHEAD).await?;
    // The role's default privileges reach sqlx's bookkeeping table too; take them back.
    let revoke = format!(
        "REVOKE ALL ON TABLE {}._sqlx_migrations FROM {}",
        crate::ident::quote(&scope.schema),
        crate::ident::quote(&scope.role)
    );
    sqlx::query(&revoke).execute(&mut *conn).await?;
    sqlx::query!(
        "UPDATE public.tenants SET migrated_version = $2 WHERE id = $1",
        scope.id.0,
        tenant_version()
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(r#"SELECT set_config('search_path', '"$user", public', true) AS "path!""#)
        .fetch_one(&mut *conn)
        .await?;
    Ok(())
}

/// We hold our own lock; sqlx's own would be per database and redundant.
fn registry_unlocked() -> Migrator {
    let mut m = sqlx::migrate!("../migrations/registry");
    m.set_locking(false);
    m
}

fn tenant_unlocked() -> Migrator {
    let mut m = sqlx::migrate!("../migrations/tenant");
    m.set_locking(false);
    m
}
