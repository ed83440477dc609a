//! After-commit notices. The writer reports every committed batch; a coalescer turns a burst
//! into at most one [`MetricsUpdate`] per tenant per window, and subscribers (the `/ws`
//! metrics topic) receive them. In-process; several instances would share it through Redis
//! pub/sub, which is not built yet.

use std::{collections::HashMap, time::Duration};

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};
use uuid::Uuid;

/// Notices within this window become one message per tenant.
pub const WINDOW: Duration = Duration::from_millis(250);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricsUpdate {
    /// Always `metrics_update`.
    #[serde(rename = "type")]
    pub kind: String,
    pub tenant: Uuid,
    /// New events committed since the previous message.
    pub events: u64,
    pub at_ms: i64,
}

#[derive(Clone)]
pub struct Bus {
    notices: mpsc::UnboundedSender<(Uuid, u64)>,
    updates: broadcast::Sender<MetricsUpdate>,
}

impl Bus {
    /// Starts the coalescer; it ends when every `Bus` clone is gone.
    pub fn start() -> Bus {
        let (notices, rx) = mpsc::unbounded_channel();
        let (updates, _) = broadcast::channel(1024);
        tokio::spawn(coalesce(rx, updates.clone()));
        Bus { notices, updates }
    }

    /// The writer committed `events` new events for `tenant`.
    pub fn committed(&self, tenant: Uuid, events: u64) {
        if events > 0 {
            let _ = self.notices.send((tenant, events));
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<MetricsUpdate> {
        self.updates.subscribe()
    }
}

async fn coalesce(
    mut notices: mpsc::UnboundedReceiver<(Uuid, u64)>,
    updates: broadcast::Sender<MetricsUpdate>,
) {
    while let Some((tenant, events)) = notices.recv().await {
        let mut pending: HashMap<Uuid, u64> = HashMap::from([(tenant, events)]);
        let window = tokio::time::sleep(WINDOW);
        tokio::pin!(window);
        let mut closed = false;
        loop {
            tokio::select! {
                n = notices.recv() => match n {
                    Some((t, e)) => *pending.entry(t).or_default() += e,
                    None => { closed = true; break; }
                },
                _ = &mut window => break,
            }
        }
        let at_ms = chrono::Utc::now().timestamp_millis();
        for (tenant, events) in pending {
            // No subscribers is fine: nobody is looking.
            let _ = updates.send(MetricsUpdate {
                kind: "metrics_update".into(),
                tenant,
                events,
                at_ms,
            });
        }
        if closed {
            return;
        }
    }
}
