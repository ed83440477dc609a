//! Where the database comes from: `DATABASE_URL`, or the embedded cluster under
//! `DEVPULSE_DATA_DIR/postgres` that this process starts (or reuses) and stops on shutdown.

use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use store::{
    embedded::{EmbeddedConfig, EmbeddedPostgres},
    replica::Replica,
    PoolConfig, Store,
};

use crate::{config::Config, startup::Error};

pub const EMBEDDED_DATABASE: &str = "devpulse";

pub struct Database {
    pub store: Store,
    pub mode: &'static str,
    embedded: Option<EmbeddedPostgres>,
    /// Compares the replica's position with the primary's, while there is a replica.
    watcher: Option<tokio::task::JoinHandle<()>>,
}

impl Database {
    pub async fn open(config: &Config) -> Result<Self, Error> {
        let (options, mode, embedded) = match &config.database_url {
            Some(url) => (connect_options("DATABASE_URL", url)?, "external", None),
            None => {
                let cfg = EmbeddedConfig {
                    data_dir: config.data_dir.join("postgres"),
                    ephemeral: false,
                };
                let pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&cfg))
                    .await
                    .expect("embedded start task")?;
                pg.ensure_database(EMBEDDED_DATABASE).await?;
                (pg.connect_options(EMBEDDED_DATABASE), "embedded", Some(pg))
            }
        };
        let pool = PoolConfig {
            max_connections: config.database_max_connections,
            acquire_timeout: Duration::from_secs(5),
        };
        let (mut store, mode) = match &config.database_direct_url {
            Some(url) => {
                let direct = connect_options("DATABASE_DIRECT_URL", url)?;
                (
                    Store::connect_lazy_pooled(options, direct, &pool),
                    "external, through a transaction pooler",
                )
            }
            None => (Store::connect_lazy(options, &pool), mode),
        };
        if let Some(url) = &config.database_replica_url {
            let options = connect_options("DATABASE_REPLICA_URL", url)?;
            let replica = Replica::connect_lazy(options, &pool, config.database_replica_max_lag);
            store = store.with_replica(replica);
        }
        let mut db = Database {
            store,
            mode,
            embedded,
            watcher: None,
        };
        if let Err(e) = db.store.migrate().await {
            db.close().await;
            return Err(e.into());
        }
        // Compared only from now on, the replica is used once it has replayed past the
        // migrations just run: reads never meet a schema older than this code.
        if let Some(replica) = db.store.replica() {
            db.watcher = Some(tokio::spawn(
                replica.clone().watch(db.store.session_pool().clone()),
            ));
        }
        Ok(db)
    }

    /// Closes the pool, then stops the embedded cluster if this process started it.
    pub async fn close(&self) {
        if let Some(w) = &self.watcher {
            w.abort();
        }
        if let Some(r) = self.store.replica() {
            r.pool().close().await;
        }
        self.store.close().await;
        if let Some(pg) = &self.embedded {
            if pg.started_here() {
                if let Err(e) = pg.stop() {
                    tracing::error!("stopping embedded PostgreSQL: {e}");
                }
            }
        }
    }
}

/// `url` parsed, or an error naming `var` (without the password).
fn connect_options(
    var: &'static str,
    url: &str,
) -> Result<PgConnectOptions, crate::config::ConfigError> {
    url.parse().map_err(|e| crate::config::ConfigError {
        var,
        value: redact(url),
        reason: format!("{e}"),
    })
}

/// Never log a password.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
