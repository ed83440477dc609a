//! The demo's developers at work right now (`DEVPULSE_DEMO_LIVE`): a few of them at a time in
//! a session, their pauses between prompts shortened, each item written through the writer
//! when its moment comes. Live charts move and `/ws/metrics` has `metrics_update`s to tell.

use std::{collections::VecDeque, time::Duration};

use chrono::{TimeDelta, Utc};
use store::{accounts, Store, UserId};
use tokio::sync::watch;

use super::{
    activity::Person,
    developers,
    random::Random,
    session::{self, Pace, Timed},
};
use crate::ingest::Writer;

/// People in a session at once.
const WORKING: usize = 3;
/// Pauses to read and type are this share of a real person's, so something happens every
/// few seconds; requests and tools take as long as they do.
const PACE: Pace = Pace { thinking: 0.1 };

/// Someone's session in progress: what it has yet to send, in time order.
struct Shift {
    who: usize,
    items: VecDeque<Timed>,
}

/// Runs until `shutdown` turns true.
pub async fn run(store: Store, writer: Writer, mut shutdown: watch::Receiver<bool>) {
    let (scope, people) = match present(&store).await {
        Ok(found) => found,
        Err(e) => {
            tracing::info!("no demo activity: {e}");
            return;
        }
    };
    if people.is_empty() {
        tracing::info!("no demo activity: the demo workspace has none of its developers");
        return;
    }
    tracing::info!(people = people.len(), "demo activity started");
    let mut rng = Random::new(Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64);
    let mut shifts: Vec<Shift> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stopping| *stopping) => return,
        }
        let now = Utc::now();
        // Whoever finished rests; someone else starts.
        shifts.retain(|s| !s.items.is_empty());
        while shifts.len() < WORKING.min(people.len()) {
            let idle: Vec<usize> = (0..people.len())
                .filter(|i| !shifts.iter().any(|s| s.who == *i))
                .collect();
            let who = *rng.pick(&idle);
            let start = now + TimeDelta::milliseconds(rng.between(0, 5_000));
            let until = start + TimeDelta::days(1);
            let session =
                session::session(&mut rng, who, &people[who].1, start, until, PACE, false);
            let mut items = session.items;
            // Parallel tool runs and a subagent's requests are made out of order.
            items.sort_by_key(|i| i.at);
            shifts.push(Shift {
                who,
                items: items.into(),
            });
        }
        let mut events = Vec::new();
        for shift in &mut shifts {
            let due = shift.items.iter().take_while(|i| i.at <= now).count();
            if due == 0 {
                continue;
            }
            let items = shift.items.drain(..due).collect();
            match super::events(items, people[shift.who].0, now) {
                Ok(e) => events.extend(e),
                Err(why) => tracing::error!("a generated item was refused: {why}"),
            }
        }
        // A busy server drops the demo's activity rather than queue it.
        if let Err(e) = writer.submit(&scope, events).await {
            tracing::debug!(error = %e, "demo activity not written");
        }
    }
}

/// The demo workspace and which of its developers exist there.
async fn present(store: &Store) -> Result<(store::TenantScope, Vec<(UserId, Person)>), String> {
    let tenant = super::demo_tenant(store).await.map_err(|e| e.to_string())?;
    let mut tx = store
        .tenant_tx(tenant.scope())
        .await
        .map_err(|e| e.to_string())?;
    let users = accounts::list(&mut tx).await.map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())?;
    let people = developers()
        .into_iter()
        .filter_map(|d| {
            let user = users
                .iter()
                .find(|u| u.email.as_str() == d.email && u.active)?;
            Some((user.id, d.person))
        })
        .collect();
    Ok((tenant.scope().clone(), people))
}
