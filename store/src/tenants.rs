//! The tenant registry (`public.tenants`) and the schema + role primitive.
//!
//! Every tenant owns a schema `tenant_<slug>` and a role that may use only that schema.
//! Provisioning runs in one transaction (PostgreSQL DDL, roles included, is transactional),
//! so a failure half-way leaves no schema, role or registry row behind.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{ident, migrate, Error, Result};

pub use types::TenantId;

/// A tenant's short name, `[a-z][a-z0-9_]{1,40}`; it names the schema and the role.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

impl Slug {
    pub fn parse(s: &str) -> Result<Self> {
        let mut chars = s.chars();
        let first = chars.next();
        let valid = first.is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && (2..=41).contains(&s.len());
        if valid {
            Ok(Slug(s.to_owned()))
        } else {
            Err(Error::Invalid {
                field: "slug",
                reason: "must be 2 to 41 characters: a lowercase letter, then lowercase letters, \
                         digits or underscores"
                    .into(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn schema_name(&self) -> String {
        format!("tenant_{}", self.0)
    }
}

impl TryFrom<String> for Slug {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Slug::parse(&s)
    }
}

impl From<Slug> for String {
    fn from(s: Slug) -> String {
        s.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    Active,
    Suspended,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tenant {
    pub id: TenantId,
    pub slug: Slug,
    pub name: String,
    pub plan: String,
    pub status: TenantStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    scope: TenantScope,
}

impl Tenant {
    /// What a [`crate::TenantTx`] needs to enter this tenant.
    pub fn scope(&self) -> &TenantScope {
        &self.scope
    }
}

/// The schema and role of one tenant, read from the registry. Only `store` can make one,
/// so a `TenantTx` can only ever enter a tenant that really exists.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TenantScope {
    pub(crate) id: TenantId,
    pub(crate) schema: String,
    pub(crate) role: String,
}

impl TenantScope {
    pub fn id(&self) -> TenantId {
        self.id
    }
    pub fn schema(&self) -> &str {
        &self.schema
    }
    pub fn role(&self) -> &str {
        &self.role
    }
}

struct TenantRow {
    id: Uuid,
    slug: String,
    name: String,
    schema_name: String,
    role_name: String,
    plan: String,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = Error;
    fn try_from(r: TenantRow) -> Result<Tenant> {
        let status = match r.status.as_str() {
            "active" => TenantStatus::Active,
            "suspended" => TenantStatus::Suspended,
            other => {
                return Err(Error::Invalid {
                    field: "status",
                    reason: format!("unknown tenant status {other:?}").into(),
                })
            }
        };
        Ok(Tenant {
            id: TenantId(r.id),
            slug: Slug::parse(&r.slug)?,
            name: r.name,
            plan: r.plan,
            status,
            created_at: r.created_at,
            updated_at: r.updated_at,
            scope: TenantScope {
                id: TenantId(r.id),
                schema: r.schema_name,
                role: r.role_name,
            },
        })
    }
}

pub async fn list(pool: &PgPool) -> Result<Vec<Tenant>> {
    let mut tx = crate::begin(pool).await?;
    let rows = sqlx::query_as!(
        TenantRow,
        "SELECT id, slug, name, schema_name, role_name, plan, status, created_at, updated_at
         FROM tenants ORDER BY slug"
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.into_iter().map(Tenant::try_from).collect()
}

/// The tenant `which` names, in a transaction of its own. Inside a transaction, use
/// [`find_in`] (or [`crate::Store::tenant_tx_of`], which also enters the tenant).
pub async fn find(pool: &PgPool, which: impl Into<Which<'_>>) -> Result<Tenant> {
    let mut tx = crate::begin(pool).await?;
    let found = find_in(&mut tx, which).await;
    tx.commit().await?;
    found
}

pub async fn find_by_slug(pool: &PgPool, slug: &Slug) -> Result<Tenant> {
    find(pool, slug).await
}

pub async fn find_by_id(pool: &PgPool, id: TenantId) -> Result<Tenant> {
    find(pool, id).await
}

/// How a caller names a tenant.
#[derive(Clone, Copy, Debug)]
pub enum Which<'a> {
    Id(TenantId),
    Slug(&'a Slug),
}

impl<'a> Which<'a> {
    /// The id or the slug, the other `None`: one statement serves both
    /// (`WHERE id = $1 OR slug = $2`).
    fn keys(self) -> (Option<Uuid>, Option<&'a str>) {
        match self {
            Which::Id(id) => (Some(id.0), None),
            Which::Slug(slug) => (None, Some(slug.as_str())),
        }
    }
}

impl From<TenantId> for Which<'_> {
    fn from(id: TenantId) -> Self {
        Which::Id(id)
    }
}

impl<'a> From<&'a Slug> for Which<'a> {
    fn from(slug: &'a Slug) -> Self {
        Which::Slug(slug)
    }
}

/// [`find_in`], and in the same statement [`crate::TenantTx`]'s settings for the tenant
/// found (with `reads`, those of [`crate::TenantTx::begin_reads`]): signing a request in
/// is BEGIN, this, the caller's row, COMMIT. Only the store's `tenant_tx_of` and
/// `read_tx_of` call it, and wrap the transaction at once.
pub(crate) async fn find_and_enter(
    conn: &mut PgConnection,
    which: impl Into<Which<'_>>,
    reads: bool,
) -> Result<Tenant> {
    let (id, slug) = which.into().keys();
    // The select list is worked out only for the row the WHERE keeps (id and slug are
    // unique, and one of the two is NULL), after the executor has checked this statement's
    // own privileges.
    let row = sqlx::query!(
        r#"SELECT id, slug, name, schema_name, role_name, plan, status, created_at, updated_at,
                  set_config('role', role_name, true) AS "role!",
                  set_config('search_path', schema_name, true) AS "path!",
                  CASE WHEN $3::bool
                        AND pg_size_bytes(current_setting('work_mem')) < pg_size_bytes($4)
                       THEN set_config('work_mem', $4, true) END AS "work_mem"
           FROM tenants WHERE id = $1 OR slug = $2"#,
        id,
        slug,
        reads,
        crate::tenant_tx::READ_WORK_MEM
    )
    .fetch_optional(conn)
    .await?
    .map(|r| TenantRow {
        id: r.id,
        slug: r.slug,
        name: r.name,
        schema_name: r.schema_name,
        role_name: r.role_name,
        plan: r.plan,
        status: r.status,
        created_at: r.created_at,
        updated_at: r.updated_at,
    });
    row.ok_or(Error::NotFound("tenant"))?.try_into()
}

/// [`find`] inside the caller's transaction.
pub async fn find_in(conn: &mut PgConnection, which: impl Into<Which<'_>>) -> Result<Tenant> {
    let (id, slug) = which.into().keys();
    sqlx::query_as!(
        TenantRow,
        "SELECT id, slug, name, schema_name, role_name, plan, status, created_at, updated_at
         FROM tenants WHERE id = $1 OR slug = $2",
        id,
        slug
    )
    .fetch_optional(conn)
    .await?
    .ok_or(Error::NotFound("tenant"))?
    .try_into()
}

/// Suspends or reactivates a tenant (a suspended tenant can neither log in nor ingest), and
/// records who did it in the registry's audit log.
pub async fn set_status(
    pool: &PgPool,
    actor: &crate::audit::Actor,
    slug: &Slug,
    status: TenantStatus,
) -> Result<Tenant> {
    let (status, action) = match status {
        TenantStatus::Active => ("active", "tenant.reactivated"),
        TenantStatus::Suspended => ("suspended", "tenant.suspended"),
    };
    let mut tx = crate::registry_tx(pool).await?;
    let tenant: Tenant = sqlx::query_as!(
        TenantRow,
        "UPDATE tenants SET status = $2, updated_at = now() WHERE slug = $1
         RETURNING id, slug, name, schema_name, role_name, plan, status, created_at, updated_at",
        slug.as_str(),
        status
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(Error::NotFound("tenant"))?
    .try_into()?;
    let details = serde_json::json!({});
    crate::audit::record(&mut tx, actor, action, Some(slug.as_str()), details).await?;
    tx.commit().await?;
    Ok(tenant)
}

/// Renames a workspace (the installation's console), recorded in the registry's audit log.
pub async fn rename(
    pool: &PgPool,
    actor: &crate::audit::Actor,
    slug: &Slug,
    name: &str,
) -> Result<Tenant> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::Invalid {
            field: "name",
            reason: "must be 1 to 200 characters".into(),
        });
    }
    let mut tx = crate::registry_tx(pool).await?;
    let old = find_in(&mut tx, slug).await?;
    let tenant: Tenant = sqlx::query_as!(
        TenantRow,
        "UPDATE tenants SET name = $2, updated_at = now() WHERE slug = $1
         RETURNING id, slug, name, schema_name, role_name, plan, status, created_at, updated_at",
        slug.as_str(),
        name
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(Error::NotFound("tenant"))?
    .try_into()?;
    if old.name != tenant.name {
        let details = serde_json::json!({ "from": old.name, "to": tenant.name });
        crate::audit::record(
            &mut tx,
            actor,
            "tenant.renamed",
            Some(slug.as_str()),
            details,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(tenant)
}

/// Renames the workspace whose [`crate::TenantTx`] `conn` is (its admin, from the settings
/// page), recorded in its audit log.
pub async fn rename_here(
    conn: &mut PgConnection,
    actor: &crate::audit::Actor,
    name: &str,
) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::Invalid {
            field: "name",
            reason: "must be 1 to 200 characters".into(),
        });
    }
    let role = crate::tenant_tx::step_out(conn).await?;
    let old = sqlx::query_scalar!(
        r#"UPDATE public.tenants t SET name = $2, updated_at = now()
           FROM public.tenants o WHERE o.id = t.id AND t.role_name = $1
           RETURNING o.name AS "old!""#,
        role,
        name
    )
    .fetch_optional(&mut *conn)
    .await?;
    crate::tenant_tx::step_back(conn, &role).await?;
    let old = old.ok_or(Error::NotFound("workspace of this transaction"))?;
    if old != name {
        let details = serde_json::json!({ "from": old, "to": name });
        crate::audit::record(conn, actor, "tenant.renamed", None, details).await?;
    }
    Ok(name.to_string())
}

/// The name of the workspace whose [`crate::TenantTx`] `conn` is.
pub async fn name_here(conn: &mut PgConnection) -> Result<String> {
    let role = crate::tenant_tx::step_out(conn).await?;
    let name = sqlx::query_scalar!("SELECT name FROM public.tenants WHERE role_name = $1", role)
        .fetch_optional(&mut *conn)
        .await?;
    crate::tenant_tx::step_back(conn, &role).await?;
    name.ok_or(Error::NotFound("workspace of this transaction"))
}

pub async fn count(pool: &PgPool) -> Result<i64> {
    let mut tx = crate::begin(pool).await?;
    let n = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM tenants"#)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(n)
}

/// Creates the registry row, the role, the schema, and applies the tenant migrations, all
/// in one transaction, and records who did it. A tenant without people; see [`provision`].
pub async fn create(
    pool: &PgPool,
    actor: &crate::audit::Actor,
    slug: &Slug,
    name: &str,
) -> Result<Tenant> {
    let mut tx = pool.begin().await?;
    let tenant = create_in(&mut tx, actor, slug, name).await?;
    tx.commit().await?;
    let (schema, role) = (tenant.scope.schema(), tenant.scope.role());
    tracing::info!(tenant = %tenant.slug, schema, role, "provisioned tenant");
    Ok(tenant)
}

/// How a new tenant's first admin gets in.
pub enum FirstAdmin<'a> {
    /// With this password, checked against the policy.
    Password(String),
    /// Through an invitation link that lets them set one, e-mailed through the `Post` when
    /// there is one.
    Invitation(Option<&'a crate::invitations::Post<'a>>),
}

pub struct Provisioned {
    pub tenant: Tenant,
    pub admin: crate::User,
    /// The invitation, for [`FirstAdmin::Invitation`].
    pub link: Option<crate::invitations::Issued>,
}

/// Creates the tenant and its first tenant admin in one transaction, so a failure half-way
/// (the admin's password refused, say) leaves neither behind. Both are recorded, the tenant
/// in the registry's audit log and the admin in the tenant's.
pub async fn provision(
    pool: &PgPool,
    actor: &crate::audit::Actor,
    slug: &Slug,
    name: &str,
    admin_email: &crate::Email,
    first: FirstAdmin<'_>,
) -> Result<Provisioned> {
    let mut tx = pool.begin().await?;
    let tenant = create_in(&mut tx, actor, slug, name).await?;
    let mut tx = crate::TenantTx::enter(tx, tenant.scope()).await?;
    let role = crate::Role::TenantAdmin;
    let (admin, link) = match first {
        FirstAdmin::Password(password) => {
            let admin = crate::accounts::create_with_password(
                &mut tx,
                actor,
                admin_email,
                "",
                role,
                password,
            )
            .await?;
            (admin, None)
        }
        FirstAdmin::Invitation(post) => {
            let (admin, link) =
                crate::invitations::invite(&mut tx, actor, slug, admin_email, "", role, post)
                    .await?;
            (admin, Some(link))
        }
    };
    tx.commit().await?;
    let (schema, role) = (tenant.scope.schema(), tenant.scope.role());
    tracing::info!(tenant = %tenant.slug, schema, role, "provisioned tenant");
    Ok(Provisioned {
        tenant,
        admin,
        link,
    })
}

async fn create_in(
    tx: &mut PgConnection,
    actor: &crate::audit::Actor,
    slug: &Slug,
    name: &str,
) -> Result<Tenant> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::Invalid {
            field: "name",
            reason: "must be 1 to 200 characters".into(),
        });
    }
    // Serialises with start-up migrations, so a tenant is never half-migrated.
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(migrate::LOCK_KEY)
        .execute(&mut *tx)
        .await?;
    let prefix = role_prefix(tx).await?;
    let schema = slug.schema_name();
    let role = format!("t{prefix}_{}", slug.as_str());
    ident::check(&schema, "slug")?;
    ident::check(&role, "slug")?;

    let row = sqlx::query_as!(
        TenantRow,
        "INSERT INTO tenants (slug, name, schema_name, role_name)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (slug) DO NOTHING
         RETURNING id, slug, name, schema_name, role_name, plan, status, created_at, updated_at",
        slug.as_str(),
        name,
        schema,
        role
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| Error::Conflict(format!("tenant {slug}").into()))?;

    let (s, r) = (ident::quote(&schema), ident::quote(&role));
    let ddl = [
        format!("CREATE ROLE {r} NOLOGIN NOINHERIT"),
        format!("GRANT {r} TO CURRENT_USER"),
        format!("CREATE SCHEMA {s}"),
        format!("GRANT USAGE ON SCHEMA {s} TO {r}"),
        format!(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {s} \
             GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {r}"
        ),
        format!("ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT USAGE, SELECT ON SEQUENCES TO {r}"),
    ];
    // One statement at a time through `query`: `raw_sql` futures are not `Send` (sqlx 0.8),
    // and this runs inside HTTP handlers.
    for statement in &ddl {
        sqlx::query(statement)
            .execute(&mut *tx)
            .await
            .map_err(|e| match e {
                sqlx::Error::Database(ref d) if d.code().as_deref() == Some("42710") => {
                    Error::Conflict(format!("role {role}").into())
                }
                sqlx::Error::Database(ref d) if d.code().as_deref() == Some("42P06") => {
                    Error::Conflict(format!("schema {schema}").into())
                }
                other => other.into(),
            })?;
    }
    let tenant = Tenant::try_from(row)?;
    migrate::tenant_schema(tx, tenant.scope()).await?;
    crate::on_registry(tx).await?;
    let details = serde_json::json!({ "name": tenant.name });
    crate::audit::record(tx, actor, "tenant.created", Some(slug.as_str()), details).await?;
    Ok(tenant)
}

/// Drops the schema, the role and the registry row, in one transaction, and records who did
/// it in the registry's audit log.
pub async fn delete(pool: &PgPool, actor: &crate::audit::Actor, slug: &Slug) -> Result<()> {
    let mut tx = crate::registry_tx(pool).await?;
    let tenant = find_in(&mut tx, slug).await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(migrate::LOCK_KEY)
        .execute(&mut *tx)
        .await?;
    let (s, r) = (
        ident::quote(&tenant.scope.schema),
        ident::quote(&tenant.scope.role),
    );
    for statement in [
        format!("DROP SCHEMA IF EXISTS {s} CASCADE"),
        format!("DROP OWNED BY {r}"),
        format!("DROP ROLE IF EXISTS {r}"),
    ] {
        sqlx::query(&statement).execute(&mut *tx).await?;
    }
    sqlx::query!("DELETE FROM tenants WHERE id = $1", tenant.id.0)
        .execute(&mut *tx)
        .await?;
    let details = serde_json::json!({});
    crate::audit::record(
        &mut tx,
        actor,
        "tenant.deleted",
        Some(slug.as_str()),
        details,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Roles are global to the cluster but tenants belong to one database, so role names carry a
/// short hash of the database name: two databases (one per test, say) never collide.
async fn role_prefix(conn: &mut PgConnection) -> Result<String> {
    Ok(
        sqlx::query_scalar!(r#"SELECT left(md5(current_database()), 8) AS "p!""#)
            .fetch_one(conn)
            .await?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_strict() {
        for ok in ["ab", "acme", "acme_2", "a1", &"a".repeat(41)] {
            assert!(Slug::parse(ok).is_ok(), "{ok} should be accepted");
        }
        for bad in [
            "",
            "a",
            "Acme",
            "1acme",
            "_acme",
            "acme-co",
            "acme\"; DROP SCHEMA public; --",
            "acme co",
            "acmé",
            &"a".repeat(42),
        ] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn schema_names_follow_the_slug() {
        assert_eq!(Slug::parse("acme").unwrap().schema_name(), "tenant_acme");
    }
}
