//! Support access: a super admin reads one workspace's dashboards, read-only, for a stated
//! reason and at most an hour, one workspace at a time. The grant lives in the registry; its
//! start, and its end when someone ends it, are also written to the workspace's own audit log
//! in the same transaction, where its admins see them. One that runs out is simply refused
//! from then on (its expiry is in the start entry).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    audit::{self, Actor},
    tenants, Error, Result, Slug, TenantStatus, TenantTx, UserId,
};

pub use types::system::{SupportGrant, SUPPORT_MAX_MINUTES, SUPPORT_MIN_MINUTES};

/// Opens a support access to `slug` for `minutes`, for the super admin `user`.
pub async fn begin(
    pool: &PgPool,
    actor: &Actor,
    user: UserId,
    slug: &Slug,
    reason: &str,
    minutes: i64,
) -> Result<SupportGrant> {
    let reason = reason.trim();
    if !(10..=500).contains(&reason.chars().count()) {
        return Err(Error::Invalid {
            field: "reason",
            reason: "say why, in 10 to 500 characters: the workspace's admins read it".into(),
        });
    }
    if !(SUPPORT_MIN_MINUTES..=SUPPORT_MAX_MINUTES).contains(&minutes) {
        return Err(Error::Invalid {
            field: "minutes",
            reason: format!("must be {SUPPORT_MIN_MINUTES} to {SUPPORT_MAX_MINUTES} minutes")
                .into(),
        });
    }
    let tenant = tenants::find_by_slug(pool, slug).await?;
    if tenant.status != TenantStatus::Active {
        return Err(Error::Conflict(
            "a suspended workspace cannot be opened; reactivate it first".into(),
        ));
    }
    // One access at a time: a browser holds one, and an earlier token must not outlive it.
    let mut tx = crate::begin(pool).await?;
    let earlier = open_of(&mut tx, user).await?;
    tx.commit().await?;
    for earlier in earlier {
        end(pool, actor, earlier, user).await?;
    }
    let mut tx = crate::registry_tx(pool).await?;
    let row = sqlx::query!(
        r#"INSERT INTO public.support_grants (tenant_id, user_id, reason, expires_at)
           VALUES ($1, $2, $3, now() + make_interval(mins => $4::int))
           RETURNING id, created_at, expires_at,
                     (SELECT email FROM public.users WHERE id = $2) AS "by!""#,
        tenant.id.0,
        user.0,
        reason,
        minutes as i32
    )
    .fetch_one(&mut *tx)
    .await?;
    let grant = SupportGrant {
        id: row.id,
        tenant: slug.to_string(),
        by: row.by,
        reason: reason.to_string(),
        created_at: row.created_at,
        expires_at: row.expires_at,
        ended_at: None,
    };
    let details = serde_json::json!({
        "grant": grant.id, "reason": grant.reason, "expires_at": grant.expires_at,
        "read_only": true,
    });
    let target = grant.id.to_string();
    audit::record(
        &mut tx,
        actor,
        "support.started",
        Some(slug.as_str()),
        details.clone(),
    )
    .await?;
    let mut tx = TenantTx::enter(tx, tenant.scope()).await?;
    audit::record(&mut tx, actor, "support.started", Some(&target), details).await?;
    tx.commit().await?;
    Ok(grant)
}

/// The grant `id` of `user` to `tenant`, while it is open (not ended, not expired).
pub async fn open(
    pool: &PgPool,
    id: Uuid,
    user: UserId,
    tenant: crate::TenantId,
) -> Result<Option<SupportGrant>> {
    let mut tx = crate::begin(pool).await?;
    let open = sqlx::query_scalar!(
        r#"SELECT id FROM public.support_grants
           WHERE id = $1 AND user_id = $2 AND tenant_id = $3
             AND ended_at IS NULL AND expires_at > now()"#,
        id,
        user.0,
        tenant.0
    )
    .fetch_optional(&mut *tx)
    .await?;
    let found = match open {
        Some(id) => grant(&mut tx, id).await?,
        None => None,
    };
    tx.commit().await?;
    Ok(found)
}

/// The grants of `user` still open.
async fn open_of(conn: &mut PgConnection, user: UserId) -> Result<Vec<Uuid>> {
    Ok(sqlx::query_scalar!(
        "SELECT id FROM public.support_grants
         WHERE user_id = $1 AND ended_at IS NULL AND expires_at > now()",
        user.0
    )
    .fetch_all(conn)
    .await?)
}

/// Ends the grant `id` of `user` now, recorded in its workspace's audit log; an ended or
/// expired one is left as it is (`None`).
pub async fn end(
    pool: &PgPool,
    actor: &Actor,
    id: Uuid,
    user: UserId,
) -> Result<Option<SupportGrant>> {
    let mut tx = crate::registry_tx(pool).await?;
    let Some(row) = sqlx::query!(
        r#"UPDATE public.support_grants SET ended_at = now()
           WHERE id = $1 AND user_id = $2 AND ended_at IS NULL AND expires_at > now()
           RETURNING tenant_id"#,
        id,
        user.0
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(None);
    };
    let tenant = tenants::find_in(&mut tx, crate::TenantId(row.tenant_id)).await?;
    let target = id.to_string();
    let details = serde_json::json!({ "grant": id });
    audit::record(
        &mut tx,
        actor,
        "support.ended",
        Some(tenant.slug.as_str()),
        details.clone(),
    )
    .await?;
    // Read while still on the registry: the tenant's role may not see the grants.
    let ended = grant(&mut tx, id).await?;
    let mut tx = TenantTx::enter(tx, tenant.scope()).await?;
    audit::record(&mut tx, actor, "support.ended", Some(&target), details).await?;
    tx.commit().await?;
    Ok(ended)
}

/// The newest grants of the installation, open ones first.
pub async fn list(pool: &PgPool, limit: i64) -> Result<Vec<SupportGrant>> {
    let mut tx = crate::begin(pool).await?;
    let grants = select(&mut tx, None, limit).await?;
    tx.commit().await?;
    Ok(grants)
}

async fn grant(conn: &mut PgConnection, id: Uuid) -> Result<Option<SupportGrant>> {
    Ok(select(conn, Some(id), 1).await?.pop())
}

async fn select(
    conn: &mut PgConnection,
    id: Option<Uuid>,
    limit: i64,
) -> Result<Vec<SupportGrant>> {
    Ok(sqlx::query_as!(
        GrantRow,
        r#"SELECT g.id, t.slug AS tenant, u.email AS by, g.reason, g.created_at, g.expires_at,
                  g.ended_at
           FROM public.support_grants g JOIN public.tenants t ON t.id = g.tenant_id
           JOIN public.users u ON u.id = g.user_id
           WHERE $1::uuid IS NULL OR g.id = $1
           ORDER BY (g.ended_at IS NULL AND g.expires_at > now()) DESC, g.created_at DESC
           LIMIT $2"#,
        id,
        limit
    )
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(Into::into)
    .collect())
}

struct GrantRow {
    id: Uuid,
    tenant: String,
    by: String,
    reason: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
}

impl From<GrantRow> for SupportGrant {
    fn from(r: GrantRow) -> Self {
        SupportGrant {
            id: r.id,
            tenant: r.tenant,
            by: r.by,
            reason: r.reason,
            created_at: r.created_at,
            expires_at: r.expires_at,
            ended_at: r.ended_at,
        }
    }
}
