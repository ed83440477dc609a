//! What the write path refused, per workspace and reason, for its usage page. A refusal only
//! counts in memory; a background task adds the counts to the workspace's
//! `ingest_rejections` every few seconds, so a flood of bad requests costs no write each. A
//! crash loses at most the last few seconds of counts, never an event.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use store::{Store, TenantScope};
use tokio::sync::watch;

const FLUSH_EVERY: Duration = Duration::from_secs(5);

/// Why a whole request was refused, by its answer's status; `None` for an answer that is not
/// a refusal of the data (a success, or a credential problem, which has no workspace).
pub fn reason_for(status: u16) -> Option<&'static str> {
    Some(match status {
        400 => "requests not readable",
        409 => "requests in conflict (idempotency key)",
        413 => "requests too large",
        415 => "requests of an unknown content type",
        422 => "requests with invalid data",
        429 => "requests over the rate limit",
        503 => "requests refused while the server was busy",
        _ => return None,
    })
}

/// Items refused inside a request that was otherwise stored.
pub const BATCH_ITEMS: &str = "batch items rejected";
pub const OTLP_RECORDS: &str = "OTLP records or points rejected";

#[derive(Default)]
pub struct Rejections {
    pending: Mutex<HashMap<(TenantScope, &'static str), u64>>,
}

impl std::fmt::Debug for Rejections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rejections")
    }
}

impl Rejections {
    pub fn record(&self, scope: &TenantScope, reason: &'static str, count: u64) {
        if count == 0 {
            return;
        }
        metrics::counter!("devpulse_ingest_rejected_total", "reason" => reason).increment(count);
        if let Ok(mut pending) = self.pending.lock() {
            *pending.entry((scope.clone(), reason)).or_default() += count;
        }
    }

    /// Adds what has accumulated; what could not be written waits for the next round.
    pub async fn flush(&self, store: &Store) {
        let batch: Vec<((TenantScope, &'static str), u64)> = match self.pending.lock() {
            Ok(mut pending) => pending.drain().collect(),
            Err(_) => return,
        };
        let mut by_scope: HashMap<TenantScope, Vec<(&'static str, u64)>> = HashMap::new();
        for ((scope, reason), count) in batch {
            by_scope.entry(scope).or_default().push((reason, count));
        }
        for (scope, counts) in by_scope {
            if let Err(e) = write(store, &scope, &counts).await {
                tracing::warn!(error = %e, "counting refused ingestion failed; retrying");
                if let Ok(mut pending) = self.pending.lock() {
                    for (reason, count) in counts {
                        *pending.entry((scope.clone(), reason)).or_default() += count;
                    }
                }
            }
        }
    }

    /// Flushes every few seconds until `shutdown`, then once more.
    pub async fn run(
        self: std::sync::Arc<Self>,
        store: Store,
        mut shutdown: watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(FLUSH_EVERY) => self.flush(&store).await,
                r = shutdown.changed() => {
                    if r.is_err() || *shutdown.borrow() {
                        self.flush(&store).await;
                        return;
                    }
                }
            }
        }
    }
}

async fn write(store: &Store, scope: &TenantScope, counts: &[(&str, u64)]) -> store::Result<()> {
    let mut tx = store.tenant_tx(scope).await?;
    for (reason, count) in counts {
        store::usage::add_rejections(&mut tx, reason, *count as i64).await?;
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_named_by_status_and_successes_are_not() {
        assert_eq!(reason_for(429), Some("requests over the rate limit"));
        assert_eq!(reason_for(422), Some("requests with invalid data"));
        for ok in [200, 201, 204, 401, 403, 404] {
            assert_eq!(reason_for(ok), None, "{ok}");
        }
    }
}
