//! Alert evaluation (the rules themselves are `store::alerts`): as data arrives, each
//! workspace this instance writes to has its rules judged once the burst settles
//! ([`watch`]), and every minute the scheduler's sweep judges every workspace's (for rules
//! about silence, which no write wakes: "no activity for 2 h"). A rule that changes state
//! tells its subscribers' bells live through the bus, and their e-mails go out on the job
//! runner.

use std::{collections::HashSet, sync::Arc, time::Duration};

use chrono::Utc;
use store::Store;
use tokio::sync::{broadcast, watch as tokio_watch};
use types::{AlertNotice, TenantId};

use crate::bus::Bus;

/// The job kind of the every-minute sweep.
pub const SWEEP: &str = "alerts.sweep";

/// How long a burst of writes to a workspace may gather before its rules are judged: a
/// busy workspace's rules are judged about once a second, not once per batch.
const SETTLE: Duration = Duration::from_millis(750);

/// What evaluating needs.
#[derive(Clone)]
pub struct Evaluator {
    pub store: Store,
    pub sealer: Arc<store::sealing::Sealer>,
    pub bus: Bus,
    /// The alerts page, for e-mails.
    pub link: String,
}

impl Evaluator {
    pub fn new(
        store: Store,
        sealer: Arc<store::sealing::Sealer>,
        bus: Bus,
        public_url: &str,
    ) -> Self {
        Evaluator {
            store,
            sealer,
            bus,
            link: format!("{}/alerts", public_url.trim_end_matches('/')),
        }
    }

    /// Judges one workspace's rules now; how many changed state.
    pub async fn tenant(&self, tenant: TenantId) -> store::Result<usize> {
        let tenant =
            store::tenants::find_by_id(self.store.pool(), store::TenantId(tenant.0)).await?;
        if tenant.status != store::TenantStatus::Active {
            return Ok(0);
        }
        let mut tx = self.store.tenant_tx(tenant.scope()).await?;
        let told = store::alerts::evaluate(&mut tx, &self.sealer, &self.link, Utc::now()).await?;
        tx.commit().await?;
        let changed = told.len();
        for t in told {
            if t.in_app.is_empty() {
                continue;
            }
            self.bus.alerted(AlertNotice {
                tenant: TenantId(tenant.id.0),
                rule_id: t.event.rule_id,
                headline: t.event.headline(),
                firing: t.event.state == store::alerts::State::Firing,
                at_ms: t.event.at.timestamp_millis(),
                told: t.in_app,
            });
        }
        Ok(changed)
    }

    /// Judges every workspace's rules (the sweep); the first failure is returned after the
    /// others were tried.
    pub async fn all(&self) -> store::Result<()> {
        let mut first = None;
        for tenant in store::tenants::list(self.store.pool()).await? {
            if let Err(e) = self.tenant(TenantId(tenant.id.0)).await {
                tracing::warn!(tenant = tenant.slug.as_str(), error = %e, "evaluating alert rules failed");
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

/// Judges the rules of each workspace this instance commits events to, once its writes
/// settle; ends at shutdown.
pub async fn watch(evaluator: Evaluator, mut shutdown: tokio_watch::Receiver<bool>) {
    let mut commits = evaluator.bus.commits();
    loop {
        let first = tokio::select! {
            c = commits.recv() => c,
            _ = shutdown.changed() => return,
        };
        let mut due: HashSet<TenantId> = HashSet::new();
        match first {
            Ok(t) => {
                due.insert(t);
            }
            // Lagged: some commits went unseen; the sweep covers them within a minute.
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return,
        }
        let settle = tokio::time::sleep(SETTLE);
        tokio::pin!(settle);
        loop {
            tokio::select! {
                c = commits.recv() => match c {
                    Ok(t) => { due.insert(t); }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = &mut settle => break,
                _ = shutdown.changed() => return,
            }
        }
        for tenant in due {
            if let Err(e) = evaluator.tenant(tenant).await {
                tracing::warn!(tenant = %tenant, error = %e, "evaluating alert rules failed; the sweep retries");
            }
        }
    }
}
