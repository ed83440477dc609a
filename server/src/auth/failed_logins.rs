//! Failed sign-ins, written to the audit log in batches: one `login.failed` entry per
//! (workspace, e-mail, source) and second, carrying how many attempts it stands for.
//!
//! Writing each failure as it happens made the audit log the cheapest thing to flood (a row
//! and a commit per anonymous request) and made a wrong e-mail answer measurably later than
//! an unknown workspace, which has no audit log to write to. Here the request only counts;
//! a background task writes. A crash loses at most the last second of failed attempts, never
//! a change.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use chrono::{DateTime, Utc};
use store::{audit::Actor, tenants::TenantScope, Store};
use tokio::sync::watch;

/// Distinct (workspace, e-mail, source) keys held between writes; beyond it, attempts are
/// counted in one entry per workspace, so memory stays bounded under any flood.
const MAX_KEYS: usize = 2_000;
const FLUSH_EVERY: Duration = Duration::from_secs(1);

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    scope: Option<TenantScope>,
    /// The user the attempt named, when the e-mail belongs to one.
    target: Option<String>,
    email: String,
    ip: Option<String>,
}

#[derive(Debug)]
struct Pending {
    count: u64,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    user_agent: Option<String>,
}

#[derive(Default)]
pub struct FailedLogins {
    pending: Mutex<HashMap<Key, Pending>>,
}

impl FailedLogins {
    pub fn record(&self, scope: Option<&TenantScope>, target: Option<String>, actor: &Actor) {
        let now = Utc::now();
        let mut map = self.pending.lock().expect("failed-logins lock");
        let mut key = Key {
            scope: scope.cloned(),
            target,
            email: actor.name.clone(),
            ip: actor.ip.clone(),
        };
        if map.len() >= MAX_KEYS && !map.contains_key(&key) {
            key = Key {
                scope: key.scope,
                target: None,
                email: "*".into(),
                ip: None,
            };
        }
        let entry = map.entry(key).or_insert_with(|| Pending {
            count: 0,
            first: now,
            last: now,
            user_agent: actor.user_agent.clone(),
        });
        entry.count += 1;
        entry.last = now;
    }

    /// Writes what has accumulated. Entries that could not be written are kept for the next
    /// round (the database may be briefly away).
    pub async fn flush(&self, store: &Store) {
        let batch: Vec<(Key, Pending)> = {
            let mut map = self.pending.lock().expect("failed-logins lock");
            map.drain().collect()
        };
        let mut by_scope: HashMap<Option<TenantScope>, Vec<(Key, Pending)>> = HashMap::new();
        for (key, pending) in batch {
            by_scope
                .entry(key.scope.clone())
                .or_default()
                .push((key, pending));
        }
        for (scope, entries) in by_scope {
            if let Err(e) = write(store, scope.as_ref(), &entries).await {
                tracing::warn!(error = %e, "failed sign-ins not yet audited; will retry");
                let mut map = self.pending.lock().expect("failed-logins lock");
                for (key, pending) in entries {
                    let entry = map.entry(key).or_insert(Pending {
                        count: 0,
                        ..pending
                    });
                    entry.count += pending.count;
                }
            }
        }
    }

    /// Flushes every second until shutdown, then once more.
    pub async fn run(
        self: std::sync::Arc<Self>,
        store: Store,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        loop {
            tokio::select! {
                _ = tick.tick() => self.flush(&store).await,
                _ = shutdown.changed() => break,
            }
        }
        self.flush(&store).await;
    }
}

async fn write(
    store: &Store,
    scope: Option<&TenantScope>,
    entries: &[(Key, Pending)],
) -> store::Result<()> {
    let mut tx = store.scoped_tx(scope).await?;
    for (key, pending) in entries {
        let actor = Actor {
            id: None,
            name: key.email.clone(),
            ip: key.ip.clone(),
            user_agent: pending.user_agent.clone(),
        };
        store::accounts::record_failed_logins(
            tx.conn(),
            &actor,
            key.target.as_deref(),
            pending.count,
            pending.first,
            pending.last,
        )
        .await?;
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(email: &str, ip: &str) -> Actor {
        Actor {
            id: None,
            name: email.into(),
            ip: Some(ip.into()),
            user_agent: None,
        }
    }

    #[test]
    fn repeats_fold_into_one_entry_and_a_flood_stays_bounded() {
        let f = FailedLogins::default();
        for _ in 0..50 {
            f.record(None, None, &actor("a@x.test", "192.0.2.1"));
        }
        {
            let map = f.pending.lock().unwrap();
            assert_eq!(map.len(), 1);
            assert_eq!(map.values().next().unwrap().count, 50);
        }
        for i in 0..10 * MAX_KEYS {
            f.record(None, None, &actor(&format!("{i}@x.test"), "192.0.2.2"));
        }
        let map = f.pending.lock().unwrap();
        assert_eq!(map.len(), MAX_KEYS + 1);
        let overflow = map.iter().find(|(k, _)| k.email == "*").unwrap().1;
        assert_eq!(overflow.count as usize, 10 * MAX_KEYS - (MAX_KEYS - 1));
    }
}
