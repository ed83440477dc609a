//! A streaming replica for dashboard reads (`DATABASE_REPLICA_URL`).
//!
//! Dashboards read far more than anything writes, and a hot standby can answer those reads
//! while the primary takes the events. A replica lags, so every read is told how far: a
//! watcher compares the primary's WAL insert position, sampled a few times a second, with
//! what the replica has replayed. When the replica has replayed everything the primary had
//! inserted at sample time `t`, it holds every commit made before `t`: its data is "as of
//! `t`", and `now - t` bounds its staleness. Reads go to the replica only while that bound
//! is within [`Replica::max_lag`]; when it is behind, down, or not a standby (promoted),
//! they go to the primary, and so does any read whose transaction fails to open there.

use std::{
    collections::VecDeque,
    future::Future,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use sqlx::{postgres::PgConnectOptions, Connection, PgConnection, PgPool};

use crate::PoolConfig;

/// How often the watcher compares the two positions: the smallest staleness a read sees.
pub const EVERY: Duration = Duration::from_millis(250);
/// A check not answered within this is a replica (or primary) that is not there.
const PATIENCE: Duration = Duration::from_secs(1);

/// The replica's pool and what the watcher last learnt of it; cheap to clone.
#[derive(Clone, Debug)]
pub struct Replica {
    pool: PgPool,
    max_lag: Duration,
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    /// The replica holds every commit made before this instant.
    as_of: Option<Instant>,
    up: bool,
    error: Option<String>,
    /// The primary's WAL insert position, sampled: (when, position), oldest first.
    samples: VecDeque<(Instant, i64)>,
    replica_reads: u64,
    primary_reads: u64,
}

/// What a dashboard sees of the replica (the system page, `/metrics`).
#[derive(Clone, Debug, PartialEq)]
pub struct Status {
    /// Answering as a standby; reads go there while `staleness <= max_lag` too.
    pub up: bool,
    /// How far behind the primary its data may be; `None` before the first check.
    pub staleness: Option<Duration>,
    pub max_lag: Duration,
    pub error: Option<String>,
    /// Dashboard reads this process sent to the replica and, while one is configured, to
    /// the primary instead.
    pub replica_reads: u64,
    pub primary_reads: u64,
}

/// Where one request's dashboard reads were served from, for its response header.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Served {
    Primary,
    /// From the replica, whose data was at most this old.
    Replica(Duration),
}

impl Served {
    /// The `x-devpulse-read` response header's value: `primary`, or
    /// `replica; staleness-ms=412`.
    pub fn header_value(self) -> String {
        match self {
            Served::Primary => "primary".into(),
            Served::Replica(age) => format!("replica; staleness-ms={}", age.as_millis()),
        }
    }
}

tokio::task_local! {
    static SERVED: std::cell::Cell<Option<Served>>;
}

/// Runs `fut`, answering where its reads were served from (`None`: it read nothing through
/// [`crate::Store::read_tx`]). A request that reads twice reports the stalest.
pub async fn noting<F: Future>(fut: F) -> (F::Output, Option<Served>) {
    SERVED
        .scope(std::cell::Cell::new(None), async {
            let out = fut.await;
            (out, SERVED.with(|s| s.get()))
        })
        .await
}

fn note(served: Served) {
    let _ = SERVED.try_with(|s| {
        let worse = match (s.get(), served) {
            (None, x) | (Some(Served::Primary), x @ Served::Replica(_)) => x,
            (Some(Served::Replica(a)), Served::Replica(b)) => Served::Replica(a.max(b)),
            (Some(x), Served::Primary) => x,
        };
        s.set(Some(worse));
    });
}

impl Replica {
    /// Connects lazily, like the primary's pool; the watcher finds out whether it is there.
    pub fn connect_lazy(options: PgConnectOptions, config: &PoolConfig, max_lag: Duration) -> Self {
        let pool = crate::pool_options(config)
            // A replica that does not answer soon is worth less than the primary that does.
            .acquire_timeout(config.acquire_timeout.min(Duration::from_secs(2)))
            .connect_lazy_with(options);
        Replica {
            pool,
            max_lag,
            state: Default::default(),
        }
    }

    pub fn max_lag(&self) -> Duration {
        self.max_lag
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn status(&self) -> Status {
        let s = self.state.lock().expect("replica state");
        Status {
            up: s.up,
            staleness: s.as_of.map(|t| t.elapsed()),
            max_lag: self.max_lag,
            error: s.error.clone(),
            replica_reads: s.replica_reads,
            primary_reads: s.primary_reads,
        }
    }

    /// The instant the replica's data is as of, when a read may go there now.
    pub(crate) fn usable(&self) -> Option<Instant> {
        let s = self.state.lock().expect("replica state");
        s.as_of.filter(|t| s.up && t.elapsed() <= self.max_lag)
    }

    pub(crate) fn served(&self, served: Served) {
        {
            let mut s = self.state.lock().expect("replica state");
            match served {
                Served::Primary => s.primary_reads += 1,
                Served::Replica(_) => s.replica_reads += 1,
            }
        }
        note(served);
    }

    /// A read could not open a transaction there: primary until the watcher sees it again.
    pub(crate) fn failed(&self, error: &crate::Error) {
        let mut s = self.state.lock().expect("replica state");
        s.up = false;
        s.error = Some(error.to_string());
        tracing::warn!("replica read failed, reading from the primary: {error}");
    }

    /// Compares the two positions every [`EVERY`], for as long as the server runs, on
    /// connections of its own: a pool busy with requests must not make the replica look away.
    pub async fn watch(self, primary: PgPool) {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (mut on_primary, mut on_replica) = (None, None);
        loop {
            tick.tick().await;
            self.check(&primary, &mut on_primary, &mut on_replica).await;
        }
    }

    /// One comparison: the primary first, so its sample predates what the replica reports.
    /// A connection that fails is dropped, and opened again at the next comparison.
    async fn check(
        &self,
        primary: &PgPool,
        on_primary: &mut Option<PgConnection>,
        on_replica: &mut Option<PgConnection>,
    ) {
        let sampled = Instant::now();
        let inserted = tokio::time::timeout(PATIENCE, async {
            let conn = connected(on_primary, primary).await?;
            sqlx::query_scalar!(
                r#"SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint AS "lsn!""#
            )
            .fetch_one(conn)
            .await
        })
        .await;
        if !matches!(inserted, Ok(Ok(_))) {
            *on_primary = None;
        }
        let replayed = tokio::time::timeout(PATIENCE, async {
            let conn = connected(on_replica, &self.pool).await?;
            sqlx::query!(
                r#"SELECT pg_is_in_recovery() AS "standby!",
                          (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint AS replayed"#
            )
            .fetch_one(conn)
            .await
        })
        .await;
        if !matches!(replayed, Ok(Ok(_))) {
            *on_replica = None;
        }
        let mut s = self.state.lock().expect("replica state");
        let was_up = s.up;
        // With the primary away there is nothing new to compare with; the older samples
        // still bound the replica's staleness.
        if let Ok(Ok(lsn)) = inserted {
            s.samples.push_back((sampled, lsn));
        }
        let keep = self.max_lag * 2 + Duration::from_secs(10);
        while s.samples.len() > 1 && s.samples[0].0.elapsed() > keep {
            s.samples.pop_front();
        }
        match replayed {
            Ok(Ok(r)) if r.standby => {
                let replayed = r.replayed.unwrap_or(0);
                let as_of = s
                    .samples
                    .iter()
                    .rev()
                    .find(|(_, lsn)| *lsn <= replayed)
                    .map(|(t, _)| *t);
                if let Some(t) = as_of {
                    s.as_of = Some(s.as_of.map_or(t, |old| old.max(t)));
                }
                s.up = true;
                s.error = None;
            }
            Ok(Ok(_)) => {
                s.up = false;
                s.error = Some("not a standby: promoted, or not a replica at all".into());
            }
            Ok(Err(e)) => {
                s.up = false;
                s.error = Some(e.to_string());
            }
            Err(_) => {
                s.up = false;
                s.error = Some(format!("no answer within {PATIENCE:?}"));
            }
        }
        if was_up != s.up {
            match &s.error {
                None => tracing::info!("replica is answering: dashboard reads go there"),
                Some(e) => tracing::warn!("replica unavailable, reading from the primary: {e}"),
            }
        }
    }
}

/// The watcher's own connection to `pool`'s server, opened if it has none.
async fn connected<'a>(
    conn: &'a mut Option<PgConnection>,
    pool: &PgPool,
) -> Result<&'a mut PgConnection, sqlx::Error> {
    if conn.is_none() {
        *conn = Some(PgConnection::connect_with(&pool.connect_options()).await?);
    }
    Ok(conn.as_mut().expect("just opened"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_reports_its_stalest_read() {
        let (_, none) = noting(async {}).await;
        assert_eq!(none, None);
        let (_, served) = noting(async {
            note(Served::Primary);
            note(Served::Replica(Duration::from_millis(300)));
            note(Served::Replica(Duration::from_millis(100)));
            note(Served::Primary);
        })
        .await;
        assert_eq!(served, Some(Served::Replica(Duration::from_millis(300))));
        // Outside a request nothing is noted, and nothing fails.
        note(Served::Primary);
    }
}
