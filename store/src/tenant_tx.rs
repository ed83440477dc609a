use std::{
    ops::{Deref, DerefMut},
    time::Instant,
};

use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::{ident, tenants::TenantScope, Result};

/// The sort and hash memory of [`TenantTx::begin_reads`].
pub(crate) const READ_WORK_MEM: &str = "32MB";

/// The only way to run tenant-scoped SQL.
///
/// A transaction that has switched to the tenant's role (`SET LOCAL ROLE`) and put the
/// tenant's schema alone on the `search_path`. Unqualified table names resolve to the
/// tenant's tables, and PostgreSQL itself refuses any other tenant's schema, so a missing
/// `WHERE` cannot leak data across tenants. Both settings are transaction-local: the
/// connection goes back to the pool clean.
pub struct TenantTx {
    tx: Transaction<'static, Postgres>,
    scope: TenantScope,
    /// `Some(t)`: on a replica holding every commit made before `t`; `None`: the primary.
    as_of: Option<Instant>,
    /// Where [`crate::Store::read_tx`] opened it, with a replica configured.
    served: Option<crate::replica::Served>,
    /// Opened with the settings of [`TenantTx::begin_reads`].
    reads: bool,
}

impl TenantTx {
    pub async fn begin(pool: &PgPool, scope: &TenantScope) -> Result<Self> {
        Self::enter_for(crate::begin(pool).await?, scope, false).await
    }

    /// A transaction for the dashboard's reads, which group tens of thousands of rollup
    /// rows: PostgreSQL's default 4 MB of sort and hash memory sends those groupings to
    /// disk (a third of a month's overview). Raised for this transaction only, and never
    /// lowered where the database already allows more.
    pub(crate) async fn begin_reads(pool: &PgPool, scope: &TenantScope) -> Result<Self> {
        Self::enter_for(crate::begin(pool).await?, scope, true).await
    }

    /// Enters the tenant inside a transaction that has already done registry work, so both
    /// commit or neither does (provisioning a tenant with its first admin).
    pub(crate) async fn enter(
        tx: Transaction<'static, Postgres>,
        scope: &TenantScope,
    ) -> Result<Self> {
        Self::enter_for(tx, scope, false).await
    }

    /// Wraps a transaction whose last statement entered `scope` already
    /// ([`crate::tenants::find_and_enter`]). The names are checked as [`TenantTx::enter`]
    /// checks them; on a bad one the transaction is dropped, rolling its settings back.
    pub(crate) fn entered(
        tx: Transaction<'static, Postgres>,
        scope: &TenantScope,
        reads: bool,
    ) -> Result<Self> {
        ident::check(&scope.role, "role")?;
        ident::check(&scope.schema, "schema")?;
        Ok(TenantTx {
            tx,
            scope: scope.clone(),
            as_of: None,
            served: None,
            reads,
        })
    }

    async fn enter_for(
        mut tx: Transaction<'static, Postgres>,
        scope: &TenantScope,
        reads: bool,
    ) -> Result<Self> {
        // The scope came from the registry, but check again (it names a role and a schema).
        ident::check(&scope.role, "role")?;
        ident::check(&scope.schema, "schema")?;
        // One round trip: `set_config('role', …, true)` is `SET LOCAL ROLE` (the same
        // setting, with the same membership check, undone with the transaction); nothing
        // else set here depends on the role.
        sqlx::query!(
            r#"SELECT set_config('role', $1, true) AS "role!",
                      set_config('search_path', $2, true) AS "path!",
                      CASE WHEN $3::bool
                            AND pg_size_bytes(current_setting('work_mem')) < pg_size_bytes($4)
                           THEN set_config('work_mem', $4, true) END AS "work_mem""#,
            scope.role,
            scope.schema,
            reads,
            READ_WORK_MEM
        )
        .fetch_one(&mut *tx)
        .await?;
        Self::entered(tx, scope, reads)
    }

    /// Opened on the replica, whose data is as of `as_of`, `age` old when it opened.
    pub(crate) fn read_as_of(self, as_of: Instant, age: std::time::Duration) -> Self {
        TenantTx {
            as_of: Some(as_of),
            served: Some(crate::replica::Served::Replica(age)),
            ..self
        }
    }

    /// Opened on the primary although a replica is configured.
    pub(crate) fn read_on_primary(self) -> Self {
        TenantTx {
            served: Some(crate::replica::Served::Primary),
            ..self
        }
    }

    /// Where this read transaction was served, when a replica is configured (`None`:
    /// there is none, or this is not a read transaction); what `x-devpulse-read` states.
    pub fn served(&self) -> Option<crate::replica::Served> {
        self.served
    }

    /// `None` on the primary, which sees every commit; on a replica, the instant before
    /// which it holds every commit (see [`crate::replica`]).
    pub fn as_of(&self) -> Option<Instant> {
        self.as_of
    }

    pub fn scope(&self) -> &TenantScope {
        &self.scope
    }

    /// Opened for the dashboard's reads on the primary ([`crate::Store::read_tx_of`]).
    pub(crate) fn reads_on_primary(&self) -> bool {
        self.reads && self.as_of.is_none() && self.served.is_none()
    }

    pub async fn commit(self) -> Result<()> {
        Ok(self.tx.commit().await?)
    }

    pub async fn rollback(self) -> Result<()> {
        Ok(self.tx.rollback().await?)
    }
}

impl Deref for TenantTx {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.tx
    }
}

impl DerefMut for TenantTx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}

/// Leaves the tenant's role inside its transaction, for one registry statement about this
/// same tenant (the tenant's role may not touch the registry). Answers the role, which
/// names the tenant (never one the caller picks); [`step_back`] re-enters it.
pub(crate) async fn step_out(conn: &mut PgConnection) -> Result<String> {
    let role = sqlx::query_scalar!(r#"SELECT current_user::text AS "role!""#)
        .fetch_one(&mut *conn)
        .await?;
    ident::check(&role, "role")?;
    sqlx::query("SET LOCAL ROLE NONE")
        .execute(&mut *conn)
        .await?;
    Ok(role)
}

/// Re-enters the role [`step_out`] left.
pub(crate) async fn step_back(conn: &mut PgConnection, role: &str) -> Result<()> {
    ident::check(role, "role")?;
    sqlx::query(&format!("SET LOCAL ROLE {}", ident::quote(role)))
        .execute(&mut *conn)
        .await?;
    Ok(())
}
