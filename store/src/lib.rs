#![doc = include_str!("../README.md")]

pub mod accounts;
pub mod activity;
pub mod alerts;
pub mod api_keys;
pub mod audit;
pub mod baselines;
pub mod boards;
pub mod budgets;
pub mod dashboard;
pub mod embedded;
mod error;
pub mod events;
pub mod exports;
pub mod gdpr;
pub mod idempotency;
mod ident;
pub mod imports;
pub mod invitations;
pub mod jobs;
pub mod mail;
pub mod mfa;
pub mod migrate;
pub mod prices;
pub mod refresh_tokens;
pub mod replica;
pub mod reports;
pub mod retention;
pub mod rollups;
pub mod sealing;
pub mod secrets;
pub mod settings;
pub mod sso;
mod status;
pub mod support;
pub mod system;
pub mod teams;
mod tenant_tx;
pub mod tenants;
#[cfg(feature = "testing")]
pub mod testing;
pub mod usage;
pub mod waiting;
pub mod webhooks;
pub mod ws_tickets;

use std::time::Duration;

use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions},
    PgPool, Postgres, Transaction,
};

/// The direct connections a pooled [`Store`] keeps for sessions: the job runner's and the
/// live feeds' listeners, and a migration run.
const SESSIONS: u32 = 4;

/// A registry-scoped transaction (search_path = `public`).
pub type RegistryTx = Transaction<'static, Postgres>;

pub use accounts::{Email, Role, User, UserId};
pub use error::{Error, Result};
pub use status::{DbActivity, ServerStatus};
pub use tenant_tx::TenantTx;
pub use tenants::{Slug, Tenant, TenantId, TenantScope, TenantStatus};

/// A transaction in someone's scope: their tenant's, or the registry for super admins, whose
/// people tables have the same shape.
pub enum ScopedTx {
    Tenant(TenantTx),
    Registry(RegistryTx),
}

impl ScopedTx {
    pub fn conn(&mut self) -> &mut sqlx::PgConnection {
        match self {
            ScopedTx::Tenant(tx) => tx,
            ScopedTx::Registry(tx) => tx,
        }
    }

    /// See [`TenantTx::as_of`]; the registry is always the primary's.
    pub fn as_of(&self) -> Option<std::time::Instant> {
        match self {
            ScopedTx::Tenant(tx) => tx.as_of(),
            ScopedTx::Registry(_) => None,
        }
    }

    pub async fn commit(self) -> Result<()> {
        match self {
            ScopedTx::Tenant(tx) => tx.commit().await,
            ScopedTx::Registry(tx) => Ok(tx.commit().await?),
        }
    }
}

/// A handle on the database: cheap to clone, shared by every request.
#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
    /// Connections that keep session state (LISTEN, session advisory locks): `pool` itself,
    /// unless that goes through a transaction pooler ([`Store::connect_lazy_pooled`]).
    sessions: PgPool,
    /// Where dashboard reads may go (see [`replica`]).
    replica: Option<replica::Replica>,
    answers: dashboard::Answers,
}

#[derive(Clone, Debug)]
pub struct PoolConfig {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

/// A pooled connection used this recently is handed out as it is; one idle longer is pinged
/// first (and replaced if the database has gone away meanwhile). Pinging every one cost a
/// round trip per acquire, a few per signed-in request, and sqlx already pings each as it
/// returns to the pool. The window is HikariCP's (`aliveBypassWindowMs`). The price: right
/// after the database restarts, a connection used within the window fails its request once.
pub const UNCHECKED_IDLE: Duration = Duration::from_millis(500);

/// The options of every pool here (primary, sessions, replica): `config`'s size and wait,
/// and the check of [`UNCHECKED_IDLE`].
pub(crate) fn pool_options(config: &PoolConfig) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(config.acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= UNCHECKED_IDLE {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_connections: 20,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

impl Store {
    /// Connects lazily: the pool opens connections on demand, so the server can start, answer
    /// `/healthz`, and report on `/readyz` while PostgreSQL is down.
    pub fn connect_lazy(options: PgConnectOptions, config: &PoolConfig) -> Self {
        Store::from_pool(pool_options(config).connect_lazy_with(options))
    }

    /// [`Store::connect_lazy`] through a pooler in transaction mode (PgBouncer's
    /// `pool_mode = transaction`) at `pooled`, which may hand each transaction to another
    /// server connection. So every statement here runs inside an explicit transaction (never
    /// autocommit, whose Parse and Execute could land on two connections), nothing is kept
    /// prepared across transactions (the statement cache is off; the pooler discards what a
    /// transaction prepared with `server_reset_query = DEALLOCATE ALL` and
    /// `server_reset_query_always = 1`), and what needs its own session — LISTEN, the
    /// migrations' and the scheduler's advisory locks — connects to `direct`, the database
    /// itself.
    pub fn connect_lazy_pooled(
        pooled: PgConnectOptions,
        direct: PgConnectOptions,
        config: &PoolConfig,
    ) -> Self {
        let pool = pool_options(config).connect_lazy_with(pooled.statement_cache_capacity(0));
        let sessions = pool_options(config)
            .max_connections(SESSIONS)
            .connect_lazy_with(direct);
        Store {
            sessions,
            ..Store::from_pool(pool)
        }
    }

    /// Sends dashboard reads to `replica` while it keeps up (start [`replica::Replica::watch`]
    /// beside it, or it is never found keeping up).
    pub fn with_replica(self, replica: replica::Replica) -> Self {
        Store {
            replica: Some(replica),
            ..self
        }
    }

    pub fn replica(&self) -> Option<&replica::Replica> {
        self.replica.as_ref()
    }

    pub fn from_pool(pool: PgPool) -> Self {
        Store {
            sessions: pool.clone(),
            pool,
            replica: None,
            answers: Default::default(),
        }
    }

    /// Dashboard answers kept until what they read changes (see [`dashboard::Answers`]).
    pub fn answers(&self) -> &dashboard::Answers {
        &self.answers
    }

    /// Runs `fut` (one request), then forgets this instance's kept answers in every
    /// workspace whose answers `fut`'s changes said they altered. The database's notice
    /// tells every instance, this one included, but asynchronously: a client asking again
    /// as soon as its change is acknowledged could otherwise beat it and read the old answer.
    /// A change that rolled back only costs a recomputation.
    pub async fn seeing_own_changes<F: std::future::Future>(&self, fut: F) -> F::Output {
        let (out, schemas) = audit::noting_changed_answers(fut).await;
        for schema in schemas {
            self.answers.forget_schema(&schema);
        }
        out
    }

    /// The pool, for crates that own registry-level queries.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Where to LISTEN or hold a session advisory lock: a direct connection to the database,
    /// even when [`Store::pool`] goes through a transaction pooler.
    pub fn session_pool(&self) -> &PgPool {
        &self.sessions
    }

    /// The tenant `which` names and a transaction in it, found and entered by one statement:
    /// the same round trips as entering a tenant already known. Whether its status lets the
    /// caller in is the caller's to judge.
    pub async fn tenant_tx_of(
        &self,
        which: impl Into<tenants::Which<'_>>,
    ) -> Result<(Tenant, TenantTx)> {
        self.found_and_entered(which, false).await
    }

    /// [`Store::tenant_tx_of`] with the settings of the dashboard's reads, on the primary:
    /// a request that signs in and then reads a dashboard can read in the transaction its
    /// sign-in checked the caller in (see [`Store::read_tx_after`]).
    pub async fn read_tx_of(
        &self,
        which: impl Into<tenants::Which<'_>>,
    ) -> Result<(Tenant, TenantTx)> {
        self.found_and_entered(which, true).await
    }

    async fn found_and_entered(
        &self,
        which: impl Into<tenants::Which<'_>>,
        reads: bool,
    ) -> Result<(Tenant, TenantTx)> {
        let mut tx = begin(&self.pool).await?;
        let tenant = tenants::find_and_enter(&mut tx, which, reads).await?;
        let tx = TenantTx::entered(tx, tenant.scope(), reads)?;
        Ok((tenant, tx))
    }

    /// [`Store::read_tx`], going on in `earlier` (from [`Store::read_tx_of`]) when that is
    /// where `read_tx` would read anyway: the primary, in the same workspace. Otherwise
    /// `earlier` ends first and a fresh read transaction opens.
    pub async fn read_tx_after(&self, earlier: TenantTx, scope: &TenantScope) -> Result<TenantTx> {
        if self.replica.is_none() && earlier.reads_on_primary() && earlier.scope() == scope {
            return Ok(earlier);
        }
        earlier.commit().await?;
        self.read_tx(scope).await
    }

    pub async fn migrate(&self) -> Result<()> {
        migrate::run(&self.sessions).await
    }

    pub async fn tenant_tx(&self, scope: &TenantScope) -> Result<TenantTx> {
        TenantTx::begin(&self.pool, scope).await
    }

    /// A transaction for reads that may be a little behind (dashboards): on the replica
    /// while it keeps within its bound, else on the primary. [`TenantTx::as_of`] says which.
    /// Nothing written in it can commit on a replica: write through [`Store::tenant_tx`].
    pub async fn read_tx(&self, scope: &TenantScope) -> Result<TenantTx> {
        let Some(replica) = &self.replica else {
            return TenantTx::begin_reads(&self.pool, scope).await;
        };
        if let Some(as_of) = replica.usable() {
            match TenantTx::begin_reads(replica.pool(), scope).await {
                // Opening takes time, and the bound holds when the data is read, not when
                // the replica was chosen: one that passed it meanwhile hands over.
                Ok(tx) => {
                    let age = as_of.elapsed();
                    if age <= replica.max_lag() {
                        replica.served(replica::Served::Replica(age));
                        return Ok(tx.read_as_of(as_of, age));
                    }
                }
                Err(e) => replica.failed(&e),
            }
        }
        replica.served(replica::Served::Primary);
        Ok(TenantTx::begin_reads(&self.pool, scope)
            .await?
            .read_on_primary())
    }

    /// [`Store::read_tx`] in someone's scope; the registry is always read on the primary.
    pub async fn scoped_read_tx(&self, tenant: Option<&TenantScope>) -> Result<ScopedTx> {
        match tenant {
            Some(scope) => Ok(ScopedTx::Tenant(self.read_tx(scope).await?)),
            None => self.scoped_tx(None).await,
        }
    }

    /// The tenant's transaction, or the registry's when there is no tenant (super admins).
    pub async fn scoped_tx(&self, tenant: Option<&TenantScope>) -> Result<ScopedTx> {
        Ok(match tenant {
            Some(scope) => ScopedTx::Tenant(self.tenant_tx(scope).await?),
            None => ScopedTx::Registry(self.registry_tx().await?),
        })
    }

    /// A transaction on the registry (`public`): super admins, their sessions, the tenant list.
    pub async fn registry_tx(&self) -> Result<RegistryTx> {
        registry_tx(&self.pool).await
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.sessions.close().await;
    }
}

/// A registry transaction for the functions that are handed the pool (tenants).
pub(crate) async fn registry_tx(pool: &PgPool) -> Result<RegistryTx> {
    let mut tx = begin(pool).await?;
    on_registry(&mut tx).await?;
    Ok(tx)
}

/// Opens a transaction on `pool`, counting how long it took and whether the pool had an idle
/// connection to give (see [`pool_waits`]).
pub(crate) async fn begin(pool: &PgPool) -> Result<Transaction<'static, Postgres>> {
    use std::sync::atomic::Ordering::Relaxed;
    let idle = pool.num_idle();
    let started = std::time::Instant::now();
    let tx = pool.begin().await;
    WAITS.opened.fetch_add(1, Relaxed);
    if idle == 0 {
        WAITS.without_idle.fetch_add(1, Relaxed);
    }
    WAITS
        .nanos
        .fetch_add(started.elapsed().as_nanos() as u64, Relaxed);
    Ok(tx?)
}

struct Waits {
    opened: std::sync::atomic::AtomicU64,
    without_idle: std::sync::atomic::AtomicU64,
    nanos: std::sync::atomic::AtomicU64,
}

static WAITS: Waits = Waits {
    opened: std::sync::atomic::AtomicU64::new(0),
    without_idle: std::sync::atomic::AtomicU64::new(0),
    nanos: std::sync::atomic::AtomicU64::new(0),
};

/// What opening transactions cost this process so far (tenant and registry transactions, on
/// the primary and the replica alike): for `/metrics`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PoolWaits {
    /// Transactions opened.
    pub opened: u64,
    /// Of those, how many found no idle connection: they waited for one to be returned or
    /// opened.
    pub without_idle: u64,
    /// Time from asking the pool to the transaction having begun (the BEGIN round trip
    /// included), summed.
    pub waited: Duration,
}

pub fn pool_waits() -> PoolWaits {
    use std::sync::atomic::Ordering::Relaxed;
    PoolWaits {
        opened: WAITS.opened.load(Relaxed),
        without_idle: WAITS.without_idle.load(Relaxed),
        waited: Duration::from_nanos(WAITS.nanos.load(Relaxed)),
    }
}

/// Puts the registry (`public`) alone on the transaction's search_path, so unqualified
/// registry tables (`audit_log`, `users`) cannot resolve to anything else.
pub(crate) async fn on_registry(conn: &mut sqlx::PgConnection) -> Result<()> {
    sqlx::query("SELECT set_config('search_path', 'public', true)")
        .execute(&mut *conn)
        .await?;
    Ok(())
}
