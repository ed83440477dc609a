//! The write path. Handlers turn request bodies into [`store::events::Event`]s (`hooks`,
//! `otlp`) and hand them to the [`Writer`]: a bounded queue drained by two tasks, each writing
//! whatever has gathered (up to a batch) in one transaction per tenant and only then answering
//! each request. Acknowledged therefore means committed; a full queue answers 503 with
//! `Retry-After` instead of growing memory.

pub mod batch;
pub mod hooks;
pub mod limits;
pub mod otlp;

use std::{collections::HashMap, time::Duration};

use store::{
    events::{self, Event, Written},
    Store, TenantScope,
};
use tokio::sync::{mpsc, oneshot};

use crate::{bus::Bus, error::ApiError};

/// Events gathered into one transaction at most.
const MAX_BATCH_EVENTS: usize = 20_000;
/// Requests waiting for the writers at most; beyond it, 503.
const QUEUE_REQUESTS: usize = 4_096;
/// Writing tasks. Two keep PostgreSQL busy on both sides of a tenant's write lock: one
/// inserts raw rows while the other folds (see `store::events::write`).
const WRITERS: usize = 2;

struct Job {
    scope: TenantScope,
    events: Vec<Event>,
    done: oneshot::Sender<Result<Written, String>>,
}

#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writing task. It ends once every `Writer` clone is dropped and the queue is
    /// drained, so a graceful shutdown writes everything it accepted.
    pub fn start(store: Store, bus: Bus) -> (Writer, tokio::task::JoinHandle<()>) {
        let (queue, jobs) = mpsc::channel(QUEUE_REQUESTS);
        let jobs = std::sync::Arc::new(tokio::sync::Mutex::new(jobs));
        let writers: Vec<_> = (0..WRITERS)
            .map(|_| tokio::spawn(run(store.clone(), bus.clone(), jobs.clone())))
            .collect();
        let task = tokio::spawn(async move {
            for w in writers {
                let _ = w.await;
            }
        });
        (Writer { queue }, task)
    }

    /// Writes the events and returns once they are committed.
    pub async fn submit(
        &self,
        scope: &TenantScope,
        events: Vec<Event>,
    ) -> Result<Written, ApiError> {
        if events.is_empty() {
            return Ok(Written::default());
        }
        let (done, answer) = oneshot::channel();
        let job = Job {
            scope: scope.clone(),
            events,
            done,
        };
        self.queue.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => ApiError::Busy(Duration::from_secs(1)),
            mpsc::error::TrySendError::Closed(_) => ApiError::NotReady("shutting down".into()),
        })?;
        answer
            .await
            .map_err(|_| ApiError::NotReady("the writer stopped".into()))?
            .map_err(|e| ApiError::Store(store::Error::Unavailable(e)))
    }
}

async fn run(
    store: Store,
    bus: Bus,
    jobs: std::sync::Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>,
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
            write_tenant(&store, &bus, jobs).await;
        }
    }
}

/// One transaction for all of a tenant's jobs; if it fails, each job is tried on its own so
/// that one bad request cannot fail the others. (`events::write` leaves events fit to be
/// written again, so the jobs' events are moved into the shared batch, not copied.)
async fn write_tenant(store: &Store, bus: &Bus, mut jobs: Vec<Job>) {
    let scope = jobs[0].scope.clone();
    // Told after each commit; the bus coalesces bursts.
    let tell = |written: &Written| bus.committed(scope.id().0, written.accepted() as u64);
    let write_alone = |mut job: Job| async move {
        let result = write_once(store, &job.scope, &mut job.events).await;
        match &result {
            Ok(written) => tell(written),
            Err(e) => tracing::error!(error = %e, "write failed"),
        }
        let _ = job.done.send(result.map_err(|e| e.to_string()));
    };
    if jobs.len() == 1 {
        return write_alone(jobs.pop().expect("one job")).await;
    }
    let sizes: Vec<usize> = jobs.iter().map(|j| j.events.len()).collect();
    let mut all: Vec<Event> = Vec::with_capacity(sizes.iter().sum());
    for job in &mut jobs {
        all.append(&mut job.events);
    }
    match write_once(store, &scope, &mut all).await {
        Ok(written) => {
            tell(&written);
            let mut new = written.new.into_iter();
            for (job, n) in jobs.into_iter().zip(sizes) {
                let part = Written {
                    new: new.by_ref().take(n).collect(),
                };
                let _ = job.done.send(Ok(part));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "batch write failed; writing its requests one by one");
            let mut rest = all.into_iter();
            for (mut job, n) in jobs.into_iter().zip(sizes) {
                job.events = rest.by_ref().take(n).collect();
                write_alone(job).await;
            }
        }
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

/// The largest body we inflate, whatever the compressed size: a gzip bomb stops here.
pub const MAX_INFLATED: u64 = 64 * 1024 * 1024;

/// A request body as sent: inflated if its `Content-Encoding` is gzip.
pub fn inflate(content_encoding: Option<&str>, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    use std::io::Read;
    match content_encoding.map(str::trim) {
        None | Some("") | Some("identity") => Ok(body.to_vec()),
        Some("gzip") => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(body)
                .take(MAX_INFLATED + 1)
                .read_to_end(&mut out)
                .map_err(|e| ApiError::Malformed(format!("gzip body cannot be read: {e}")))?;
            if out.len() as u64 > MAX_INFLATED {
                return Err(ApiError::PayloadTooLarge);
            }
            Ok(out)
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
