#![doc = include_str!("../README.md")]

pub mod accounts;
pub mod activity;
pub mod api_keys;
pub mod audit;
pub mod embedded;
mod error;
pub mod events;
pub mod idempotency;
mod ident;
pub mod invitations;
pub mod migrate;
pub mod rollups;
pub mod secrets;
pub mod sessions;
mod status;
pub mod teams;
mod tenant_tx;
pub mod tenants;
#[cfg(feature = "testing")]
pub mod testing;

use std::time::Duration;

use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions},
    PgPool, Postgres, Transaction,
};

/// A registry-scoped transaction (search_path = `public`).
pub type RegistryTx = Transaction<'static, Postgres>;

pub use accounts::{Email, Role, User, UserId};
pub use error::{Error, Result};
pub use status::{DbActivity, ServerStatus};
pub use tenant_tx::TenantTx;
pub use tenants::{Slug, Tenant, TenantId, TenantScope, TenantStatus};

/// A handle on the database: cheap to clone, shared by every request.
#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
}

#[derive(Clone, Debug)]
pub struct PoolConfig {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
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
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(config.acquire_timeout)
            .test_before_acquire(true)
            .connect_lazy_with(options);
        Store { pool }
    }

    pub fn from_pool(pool: PgPool) -> Self {
        Store { pool }
    }

    /// The pool, for crates that own registry-level queries.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn migrate(&self) -> Result<()> {
        migrate::run(&self.pool).await
    }

    pub async fn tenant_tx(&self, scope: &TenantScope) -> Result<TenantTx> {
        TenantTx::begin(&self.pool, scope).await
    }

    /// A transaction on the registry (`public`): super admins, their sessions, the tenant list.
    pub async fn registry_tx(&self) -> Result<RegistryTx> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT set_config('search_path', 'public', true)")
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
