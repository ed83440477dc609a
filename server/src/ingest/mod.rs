//! The write path. Handlers turn request bodies into [`store::events::Event`]s (`hooks`,
//! `otlp`) and hand them to the [`Writer`]: a bounded queue drained by two tasks, each writing
//! whatever has gathered (up to a batch) in one transaction per tenant and only then answering
//! each request. Acknowledged therefore means committed; a full queue answers 503 with
//! `Retry-After` instead of growing memory.

pub mod admit;
pub mod batch;
pub mod hooks;
pub mod limits;
pub mod otlp;
pub mod rejections;
pub mod wire;

use std::time::Duration;
use std::{collections::HashMap, future::Future, panic::AssertUnwindSafe, pin::Pin, sync::Arc};

use futures::FutureExt;
use store::{
    events::{self, Event, Written},
    Store, TenantScope,
};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use crate::{bus::Bus, error::ApiError};

/// Events gathered into one transaction at most.
const MAX_BATCH_EVENTS: usize = 20_000;
/// Requests waiting for the writers at most; beyond it, 503.
const QUEUE_REQUESTS: usize = 4_096;
/// Events waiting for the writers at most (whatever the number of requests carrying them);
/// beyond it, 503. About 100 MB of events at the largest.
const QUEUE_EVENTS: usize = 200_000;
/// Writing tasks. Two keep PostgreSQL busy on both sides of a tenant's write lock: one
/// inserts raw rows while the other folds (see `store::events::write`).
const WRITERS: usize = 2;
/// Transactions one request may take to find the events PostgreSQL refuses (about
/// 2 log2(n) each); the events not yet told apart by then are answered as refused, so that a
/// client does not send the same request again for ever.
const ISOLATION_ATTEMPTS: usize = 200;

/// What became of one event of a request.
#[derive(Clone, Debug, PartialEq)]
pub enum Fate {
    New,
    /// Stored before: sending it again changed nothing.
    Duplicate,
    /// Valid as far as we check, but PostgreSQL refused it (the reason says why); the
    /// request's other events are stored.
    Unstorable(String),
    /// It names another person's session, tool run, request or prompt (the refusal names the
    /// field); the request's other events are stored.
    Refused(events::Refusal),
}

/// Each event's fate, in the order submitted.
#[derive(Debug, Default)]
pub struct Receipt {
    pub fates: Vec<Fate>,
}

impl Receipt {
    /// The fate of a request's only event: new or not, or a 422 naming why it was refused.
    pub fn single(self) -> Result<bool, ApiError> {
        match self.fates.into_iter().next() {
            Some(Fate::Unstorable(why)) => Err(ApiError::field("", why)),
            Some(Fate::Refused(r)) => Err(ApiError::field(&format!("/{}", r.field), r.reason)),
            Some(fate) => Ok(fate == Fate::New),
            None => Ok(false),
        }
    }
}

struct Job {
    scope: TenantScope,
    events: Vec<Event>,
    done: oneshot::Sender<store::Result<Receipt>>,
    /// Its room in the queue, given back when the job is answered.
    _room: OwnedSemaphorePermit,
}

impl Job {
    fn new(
        scope: &TenantScope,
        events: Vec<Event>,
        room: OwnedSemaphorePermit,
    ) -> (Job, oneshot::Receiver<store::Result<Receipt>>) {
        let (done, answer) = oneshot::channel();
        let job = Job {
            scope: scope.clone(),
            events,
            done,
            _room: room,
        };
        (job, answer)
    }
}

#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
    room: Arc<Semaphore>,
    stats: Arc<Flushes>,
}

/// The writers' commits of the last minute, for the installation's health page.
#[derive(Default)]
struct Flushes {
    written: std::sync::atomic::AtomicU64,
    /// When each commit ended, how long it took and how many events it wrote.
    recent: std::sync::Mutex<std::collections::VecDeque<(std::time::Instant, Duration, u64)>>,
}

/// The window the health page's rates and flush times cover.
const FLUSH_WINDOW: Duration = Duration::from_secs(60);

impl Flushes {
    fn record(&self, took: Duration, events: u64) {
        use std::sync::atomic::Ordering;
        self.written.fetch_add(events, Ordering::Relaxed);
        let now = std::time::Instant::now();
        let mut recent = self.recent.lock().expect("not poisoned");
        recent.push_back((now, took, events));
        Self::forget_old(&mut recent, now);
    }

    fn forget_old(
        recent: &mut std::collections::VecDeque<(std::time::Instant, Duration, u64)>,
        now: std::time::Instant,
    ) {
        while recent
            .front()
            .is_some_and(|(at, _, _)| now.duration_since(*at) > FLUSH_WINDOW)
        {
            recent.pop_front();
        }
    }
}

impl Writer {
    /// Starts the writing tasks. They end once every `Writer` clone is dropped and the queue is
    /// drained, so a graceful shutdown writes everything it accepted.
    pub fn start(store: Store, bus: Bus) -> (Writer, tokio::task::JoinHandle<()>) {
        let (queue, jobs) = mpsc::channel(QUEUE_REQUESTS);
        let jobs = Arc::new(tokio::sync::Mutex::new(jobs));
        let partitions = Arc::new(Partitions::default());
        let stats = Arc::new(Flushes::default());
        let writers: Vec<_> = (0..WRITERS)
            .map(|_| {
                tokio::spawn(run(
                    store.clone(),
                    bus.clone(),
                    jobs.clone(),
                    partitions.clone(),
                    stats.clone(),
                ))
            })
            .collect();
        let task = tokio::spawn(async move {
            for w in writers {
                let _ = w.await;
            }
        });
        let room = Arc::new(Semaphore::new(QUEUE_EVENTS));
        (Writer { queue, room, stats }, task)
    }

    /// The queue and the last minute's commits.
    pub fn health(&self) -> types::system::Writer {
        let now = std::time::Instant::now();
        let (flushes, events, mut times) = {
            let mut recent = self.stats.recent.lock().expect("not poisoned");
            Flushes::forget_old(&mut recent, now);
            let events: u64 = recent.iter().map(|(_, _, n)| n).sum();
            let times: Vec<f64> = recent
                .iter()
                .map(|(_, took, _)| took.as_secs_f64() * 1000.0)
                .collect();
            (recent.len() as u64, events, times)
        };
        types::system::Writer {
            queued_events: (QUEUE_EVENTS - self.room.available_permits()) as u64,
            queue_capacity: QUEUE_EVENTS as u64,
            events_per_sec: events as f64 / FLUSH_WINDOW.as_secs_f64(),
            flushes,
            flush_ms_max: times.iter().copied().reduce(f64::max),
            flush_ms_p50: types::system::median(&mut times),
            written_total: self
                .stats
                .written
                .load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Writes the events and returns once they are committed.
    pub async fn submit(
        &self,
        scope: &TenantScope,
        events: Vec<Event>,
    ) -> Result<Receipt, ApiError> {
        if events.is_empty() {
            return Ok(Receipt::default());
        }
        let busy = || ApiError::Busy(Duration::from_secs(1));
        let room = self
            .room
            .clone()
            .try_acquire_many_owned(events.len().min(QUEUE_EVENTS) as u32)
            .map_err(|_| busy())?;
        let (job, answer) = Job::new(scope, events, room);
        self.queue.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => busy(),
            mpsc::error::TrySendError::Closed(_) => ApiError::NotReady("shutting down".into()),
        })?;
        Self::answer(answer).await
    }

    /// Like [`Writer::submit`], but waits for room in the queue instead of answering busy: for
    /// writers inside the server (the demo's activity, the load generator), which have no
    /// client to send back and would rather slow down.
    pub async fn submit_waiting(
        &self,
        scope: &TenantScope,
        events: Vec<Event>,
    ) -> Result<Receipt, ApiError> {
        if events.is_empty() {
            return Ok(Receipt::default());
        }
        let closed = || ApiError::NotReady("shutting down".into());
        let room = self
            .room
            .clone()
            .acquire_many_owned(events.len().min(QUEUE_EVENTS) as u32)
            .await
            .map_err(|_| closed())?;
        let (job, answer) = Job::new(scope, events, room);
        self.queue.send(job).await.map_err(|_| closed())?;
        Self::answer(answer).await
    }

    async fn answer(
        answer: oneshot::Receiver<store::Result<Receipt>>,
    ) -> Result<Receipt, ApiError> {
        match answer.await {
            Err(_) => Err(ApiError::NotReady("the writer stopped".into())),
            Ok(Ok(receipt)) => Ok(receipt),
            Ok(Err(e @ store::Error::Conflict(_))) => Err(ApiError::Store(e)),
            Ok(Err(e)) => Err(ApiError::Store(store::Error::Unavailable(e.to_string()))),
        }
    }
}

async fn run(
    store: Store,
    bus: Bus,
    jobs: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>,
    partitions: Arc<Partitions>,
    stats: Arc<Flushes>,
) {
    loop {
        // Whatever queued up while the last batch was written goes in this one. The queue is
        // held only while taking, not while writing.
        let batch = {
            let mut jobs = jobs.lock().await;
            let Some(first) = jobs.recv().await else {
                break;
            };
            let mut batch = vec![first];
            let mut size = batch[0].events.len();
            while size < MAX_BATCH_EVENTS {
                match jobs.try_recv() {
                    Ok(job) => {
                        size += job.events.len();
                        batch.push(job);
                    }
                    Err(_) => break,
                }
            }
            batch
        };
        let mut by_tenant: HashMap<String, Vec<Job>> = HashMap::new();
        for job in batch {
            by_tenant
                .entry(job.scope.schema().to_string())
                .or_default()
                .push(job);
        }
        for (_, jobs) in by_tenant {
            let w = Write {
                store: &store,
                bus: &bus,
                scope: jobs[0].scope.clone(),
            };
            partitions.ensure(&store, &w.scope, &jobs).await;
            let events: usize = jobs.iter().map(|j| j.events.len()).sum();
            let started = std::time::Instant::now();
            w.jobs(jobs).await;
            let took = started.elapsed();
            metrics::histogram!("devpulse_writer_flush_seconds").record(took.as_secs_f64());
            stats.record(took, events as u64);
        }
    }
}

/// The months that have an `events` partition, per tenant schema, so that a batch of events
/// from a month without one (an import of old history) gets it before it is written rather
/// than landing in the default partition.
#[derive(Default)]
struct Partitions(std::sync::Mutex<std::collections::HashSet<(String, i32)>>);

impl Partitions {
    async fn ensure(&self, store: &Store, scope: &TenantScope, jobs: &[Job]) {
        let months: std::collections::BTreeSet<i32> = jobs
            .iter()
            .flat_map(|j| j.events.iter().map(|e| events::month_index(e.occurred_at)))
            .collect();
        let missing: Vec<i32> = {
            let known = self.0.lock().expect("not poisoned");
            months
                .into_iter()
                .filter(|m| !known.contains(&(scope.schema().to_string(), *m)))
                .collect()
        };
        for month in missing {
            match events::ensure_month(store.pool(), scope.schema(), month).await {
                Ok(()) => {
                    self.0
                        .lock()
                        .expect("not poisoned")
                        .insert((scope.schema().to_string(), month));
                }
                // The default partition takes the events meanwhile; the next batch tries again.
                Err(e) => tracing::warn!(error = %e, schema = scope.schema(), month,
                    "could not create an events partition"),
            }
        }
    }
}

/// One tenant's writes, and whom to tell after each commit.
struct Write<'a> {
    store: &'a Store,
    bus: &'a Bus,
    scope: TenantScope,
}

/// Why an attempt to write failed.
enum Failure {
    /// The events themselves (PostgreSQL refused a value, or writing them panicked).
    Data(String),
    Other(store::Error),
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl Write<'_> {
    /// One transaction for all of a tenant's jobs; if it fails, each job is tried on its own
    /// so that one bad request cannot fail the others. (`events::write` leaves events fit to
    /// be written again, so the jobs' events are moved into the shared batch, not copied.)
    async fn jobs(&self, mut jobs: Vec<Job>) {
        if jobs.len() == 1 {
            return self.job(jobs.pop().expect("one job")).await;
        }
        let sizes: Vec<usize> = jobs.iter().map(|j| j.events.len()).collect();
        let mut all: Vec<Event> = Vec::with_capacity(sizes.iter().sum());
        for job in &mut jobs {
            all.append(&mut job.events);
        }
        match self.attempt(&mut all).await {
            Ok(written) => {
                let mut all = fates(written).into_iter();
                for (job, n) in jobs.into_iter().zip(sizes) {
                    let fates = all.by_ref().take(n).collect();
                    let _ = job.done.send(Ok(Receipt { fates }));
                }
            }
            Err(e) => {
                if let Failure::Other(e) = &e {
                    tracing::warn!(error = %e, "batch write failed; writing its requests one by one");
                }
                let mut rest = all.into_iter();
                for (mut job, n) in jobs.into_iter().zip(sizes) {
                    job.events = rest.by_ref().take(n).collect();
                    self.job(job).await;
                }
            }
        }
    }

    async fn job(&self, mut job: Job) {
        let result = self.isolate(&mut job.events).await;
        match &result {
            Err(e) => tracing::error!(error = %e, "write failed"),
            Ok(r) => {
                let (mut new, mut duplicate, mut rejected) = (0u64, 0u64, 0u64);
                for f in &r.fates {
                    match f {
                        Fate::New => new += 1,
                        Fate::Duplicate => duplicate += 1,
                        Fate::Refused(_) | Fate::Unstorable(_) => rejected += 1,
                    }
                }
                for (outcome, n) in [
                    ("accepted", new),
                    ("duplicate", duplicate),
                    ("rejected", rejected),
                ] {
                    if n > 0 {
                        metrics::counter!("devpulse_ingest_events_total", "outcome" => outcome)
                            .increment(n);
                    }
                }
            }
        }
        let _ = job.done.send(result);
    }

    /// Writes a request's events; if PostgreSQL refuses some of them, finds which by halving
    /// (in time order, so cumulative series stay in order) and stores all the others. Should
    /// the database fail otherwise meanwhile, the request fails (503) with some halves
    /// committed: sending it again is safe, those come back as duplicates.
    async fn isolate(&self, events: &mut Vec<Event>) -> store::Result<Receipt> {
        let failure = match self.attempt(events).await {
            Ok(written) => {
                return Ok(Receipt {
                    fates: fates(written),
                })
            }
            Err(Failure::Other(e)) => return Err(e),
            Err(Failure::Data(why)) => why,
        };
        if events.len() == 1 {
            return Ok(Receipt {
                fates: vec![Fate::Unstorable(failure)],
            });
        }
        let mut items: Vec<(usize, Event)> = events.drain(..).enumerate().collect();
        items.sort_by_key(|(_, e)| e.occurred_at);
        let (positions, mut sorted): (Vec<usize>, Vec<Event>) = items.into_iter().unzip();
        let mut budget = ISOLATION_ATTEMPTS;
        let found = self.halve(&mut sorted, &mut budget).await?;
        let mut fates = vec![Fate::Duplicate; positions.len()];
        for (p, f) in positions.into_iter().zip(found) {
            fates[p] = f;
        }
        Ok(Receipt { fates })
    }

    fn halve<'a>(
        &'a self,
        events: &'a mut [Event],
        budget: &'a mut usize,
    ) -> Boxed<'a, store::Result<Vec<Fate>>> {
        Box::pin(async move {
            let (left, right) = events.split_at_mut(events.len() / 2);
            let mut fates = Vec::with_capacity(left.len() + right.len());
            for part in [left, right] {
                if *budget == 0 {
                    let why = "not stored: too many events of this request were refused; \
                               send them in smaller batches to find which";
                    fates.extend(part.iter().map(|_| Fate::Unstorable(why.into())));
                    continue;
                }
                *budget -= 1;
                match self.attempt(part).await {
                    Ok(written) => fates.extend(self::fates(written)),
                    Err(Failure::Other(e)) => return Err(e),
                    Err(Failure::Data(why)) if part.len() == 1 => {
                        tracing::warn!(reason = %why, "an event could not be stored");
                        fates.push(Fate::Unstorable(why));
                    }
                    Err(Failure::Data(_)) => fates.extend(self.halve(part, budget).await?),
                }
            }
            Ok(fates)
        })
    }

    /// One transaction; a panic while writing counts against the events, not the writer.
    async fn attempt(&self, events: &mut [Event]) -> Result<Written, Failure> {
        let written = AssertUnwindSafe(write_once(self.store, &self.scope, events))
            .catch_unwind()
            .await;
        match written {
            Ok(Ok(written)) => {
                // Per person: each live feed is told only of the people its reader sees.
                let mut by_user = std::collections::BTreeMap::new();
                for (e, _) in events.iter().zip(&written.new).filter(|(_, new)| **new) {
                    *by_user.entry(e.user_id).or_default() += 1;
                }
                self.bus.committed(self.scope.id().0, by_user);
                Ok(written)
            }
            Ok(Err(e)) if e.is_bad_data() => Err(Failure::Data(refusal(&e))),
            Ok(Err(e)) => Err(Failure::Other(e)),
            Err(_) => Err(Failure::Data(
                "this event could not be stored (the server logged why)".into(),
            )),
        }
    }
}

/// Each event's fate, in the order written.
fn fates(mut written: Written) -> Vec<Fate> {
    written
        .new
        .into_iter()
        .enumerate()
        .map(|(i, new)| match written.refused.remove(&i) {
            Some(r) => Fate::Refused(r),
            None if new => Fate::New,
            None => Fate::Duplicate,
        })
        .collect()
}

/// PostgreSQL's reason for refusing data, without the SQL around it.
fn refusal(e: &store::Error) -> String {
    match e {
        store::Error::Database(sqlx::Error::Database(db)) => {
            format!("could not be stored: {}", db.message())
        }
        other => format!("could not be stored: {other}"),
    }
}

async fn write_once(
    store: &Store,
    scope: &TenantScope,
    events: &mut [Event],
) -> store::Result<Written> {
    let mut tx = store.tenant_tx(scope).await?;
    let written = events::write(&mut tx, events).await?;
    tx.commit().await?;
    Ok(written)
}

/// A request body as sent: inflated if its `Content-Encoding` is gzip, to at most `limit`
/// bytes (the configured body limit) whatever its compressed size, so a gzip bomb stops there.
pub fn inflate<'a>(
    content_encoding: Option<&str>,
    body: &'a [u8],
    limit: usize,
) -> Result<std::borrow::Cow<'a, [u8]>, ApiError> {
    use std::io::Read;
    match content_encoding.map(str::trim) {
        None | Some("") | Some("identity") => Ok(body.into()),
        Some("gzip") => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(body)
                .take(limit as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| ApiError::Malformed(format!("gzip body cannot be read: {e}")))?;
            if out.len() > limit {
                return Err(ApiError::PayloadTooLarge);
            }
            Ok(out.into())
        }
        Some(other) => Err(ApiError::UnsupportedMediaType(format!(
            "Content-Encoding {other} is not supported; use gzip or none"
        ))),
    }
}

/// A stable hash of some parts, for keys of events without an id of their own.
pub fn content_key(prefix: &str, parts: &[&[u8]]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    format!("{prefix}:{}", hex::encode(&h.finalize()[..16]))
}

/// Checks a client-supplied timestamp: not more than 24 h ahead of the server's clock.
pub fn check_time(
    at: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), &'static str> {
    if at > now + chrono::TimeDelta::hours(24) {
        Err("is more than 24 hours in the future")
    } else if at.timestamp() < 946_684_800 {
        Err("is before the year 2000")
    } else {
        Ok(())
    }
}
