//! The job runner: workers that claim jobs from the `jobs` table (see [`store::jobs`]) and
//! one scheduler per installation, elected with a PostgreSQL advisory lock, that queues the
//! recurring work. Jobs are at least once: a worker renews its lease while it works, and a
//! job whose instance died is taken up again when the lease runs out, so each kind below is
//! safe to repeat (an e-mail already sent is not sent again; upkeep, retention and pruning
//! converge).

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::{postgres::PgListener, Connection};
use store::{jobs::Claimed, Store};
use tokio::{sync::watch, task::JoinHandle};

use crate::mail::{self, Mailer};

/// How long the scheduler waits on its lock connection before giving the lock up.
const CHECK: Duration = Duration::from_secs(5);
/// The lock key that elects the scheduler (any fixed number no other lock uses).
const SCHEDULER_LOCK: i64 = 0x6465_7670_6a6f_6273; // "devpjobs"

/// Recurring work: queued at each time its cron pattern names, in UTC (five fields, minute
/// first; six with seconds first; seven with a year; `L`, `#`, `W` and `@daily`-style
/// nicknames as croner reads them), by whichever
/// instance is the scheduler. A run missed while no instance was up is made up once, not once
/// per missed time.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub name: &'static str,
    pub kind: &'static str,
    /// As written (croner normalises day and month names to numbers).
    pub pattern: String,
    pub cron: croner::Cron,
}

impl Schedule {
    /// `pattern` read as cron; the error says why it is not one.
    pub fn new(name: &'static str, kind: &'static str, pattern: &str) -> Result<Schedule, String> {
        let cron = pattern
            .parse::<croner::Cron>()
            .map_err(|e| format!("not a cron pattern: {e}"))?;
        // A pattern that never fires (the 31st of February) would leave its work undone
        // without a word.
        cron.find_next_occurrence(&Utc::now(), false)
            .map_err(|_| "never fires".to_string())?;
        Ok(Schedule {
            name,
            kind,
            pattern: pattern.trim().to_string(),
            cron,
        })
    }

    /// The fire time of the run due at `now`: the latest time the pattern names, at or before
    /// `now`. Each is queued once (its job key is the name and this time).
    pub fn due(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_previous_occurrence(&now, true).ok()
    }

    /// The next time it fires after `now`.
    pub fn next(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&now, false).ok()
    }

    /// As the console shows it.
    pub fn shown(&self, now: DateTime<Utc>) -> types::jobs::Scheduled {
        types::jobs::Scheduled {
            name: self.name.to_string(),
            pattern: self.pattern.clone(),
            description: self.cron.describe(),
            next_at: self.next(now),
        }
    }
}

/// The recurring work, when it runs unless configured otherwise, and the variable that
/// configures it.
pub const DEFAULT_SCHEDULES: [(&str, &str, &str, &str); 5] = [
    // The coming months' event partitions and expired idempotency keys, per workspace.
    ("upkeep", UPKEEP, "0 * * * *", "DEVPULSE_SCHEDULE_UPKEEP"),
    // Each workspace's retention policy, at night in UTC when traffic is lowest.
    (
        "retention",
        RETENTION,
        "30 2 * * *",
        "DEVPULSE_SCHEDULE_RETENTION",
    ),
    (
        "prune-jobs",
        PRUNE,
        "45 2 * * *",
        "DEVPULSE_SCHEDULE_PRUNE_JOBS",
    ),
    // Every workspace's alert rules, for the ones no write wakes (silence, budgets as the
    // period turns).
    (
        "alerts",
        crate::alerts::SWEEP,
        "* * * * *",
        "DEVPULSE_SCHEDULE_ALERTS",
    ),
    // Scheduled reports that are due (Mondays and the 1st at 07:00 in each workspace's zone).
    (
        "reports",
        crate::reports::SWEEP,
        "*/5 * * * *",
        "DEVPULSE_SCHEDULE_REPORTS",
    ),
];

/// Every instance's recurring work; `pattern_of(variable)` may replace a default pattern.
/// A bad pattern is named by its variable.
pub fn schedules(
    pattern_of: impl Fn(&str) -> Option<String>,
) -> Result<Vec<Schedule>, (&'static str, String, String)> {
    DEFAULT_SCHEDULES
        .iter()
        .map(|(name, kind, default, var)| {
            let pattern = pattern_of(var)
                .filter(|p| !p.trim().is_empty())
                .unwrap_or_else(|| default.to_string());
            Schedule::new(name, kind, &pattern).map_err(|e| (*var, pattern, e))
        })
        .collect()
}

const UPKEEP: &str = "upkeep";
const PRUNE: &str = "jobs.prune";
pub const RETENTION: &str = "retention";

/// The kinds this build can run; it claims no others (another version may have queued them).
pub fn kinds() -> Vec<String> {
    [
        store::mail::SEND,
        UPKEEP,
        PRUNE,
        RETENTION,
        store::gdpr::EXPORT_JOB,
        store::gdpr::ERASURE_JOB,
        crate::alerts::SWEEP,
        store::webhooks::DELIVER,
        crate::reports::SWEEP,
        store::reports::SEND,
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

#[derive(Clone)]
pub struct Options {
    /// Jobs run at once by this instance.
    pub workers: usize,
    /// How long a claimed job stays this instance's without a renewal.
    pub lease: TimeDelta,
    /// How often idle workers look for due jobs (retries come due without a notification).
    pub poll: Duration,
    /// How often the scheduler queues due runs, and a non-scheduler tries to become one.
    pub tick: Duration,
    pub schedules: Vec<Schedule>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            workers: 2,
            lease: TimeDelta::seconds(60),
            poll: Duration::from_secs(2),
            tick: Duration::from_secs(15),
            schedules: schedules(|_| None).expect("the default schedules are cron patterns"),
        }
    }
}

/// What the jobs need besides the database.
#[derive(Clone)]
pub struct Context {
    pub store: Store,
    pub mailer: Mailer,
    pub sealer: Arc<store::sealing::Sealer>,
    pub alerts: crate::alerts::Evaluator,
    /// Where webhooks may post, and the client that posts.
    pub outbound: crate::outbound::Policy,
    pub http: reqwest::Client,
    pub reports: crate::reports::Reporter,
}

/// The running runner: whether this instance is the scheduler, and the tasks to await on
/// shutdown.
pub struct Runner {
    pub scheduling: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Runner {
    pub fn start(cx: Context, options: Options, shutdown: watch::Receiver<bool>) -> Runner {
        let worker_id = format!(
            "{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let wake = Arc::new(tokio::sync::Notify::new());
        let mut tasks = vec![tokio::spawn(listen(
            cx.store.clone(),
            wake.clone(),
            shutdown.clone(),
        ))];
        for n in 0..options.workers.max(1) {
            tasks.push(tokio::spawn(work(
                cx.clone(),
                options.clone(),
                format!("{worker_id}/{n}"),
                wake.clone(),
                shutdown.clone(),
            )));
        }
        let scheduling = Arc::new(AtomicBool::new(false));
        tasks.push(tokio::spawn(schedule(
            cx.store.clone(),
            options,
            scheduling.clone(),
            shutdown,
        )));
        Runner { scheduling, tasks }
    }

    /// Waits for the current jobs to finish after shutdown was signalled.
    pub async fn stopped(self) {
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Wakes idle workers when a job is queued anywhere (a notification is best effort; the
/// workers poll as well).
async fn listen(store: Store, wake: Arc<tokio::sync::Notify>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let listening = async {
            let mut listener = PgListener::connect_with(store.session_pool()).await?;
            listener.listen(store::jobs::CHANNEL).await?;
            loop {
                listener.recv().await?;
                wake.notify_waiters();
            }
            #[allow(unreachable_code)]
            Ok::<(), sqlx::Error>(())
        };
        tokio::select! {
            r = listening => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "job notifications lost; reconnecting");
                }
            }
            _ = shutdown.changed() => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

async fn work(
    cx: Context,
    options: Options,
    worker: String,
    wake: Arc<tokio::sync::Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let kinds = kinds();
    while !*shutdown.borrow() {
        let woken = wake.notified();
        match store::jobs::abandoned(cx.store.pool()).await {
            Ok(jobs) => {
                for job in jobs {
                    // Buried only once its work is marked, so a failure here is retried.
                    let buried = match given_up(&cx, &job).await {
                        Ok(()) => store::jobs::bury(cx.store.pool(), job.id)
                            .await
                            .map_err(Failure::from),
                        Err(e) => Err(e),
                    };
                    if let Err(e) = buried {
                        tracing::warn!(job = %job.id, error = %e.message, "giving up an abandoned job failed; retrying");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "looking for abandoned jobs failed"),
        }
        let idle = match store::jobs::claim(cx.store.pool(), &worker, &kinds, options.lease).await {
            Ok(Some(job)) => {
                run(&cx, &options, &worker, job).await;
                continue;
            }
            Ok(None) => options.poll,
            Err(e) => {
                tracing::warn!(error = %e, "claiming a job failed; retrying");
                options.poll * 2
            }
        };
        tokio::select! {
            _ = woken => {}
            _ = tokio::time::sleep(idle) => {}
            // A dropped sender is a shutdown too.
            r = shutdown.changed() => if r.is_err() { return },
        }
    }
}

/// A failed attempt; `permanent` when another attempt cannot go better.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub permanent: bool,
    /// The wait before the next attempt, when the kind has its own (else [`backoff`]).
    pub retry_in: Option<TimeDelta>,
}

impl From<store::Error> for Failure {
    fn from(e: store::Error) -> Self {
        Failure {
            permanent: matches!(e, store::Error::NotFound(_)),
            message: e.to_string(),
            retry_in: None,
        }
    }
}

/// Runs one job while renewing its lease, then records how it went.
async fn run(cx: &Context, options: &Options, worker: &str, job: Claimed) {
    let pool = cx.store.pool().clone();
    // The renewer ends when the lease is no longer this worker's (another took the job up
    // after a renewal could not get through): the work stops there, unrecorded, so two
    // workers never carry on with one job.
    let mut renewing = {
        let (pool, worker, lease, id) = (pool.clone(), worker.to_string(), options.lease, job.id);
        let every = (lease / 3).to_std().unwrap_or(Duration::from_secs(10));
        tokio::spawn(async move {
            let mut failed_since: Option<std::time::Instant> = None;
            loop {
                tokio::time::sleep(every).await;
                match store::jobs::renew(&pool, id, &worker, lease).await {
                    Ok(true) => failed_since = None,
                    Ok(false) => return,
                    Err(e) => {
                        tracing::warn!(job = %id, error = %e, "renewing a job's lease failed");
                        // Past the lease without a renewal: presumed taken up elsewhere.
                        let since = *failed_since.get_or_insert_with(std::time::Instant::now);
                        if since.elapsed() >= lease.to_std().unwrap_or_default() {
                            return;
                        }
                    }
                }
            }
        })
    };
    let outcome = tokio::select! {
        outcome = perform(cx, &job) => outcome,
        _ = &mut renewing => {
            tracing::warn!(job = %job.id, kind = job.kind, "lost the job's lease; stopped working on it");
            return;
        }
    };
    renewing.abort();
    let recorded = match &outcome {
        Ok(()) => store::jobs::complete(&pool, job.id, worker).await,
        Err(f) => {
            tracing::warn!(job = %job.id, kind = job.kind, attempt = job.attempt, error = f.message,
                "job failed");
            store::jobs::fail(
                &pool,
                job.id,
                worker,
                &f.message,
                f.retry_in.unwrap_or_else(|| backoff(job.attempt)),
                f.permanent,
            )
            .await
        }
    };
    if let Err(e) = recorded {
        // The lease runs out and the job is taken up again: at least once.
        tracing::warn!(job = %job.id, error = %e, "recording a job's outcome failed");
    }
}

/// The wait before attempt `attempt + 1`: 10 s, 20 s, 40 s... at most an hour.
pub fn backoff(attempt: i32) -> TimeDelta {
    let secs = 10i64.saturating_mul(1 << attempt.clamp(1, 12).saturating_sub(1));
    TimeDelta::seconds(secs.min(3600))
}

async fn perform(cx: &Context, job: &Claimed) -> Result<(), Failure> {
    match job.kind.as_str() {
        store::mail::SEND => send_email(cx, job).await,
        UPKEEP => Ok(store::migrate::maintain(cx.store.pool()).await?),
        RETENTION => Ok(store::retention::enforce_all(cx.store.pool(), Utc::now()).await?),
        // Each workspace's failure is logged by the sweep; the next minute's sweep tries again,
        // so a failed one is not retried on top of it.
        crate::alerts::SWEEP => {
            let _ = cx.alerts.all().await;
            Ok(())
        }
        store::webhooks::DELIVER => crate::webhooks::deliver(cx, job).await,
        // As with alerts: a workspace that failed is tried again by the next sweep.
        crate::reports::SWEEP => {
            let _ = cx.reports.sweep(Utc::now()).await;
            Ok(())
        }
        store::reports::SEND => cx.reports.send(job).await,
        store::gdpr::EXPORT_JOB | store::gdpr::ERASURE_JOB => gdpr_request(cx, job).await,
        PRUNE => {
            store::jobs::prune(cx.store.pool(), TimeDelta::days(7)).await?;
            Ok(())
        }
        other => Err(Failure {
            message: format!("no handler for jobs of kind {other:?}"),
            permanent: true,
            retry_in: None,
        }),
    }
}

/// A job died with its worker on its last attempt: what it was for is marked as given up
/// where people look (an e-mail as failed, a personal-data request as failed).
async fn given_up(cx: &Context, job: &Claimed) -> Result<(), Failure> {
    let (field, kind) = match job.kind.as_str() {
        store::mail::SEND => ("email", Gave::Mail),
        store::gdpr::EXPORT_JOB | store::gdpr::ERASURE_JOB => ("request", Gave::Request),
        _ => return Ok(()),
    };
    let (Some(tenant), Some(id)) = (
        job.tenant,
        job.payload
            .get(field)
            .and_then(|v| v.as_str())
            .and_then(|s| uuid::Uuid::parse_str(s).ok()),
    ) else {
        return Ok(());
    };
    let tenant = store::tenants::find_by_id(cx.store.pool(), tenant).await?;
    let mut tx = cx.store.tenant_tx(tenant.scope()).await?;
    match kind {
        Gave::Mail => {
            store::mail::attempt_failed(&mut tx, id, store::jobs::ABANDONED, true).await?
        }
        Gave::Request => store::gdpr::failed(&mut tx, id, store::jobs::ABANDONED).await?,
    }
    tx.commit().await?;
    Ok(())
}

enum Gave {
    Mail,
    Request,
}

/// Builds a person's export archive, or carries out their erasure from the step it reached.
/// A request whose job gives up is marked failed, so its admin sees it.
async fn gdpr_request(cx: &Context, job: &Claimed) -> Result<(), Failure> {
    let id = job
        .payload
        .get("request")
        .and_then(|v| v.as_str())
        .and_then(|s| uuid::Uuid::parse_str(s).ok())
        .ok_or_else(|| Failure {
            message: "the payload names no request".into(),
            permanent: true,
            retry_in: None,
        })?;
    let tenant_id = job.tenant.ok_or_else(|| Failure {
        message: "a request without a workspace".into(),
        permanent: true,
        retry_in: None,
    })?;
    let tenant = store::tenants::find_by_id(cx.store.pool(), tenant_id).await?;
    let scope = tenant.scope();
    let done = if job.kind == store::gdpr::ERASURE_JOB {
        store::gdpr::erase(cx.store.pool(), scope, id)
            .await
            .map(|_| ())
    } else {
        export(cx, scope, id).await
    };
    let failure = match done {
        Ok(()) => return Ok(()),
        Err(e) => Failure::from(e),
    };
    if failure.permanent || job.is_last_attempt() {
        let mut tx = cx.store.tenant_tx(scope).await?;
        store::gdpr::failed(&mut tx, id, &failure.message).await?;
        tx.commit().await?;
    }
    Err(failure)
}

async fn export(cx: &Context, scope: &store::TenantScope, id: uuid::Uuid) -> store::Result<()> {
    let mut tx = cx.store.tenant_tx(scope).await?;
    let r = store::gdpr::start(&mut tx, id).await?;
    if r.state != "running" {
        return Ok(());
    }
    let files = store::gdpr::export(&mut tx, store::UserId(r.user_id)).await?;
    let who = r.email.clone().unwrap_or_else(|| r.user_id.to_string());
    let (archive, counts) =
        crate::gdpr::archive(&who, Utc::now(), &files).map_err(|e| store::Error::Invalid {
            field: "archive",
            reason: e.to_string().into(),
        })?;
    store::gdpr::save_archive(&mut tx, id, &archive, &counts).await?;
    tx.commit().await
}

/// Delivers one queued e-mail. Safe to repeat: a message recorded as sent is not sent again.
async fn send_email(cx: &Context, job: &Claimed) -> Result<(), Failure> {
    let id = job
        .payload
        .get("email")
        .and_then(|v| v.as_str())
        .and_then(|s| uuid::Uuid::parse_str(s).ok())
        .ok_or_else(|| Failure {
            message: "the payload names no e-mail".into(),
            permanent: true,
            retry_in: None,
        })?;
    let tenant_id = job.tenant.ok_or_else(|| Failure {
        message: "an e-mail job without a workspace".into(),
        permanent: true,
        retry_in: None,
    })?;
    let tenant = store::tenants::find_by_id(cx.store.pool(), tenant_id).await?;
    // The e-mail's row stays locked until its outcome is recorded, so a second worker on the
    // same job (after a lost lease) waits, then finds it sent. An instance that dies after the
    // SMTP server took the message but before the commit sends it again: at least once.
    let mut tx = cx.store.tenant_tx(tenant.scope()).await?;
    let Some(outgoing) = store::mail::outgoing(&mut tx, &cx.sealer, id).await? else {
        return Ok(());
    };
    // A report's e-mail attaches its sending's files; a report deleted meanwhile took them.
    let mut attachments = Vec::new();
    if let store::mail::Message::Report { run, .. } = &outgoing.message {
        match store::reports::files(&mut tx, *run).await {
            Ok(files) => {
                attachments = files
                    .into_iter()
                    .map(|f| mail::Attachment {
                        name: f.name,
                        content_type: f.content_type.into(),
                        bytes: f.bytes,
                    })
                    .collect()
            }
            Err(store::Error::NotFound(_)) => {
                let why = "its report was deleted before it went out";
                store::mail::attempt_failed(&mut tx, id, why, true).await?;
                tx.commit().await?;
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
    }
    let sent = if tenant.status != store::TenantStatus::Active {
        Err(mail::SendError {
            message: "the workspace is suspended".into(),
            permanent: true,
        })
    } else {
        let mut rendered = mail::render(&outgoing.message, &tenant.name);
        rendered.attachments = attachments;
        cx.mailer
            .send(id, outgoing.to.as_str(), &rendered)
            .await
            .map(|via| (rendered.subject, via))
    };
    let result = match &sent {
        Ok((subject, via)) => {
            store::mail::delivered(&mut tx, id, subject, via).await?;
            Ok(())
        }
        Err(e) => {
            let given_up = e.permanent || job.is_last_attempt();
            store::mail::attempt_failed(&mut tx, id, &e.message, given_up).await?;
            Err(Failure {
                message: e.message.clone(),
                permanent: e.permanent,
                retry_in: None,
            })
        }
    };
    tx.commit().await?;
    result
}

/// Keeps trying to become the scheduler; while it is, queues each schedule's due run. The
/// lock lives on a connection of its own: if that connection or this instance dies, the
/// lock goes with it and another instance takes over within a tick.
async fn schedule(
    store: Store,
    options: Options,
    scheduling: Arc<AtomicBool>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut lock: Option<sqlx::PgConnection> = None;
    loop {
        let leading = match lock.as_mut() {
            // A half-open connection must not hold the scheduler (or shutdown) for minutes.
            Some(conn) => matches!(
                tokio::time::timeout(CHECK, sqlx::query("SELECT 1").execute(&mut *conn)).await,
                Ok(Ok(_))
            ),
            None => match tokio::time::timeout(CHECK, try_lock(&store)).await {
                Ok(Ok(conn)) => {
                    lock = conn;
                    lock.is_some()
                }
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "cannot ask for the scheduler lock");
                    false
                }
                Err(_) => false,
            },
        };
        if !leading {
            lock = None;
        }
        scheduling.store(leading, Ordering::Relaxed);
        if leading {
            let now = Utc::now();
            for s in &options.schedules {
                let Some(due) = s.due(now) else { continue };
                if let Err(e) = store::jobs::schedule(store.pool(), s.name, due, s.kind).await {
                    tracing::warn!(schedule = s.name, error = %e, "queueing a scheduled job failed");
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(options.tick) => {}
            _ = shutdown.changed() => break,
        }
    }
    scheduling.store(false, Ordering::Relaxed);
    if let Some(conn) = lock {
        let _ = conn.close().await;
    }
}

/// A connection holding the scheduler lock, or `None` when another instance holds it.
async fn try_lock(store: &Store) -> Result<Option<sqlx::PgConnection>, sqlx::Error> {
    let options = store.session_pool().connect_options();
    let mut conn = sqlx::PgConnection::connect_with(&options).await?;
    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(SCHEDULER_LOCK)
        .fetch_one(&mut conn)
        .await?;
    if got {
        Ok(Some(conn))
    } else {
        let _ = conn.close().await;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_ten_seconds_up_to_an_hour() {
        let secs: Vec<i64> = (1..=12).map(|a| backoff(a).num_seconds()).collect();
        assert_eq!(&secs[..6], &[10, 20, 40, 80, 160, 320]);
        assert_eq!(secs[9], 3600);
        assert_eq!(backoff(40).num_seconds(), 3600);
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_run_is_due_from_the_last_time_its_pattern_names() {
        let hourly = Schedule::new("x", "x", "0 * * * *").unwrap();
        assert_eq!(
            hourly.due(at("2026-12-04T16:42:10Z")),
            Some(at("2026-12-04T16:00:00Z"))
        );
        assert_eq!(
            hourly.due(at("2026-12-04T16:00:00Z")),
            Some(at("2026-12-04T16:00:00Z"))
        );
        assert_eq!(
            hourly.next(at("2026-12-04T16:00:00Z")),
            Some(at("2026-12-04T17:00:00Z"))
        );
        // Weekdays at 09:30: Friday's run is due all weekend, Monday's comes next.
        let workdays = Schedule::new("x", "x", "30 9 * * MON-FRI").unwrap();
        let sunday = at("2026-12-06T12:00:00Z");
        assert_eq!(workdays.due(sunday), Some(at("2026-12-04T09:30:00Z")));
        assert_eq!(workdays.next(sunday), Some(at("2026-12-07T09:30:00Z")));
        // The last day of the month, and seconds when a sixth field is given.
        let month_end = Schedule::new("x", "x", "0 0 L * *").unwrap();
        assert_eq!(
            month_end.next(at("2027-02-10T00:00:00Z")),
            Some(at("2027-02-28T00:00:00Z"))
        );
        let every_second = Schedule::new("x", "x", "* * * * * *").unwrap();
        assert_eq!(
            every_second.due(at("2026-12-04T16:42:10.5Z")),
            Some(at("2026-12-04T16:42:10Z"))
        );
    }

    #[test]
    fn a_bad_or_never_firing_pattern_is_refused_with_its_reason() {
        assert!(Schedule::new("x", "x", "every hour")
            .unwrap_err()
            .contains("not a cron pattern"));
        assert!(Schedule::new("x", "x", "0 0 * * * * * *").is_err());
        assert_eq!(
            Schedule::new("x", "x", "0 0 31 2 *").unwrap_err(),
            "never fires"
        );
    }

    #[test]
    fn configuration_replaces_a_default_and_names_a_bad_one() {
        let list =
            schedules(|v| (v == "DEVPULSE_SCHEDULE_RETENTION").then(|| "0 4 * * SUN".into()))
                .unwrap();
        let retention = list.iter().find(|s| s.name == "retention").unwrap();
        assert_eq!(retention.pattern, "0 4 * * SUN");
        assert_eq!(list.len(), DEFAULT_SCHEDULES.len());
        let (var, value, _) =
            schedules(|v| (v == "DEVPULSE_SCHEDULE_UPKEEP").then(|| "soon".into())).unwrap_err();
        assert_eq!((var, value.as_str()), ("DEVPULSE_SCHEDULE_UPKEEP", "soon"));
    }
}
