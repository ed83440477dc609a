//! The installation's health as its console shows it: what this instance sees of the
//! database, Redis, its write path and its live feeds, and the warnings and errors it logged
//! lately. `GET /api/v1/admin/health` and the `/system` page read the same [`System::health`].

use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use store::Store;
use tracing::{field::Visit, Level};
use tracing_subscriber::layer::Context;
use types::system::{Health, LogEntry, Redis};

use crate::{error::ApiError, ingest::Writer};

/// What [`System::health`] reads; one per instance, shared by the API and the pages.
pub struct System {
    pub store: Store,
    pub writer: Writer,
    pub redis: Option<redis::Client>,
    pub sockets: Arc<Sockets>,
    pub database_mode: &'static str,
    pub started_at: Instant,
    /// The recurring jobs, as configured.
    pub schedules: Vec<crate::jobs::Schedule>,
}

impl System {
    /// The console's jobs: how many wait, run or died, the newest `limit` (of one `state`
    /// when given), and the recurring work with when it next runs.
    pub async fn jobs(
        &self,
        state: Option<&str>,
        limit: i64,
    ) -> Result<types::jobs::Jobs, ApiError> {
        let pool = self.store.pool();
        let now = chrono::Utc::now();
        Ok(types::jobs::Jobs {
            counts: store::jobs::counts(pool).await?,
            jobs: store::jobs::list(pool, state, limit).await?,
            schedules: self.schedules.iter().map(|s| s.shown(now)).collect(),
        })
    }

    pub async fn health(&self) -> Result<Health, ApiError> {
        let limit = Duration::from_secs(3);
        let database = tokio::time::timeout(
            limit,
            store::system::database(&self.store, self.database_mode),
        );
        let schemas = tokio::time::timeout(limit, store::system::schemas(self.store.pool()));
        let (database, schemas, redis) = tokio::join!(database, schemas, self.redis());
        let unavailable = || ApiError::NotReady("the database did not answer within 3s".into());
        Ok(Health {
            at: chrono::Utc::now(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_secs: self.started_at.elapsed().as_secs(),
            database: database.map_err(|_| unavailable())??,
            redis,
            writer: self.writer.health(),
            sockets: self.sockets.open.load(Ordering::Relaxed),
            schemas: schemas.map_err(|_| unavailable())??,
            errors: recent_errors(),
        })
    }

    async fn redis(&self) -> Redis {
        let Some(client) = &self.redis else {
            return Redis {
                configured: false,
                latency_ms: None,
                error: None,
            };
        };
        let started = Instant::now();
        let ping = async {
            let mut conn = client.get_multiplexed_async_connection().await?;
            redis::cmd("PING").query_async::<String>(&mut conn).await
        };
        let (latency_ms, error) = match tokio::time::timeout(Duration::from_secs(2), ping).await {
            Ok(Ok(_)) => (Some(started.elapsed().as_secs_f64() * 1000.0), None),
            Ok(Err(e)) => (None, Some(e.to_string())),
            Err(_) => (None, Some("no answer within 2s".to_string())),
        };
        Redis {
            configured: true,
            latency_ms,
            error,
        }
    }
}

impl std::fmt::Debug for System {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("System")
            .field("redis", &self.redis.is_some())
            .field("database_mode", &self.database_mode)
            .finish_non_exhaustive()
    }
}

/// Live feeds open on this instance.
#[derive(Debug, Default)]
pub struct Sockets {
    open: AtomicU64,
}

impl Sockets {
    /// Counts a socket until the guard is dropped.
    pub fn open(self: &Arc<Self>) -> SocketGuard {
        self.open.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("devpulse_websocket_connections_total").increment(1);
        SocketGuard(self.clone())
    }
}

impl Sockets {
    /// Sockets open now.
    pub fn count(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }
}

pub struct SocketGuard(Arc<Sockets>);

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Warnings and errors kept for the console: the newest [`KEPT`], in the process (tracing's
/// subscriber is the process's, so every instance a process runs shares them).
static RECENT: Mutex<VecDeque<LogEntry>> = Mutex::new(VecDeque::new());
const KEPT: usize = 50;

/// The newest warnings and errors, newest first.
pub fn recent_errors() -> Vec<LogEntry> {
    RECENT
        .lock()
        .map(|r| r.iter().rev().cloned().collect())
        .unwrap_or_default()
}

/// A tracing layer that keeps every WARN and ERROR event in [`RECENT`].
pub struct KeepErrors;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for KeepErrors {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let level = *event.metadata().level();
        if level > Level::WARN {
            return;
        }
        let mut text = Message::default();
        event.record(&mut text);
        let entry = LogEntry {
            at: chrono::Utc::now(),
            level: level.to_string(),
            target: event.metadata().target().to_string(),
            message: text.0,
        };
        if let Ok(mut recent) = RECENT.lock() {
            if recent.len() == KEPT {
                recent.pop_front();
            }
            recent.push_back(entry);
        }
    }
}

/// The event's message followed by its other fields, as `key=value`.
#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let fields = std::mem::take(&mut self.0);
            self.0 = format!("{value:?}");
            if !fields.is_empty() {
                self.0.push(' ');
                self.0.push_str(&fields);
            }
        } else {
            if !self.0.is_empty() {
                self.0.push(' ');
            }
            self.0.push_str(&format!("{}={value:?}", field.name()));
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn keeps_warnings_and_errors_with_their_fields() {
        let subscriber = tracing_subscriber::registry().with(KeepErrors);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("not kept");
            tracing::warn!(tenant = "acme", "slow flush");
            tracing::error!(error = %"boom", "job failed");
        });
        let recent = recent_errors();
        let job = recent
            .iter()
            .position(|e| e.message == "job failed error=boom");
        let flush = recent
            .iter()
            .position(|e| e.message == "slow flush tenant=\"acme\"");
        assert!(job.is_some() && flush.is_some(), "{recent:?}");
        assert!(job < flush, "newest first");
        assert!(recent.iter().all(|e| e.message != "not kept"));
        assert_eq!(recent[job.unwrap()].level, "ERROR");
    }
}
