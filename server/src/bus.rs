//! After-commit notices. The writer reports every committed batch; a coalescer turns a burst
//! into at most one [`MetricsUpdate`] per tenant per window, and subscribers (the
//! `/ws/metrics` feed) receive them. Without Redis the messages stay in this process; with
//! `REDIS_URL` they are published on a Redis channel that every instance relays to its own
//! subscribers, so a page connected to any instance sees writes made through any other.
//!
//! Board changes travel the same way ([`Bus::board_changed`]): the feeds of the people
//! concerned tell their pages, which reload the board. So do alerts ([`Bus::alerted`]): the
//! feeds of the people told ring their bells.
//!
//! The bus also tells the store which kept dashboard answers went stale
//! (`store::dashboard::Answers`): on this instance as soon as the writer commits, and on
//! every instance before its subscribers hear of the update, so a page that refetches on a
//! `metrics_update` never gets the answer from before it.

use std::{
    collections::{BTreeMap, HashMap},
    time::Duration,
};

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use store::dashboard::Answers;
use tokio::sync::{broadcast, mpsc};
use types::{AlertNotice, BoardChange, TenantId, UserId};
use uuid::Uuid;

/// Notices within this window become one message per tenant.
pub const WINDOW: Duration = Duration::from_millis(250);
const CHANNEL: &str = "devpulse:metrics_update";

pub use types::MetricsUpdate;

/// What the bus carries, between instances (as JSON on the Redis channel, tagged as the
/// WebSocket's messages are) and to this instance's feeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Notice {
    MetricsUpdate(MetricsUpdate),
    BoardChange(BoardChange),
    Alert(AlertNotice),
}

#[derive(Clone)]
pub struct Bus {
    notices: mpsc::UnboundedSender<(Uuid, BTreeMap<UserId, u64>)>,
    updates: broadcast::Sender<Notice>,
    /// The workspaces this instance's writer committed to: what the alert evaluator
    /// watches (each write is judged once, by the instance that made it).
    commits: broadcast::Sender<TenantId>,
    answers: Answers,
    redis: Option<redis::Client>,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus")
            .field("redis", &self.redis.is_some())
            .finish_non_exhaustive()
    }
}

impl app::ssr::BoardNotices for Bus {
    fn changed(&self, change: BoardChange) {
        self.board_changed(change);
    }

    fn committed(&self, tenant: Uuid, user: UserId, events: u64) {
        Bus::committed(self, tenant, [(user, events)].into());
    }
}

/// Forgets the answers `update` makes stale, then tells this instance's subscribers.
fn deliver(answers: &Answers, updates: &broadcast::Sender<Notice>, update: MetricsUpdate) {
    stale(answers, update.tenant, &update.by_user);
    // No subscribers is fine: nobody is looking.
    let _ = updates.send(Notice::MetricsUpdate(update));
}

fn stale(answers: &Answers, tenant: TenantId, by_user: &BTreeMap<UserId, u64>) {
    let people: Vec<UserId> = by_user.keys().copied().collect();
    // An update without names (there are none today) could be anyone's.
    answers.changed(tenant, (!people.is_empty()).then_some(&people[..]));
}

impl Bus {
    /// Starts the coalescer (and, with Redis, the relay); they end with the process.
    pub fn start(redis: Option<redis::Client>, answers: Answers) -> Bus {
        let (notices, rx) = mpsc::unbounded_channel();
        let (updates, _) = broadcast::channel(1024);
        let (commits, _) = broadcast::channel(1024);
        tokio::spawn(coalesce(
            rx,
            updates.clone(),
            redis.clone(),
            answers.clone(),
        ));
        if let Some(client) = redis.clone() {
            tokio::spawn(relay(client, updates.clone(), answers.clone()));
        }
        Bus {
            notices,
            updates,
            commits,
            answers,
            redis,
        }
    }

    /// A board changed (committed): every instance tells the feeds concerned. Rare (people
    /// saving), so each goes out on its own, without the coalescer.
    pub fn board_changed(&self, change: BoardChange) {
        self.publish(Notice::BoardChange(change));
    }

    /// Alert rules fired or resolved (committed): every instance tells the feeds of the
    /// people told.
    pub fn alerted(&self, notice: AlertNotice) {
        self.publish(Notice::Alert(notice));
    }

    /// To every instance's feeds through Redis, or this one's without it (or when Redis
    /// cannot be reached: better this instance's feeds than none).
    fn publish(&self, notice: Notice) {
        let Some(client) = self.redis.clone() else {
            let _ = self.updates.send(notice);
            return;
        };
        let updates = self.updates.clone();
        tokio::spawn(async move {
            let payload = serde_json::to_string(&notice).expect("notices serialise");
            let sent = match client.get_multiplexed_async_connection().await {
                Ok(mut conn) => redis::cmd("PUBLISH")
                    .arg(CHANNEL)
                    .arg(payload)
                    .query_async::<i64>(&mut conn)
                    .await
                    .is_ok(),
                Err(_) => false,
            };
            if !sent {
                tracing::warn!("could not publish a notice to Redis; delivering locally");
                let _ = updates.send(notice);
            }
        });
    }

    /// The workspaces this instance commits events to, as it does.
    pub fn commits(&self) -> broadcast::Receiver<TenantId> {
        self.commits.subscribe()
    }

    /// The writer committed new events for `tenant`: how many, per person whose they are.
    pub fn committed(&self, tenant: Uuid, by_user: BTreeMap<UserId, u64>) {
        if by_user.values().any(|n| *n > 0) {
            stale(&self.answers, TenantId(tenant), &by_user);
            let _ = self.commits.send(TenantId(tenant));
            let _ = self.notices.send((tenant, by_user));
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.updates.subscribe()
    }
}

async fn coalesce(
    mut notices: mpsc::UnboundedReceiver<(Uuid, BTreeMap<UserId, u64>)>,
    updates: broadcast::Sender<Notice>,
    redis: Option<redis::Client>,
    answers: Answers,
) {
    let mut publisher: Option<redis::aio::ConnectionManager> = None;
    let add = |into: &mut BTreeMap<UserId, u64>, from: BTreeMap<UserId, u64>| {
        for (user, n) in from {
            *into.entry(user).or_default() += n;
        }
    };
    // An update goes out as soon as its notice arrives; only when the previous one went out
    // less than a WINDOW ago (a burst: many batches a second) does it wait for the rest of
    // the window, gathering what arrives meanwhile into one message per tenant.
    let mut last_flush = tokio::time::Instant::now() - WINDOW;
    let mut closed = false;
    while !closed {
        let Some((tenant, by_user)) = notices.recv().await else {
            break;
        };
        let mut pending: HashMap<Uuid, BTreeMap<UserId, u64>> = HashMap::from([(tenant, by_user)]);
        let deadline = last_flush + WINDOW;
        loop {
            // What is already queued joins at once.
            loop {
                match notices.try_recv() {
                    Ok((t, by_user)) => add(pending.entry(t).or_default(), by_user),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        closed = true;
                        break;
                    }
                }
            }
            if closed || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::select! {
                n = notices.recv() => match n {
                    Some((t, by_user)) => add(pending.entry(t).or_default(), by_user),
                    None => closed = true,
                },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        last_flush = tokio::time::Instant::now();
        let at_ms = chrono::Utc::now().timestamp_millis();
        for (tenant, by_user) in pending {
            let update = MetricsUpdate {
                tenant: TenantId(tenant),
                events: by_user.values().sum(),
                by_user,
                at_ms,
            };
            let Some(client) = &redis else {
                deliver(&answers, &updates, update);
                continue;
            };
            if publisher.is_none() {
                publisher = redis::aio::ConnectionManager::new(client.clone())
                    .await
                    .ok();
            }
            let payload = serde_json::to_string(&Notice::MetricsUpdate(update.clone()))
                .expect("notices serialise");
            let sent = match publisher.as_mut() {
                Some(conn) => redis::cmd("PUBLISH")
                    .arg(CHANNEL)
                    .arg(payload)
                    .query_async::<i64>(conn)
                    .await
                    .is_ok(),
                None => false,
            };
            if !sent {
                // Redis is away: this instance's pages still hear about it.
                tracing::warn!("could not publish a metrics update to Redis; delivering locally");
                deliver(&answers, &updates, update);
            }
        }
        if closed {
            return;
        }
    }
}

/// Relays the Redis channel to this instance's subscribers, reconnecting with back-off.
async fn relay(client: redis::Client, updates: broadcast::Sender<Notice>, answers: Answers) {
    let mut wait = Duration::from_millis(200);
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if pubsub.subscribe(CHANNEL).await.is_ok() {
                    wait = Duration::from_millis(200);
                    // Whatever other instances wrote while this one was not listening.
                    answers.forget_all();
                    let mut messages = pubsub.on_message();
                    while let Some(msg) = messages.next().await {
                        let payload: String = msg.get_payload().unwrap_or_default();
                        match serde_json::from_str::<Notice>(&payload) {
                            Ok(Notice::MetricsUpdate(update)) => {
                                deliver(&answers, &updates, update)
                            }
                            Ok(notice @ (Notice::BoardChange(_) | Notice::Alert(_))) => {
                                let _ = updates.send(notice);
                            }
                            Err(_) => {}
                        }
                    }
                }
                tracing::warn!("lost the Redis subscription; reconnecting");
            }
            Err(e) => tracing::warn!(error = %e, "cannot reach Redis for the bus; retrying"),
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(10));
    }
}
