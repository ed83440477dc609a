use serde::{Deserialize, Serialize};

use crate::{migrate, Error, Result, Store};

/// What the status page shows about the database.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServerStatus {
    pub postgres_version: String,
    pub database: String,
    pub tenants: i64,
    pub registry_version: i64,
}

/// Cumulative counters from `pg_stat_database`; the live chart plots their rate.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct DbActivity {
    pub transactions: i64,
    pub backends: i32,
}

impl Store {
    pub async fn status(&self) -> Result<ServerStatus> {
        let mut tx = crate::begin(self.pool()).await?;
        let row = sqlx::query!(
            r#"SELECT current_setting('server_version') AS "version!",
                      current_database() AS "database!",
                      (SELECT count(*) FROM tenants) AS "tenants!",
                      (SELECT coalesce(max(version), 0) FROM _sqlx_migrations WHERE success)
                        AS "registry_version!""#
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ServerStatus {
            postgres_version: row.version,
            database: row.database,
            tenants: row.tenants,
            registry_version: row.registry_version,
        })
    }

    /// Reachable and fully migrated, or the reason why not.
    pub async fn ready(&self) -> Result<()> {
        let row = async {
            let mut tx = crate::begin(self.pool()).await?;
            let row = sqlx::query!(
                r#"SELECT (SELECT coalesce(max(version), 0) FROM _sqlx_migrations WHERE success)
                        AS "registry!",
                      (SELECT count(*) FROM tenants WHERE migrated_version < $1)
                        AS "behind!""#,
                migrate::tenant_version()
            )
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, Error>(row)
        }
        .await
        .map_err(|e| Error::Unavailable(e.to_string()))?;
        if row.registry < migrate::registry_version() {
            return Err(Error::Unavailable(format!(
                "registry schema at version {}, expected {}",
                row.registry,
                migrate::registry_version()
            )));
        }
        if row.behind > 0 {
            return Err(Error::Unavailable(format!(
                "{} tenant schema(s) not migrated",
                row.behind
            )));
        }
        Ok(())
    }

    pub async fn db_activity(&self) -> Result<DbActivity> {
        let mut tx = crate::begin(self.pool()).await?;
        let row = sqlx::query!(
            r#"SELECT (xact_commit + xact_rollback) AS "transactions!", numbackends AS "backends!"
               FROM pg_stat_database WHERE datname = current_database()"#
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(DbActivity {
            transactions: row.transactions,
            backends: row.backends,
        })
    }
}
