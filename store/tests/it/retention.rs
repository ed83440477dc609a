//! Retention: with six months of events and a 30-day policy, exactly the older raw events (and
//! the rows derived from them) go, rollups go by their own policy, the last 30 days read the
//! same, ingestion carries on throughout, and import batches that lost rows stop rolling back.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use store::{
    events::{Event, Kind, Source},
    imports,
    retention::{self, Policy},
};

use crate::helpers::{usage, Tenant};

/// A day of work `days` ago: a session start, a tool run, a request and a prompt.
fn day_of_work(t: &Tenant, now: DateTime<Utc>, days: i64, tag: &str) -> Vec<Event> {
    let at = now - TimeDelta::days(days) - TimeDelta::hours(1);
    let session = format!("s-{tag}-{days}");
    let ev = |key: String, kind: Kind, secs: i64| {
        let mut e = Event::new(
            key,
            kind,
            Source::Hook,
            at + TimeDelta::seconds(secs),
            t.user,
        );
        e.session_id = Some(session.clone());
        e
    };
    let run = format!("toolu-{tag}-{days}");
    let mut start = ev(
        format!("pre:{run}"),
        Kind::ToolStart {
            tool_use_id: run.clone(),
        },
        1,
    );
    start.tool = Some("Bash".into());
    let mut end = ev(
        format!("post:{run}"),
        Kind::ToolEnd {
            tool_use_id: run.clone(),
        },
        2,
    );
    end.tool = Some("Bash".into());
    end.success = Some(true);
    let mut request = ev(
        format!("req:{tag}-{days}"),
        Kind::ApiRequest {
            request_id: format!("req-{tag}-{days}"),
        },
        3,
    );
    request.model = Some("claude-sonnet-4-5".into());
    request.usage = Some(usage(100 + days, 10, 0.01));
    vec![
        ev(
            format!("start:{session}"),
            Kind::SessionStart { source: None },
            0,
        ),
        start,
        end,
        request,
        ev(
            format!("prompt:{tag}-{days}"),
            Kind::Prompt {
                prompt_id: Some(format!("p-{tag}-{days}")),
            },
            4,
        ),
    ]
}

async fn scalar(t: &Tenant, sql: &str, at: DateTime<Utc>) -> i64 {
    let mut tx = t.tx().await;
    sqlx::query_scalar(sql)
        .bind(at)
        .fetch_one(&mut *tx)
        .await
        .unwrap()
}

/// The last 30 whole UTC days as the dashboard reads them (day rollups).
async fn last_30_days(t: &Tenant, now: DateTime<Utc>) -> store::rollups::Totals {
    let to = now.duration_trunc(TimeDelta::days(1)).unwrap() + TimeDelta::days(1);
    let range = types::TimeRange::new(to - TimeDelta::days(30), to).unwrap();
    let mut tx = t.tx().await;
    let s = store::rollups::summary(&mut tx, range, None).await.unwrap();
    assert_eq!(s.grain, types::Grain::Day);
    s.total
}

async fn set(t: &Tenant, policy: Policy) {
    let mut tx = t.tx().await;
    retention::set(&mut tx, &store::audit::Actor::cli(), policy, true)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_30_day_policy_removes_exactly_the_older_raw_events_while_ingestion_goes_on() {
    let t = Tenant::new().await;
    let pool = t.db.store.pool().clone();
    let now = Utc::now();
    for days in 0..182 {
        t.write(&mut day_of_work(&t, now, days, "live")).await;
    }
    // An import of old history (kept whole until retention reaches it) and a recent one.
    let mut batches = Vec::new();
    for (tag, days) in [("old", 100), ("new", 3)] {
        let mut tx = t.tx().await;
        let b = imports::create(&mut tx, t.user, "test", None)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let mut events = day_of_work(&t, now, days, tag);
        for e in &mut events {
            e.source = Source::Import;
            e.import_batch = Some(b.id.0);
        }
        t.write(&mut events).await;
        batches.push(b.id);
    }
    // The months' partitions, as hourly upkeep makes them.
    store::migrate::maintain(&pool).await.unwrap();

    let cutoff = now - TimeDelta::days(30);
    let older =
        |table: &str, column: &str| format!("SELECT count(*) FROM {table} WHERE {column} < $1");
    let newer =
        |table: &str, column: &str| format!("SELECT count(*) FROM {table} WHERE {column} >= $1");
    let raw_old = scalar(&t, &older("events", "occurred_at"), cutoff).await;
    let raw_kept = scalar(&t, &newer("events", "occurred_at"), cutoff).await;
    let mut derived_old = 0;
    for (table, column) in [
        ("tool_runs", "started_at"),
        ("api_requests", "at"),
        ("prompts", "at"),
    ] {
        derived_old += scalar(&t, &older(table, column), cutoff).await;
    }
    let minute_old = scalar(
        &t,
        "SELECT count(*) FROM rollups WHERE grain = 'm' AND bucket < $1",
        cutoff,
    )
    .await;
    let coarse = scalar(
        &t,
        "SELECT count(*) FROM rollups WHERE grain <> 'm' AND bucket < $1",
        now,
    )
    .await;
    assert_eq!(
        raw_old,
        152 * 5 + 5,
        "150 days of live work and the old import"
    );
    let before = last_30_days(&t, now).await;

    let policy = Policy {
        raw_days: Some(30),
        minute_days: Some(30),
        hour_days: None,
        day_days: None,
    };
    // Shortening is refused until confirmed, naming what would go.
    let mut tx = t.tx().await;
    let refused = retention::set(&mut tx, &store::audit::Actor::cli(), policy, false)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, store::Error::Invalid { field: "confirm", reason } if reason.contains(&format!("{raw_old} raw events"))),
        "{refused:?}"
    );
    drop(tx);
    let preview = {
        let mut tx = t.tx().await;
        retention::preview(&mut tx, &policy, now).await.unwrap()
    };
    assert_eq!(preview.raw_events, raw_old);
    assert_eq!(preview.derived_rows, derived_old);
    assert_eq!(preview.minute_rollups, minute_old);
    assert_eq!((preview.hour_rollups, preview.day_rollups), (0, 0));
    assert_eq!(preview.import_batches, 1);
    set(&t, policy).await;

    // Ingestion runs all through the enforcement, and every write succeeds.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, store, scope, user) = (
            stop.clone(),
            t.db.store.clone(),
            t.tenant.scope().clone(),
            t.user,
        );
        tokio::spawn(async move {
            let mut written = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || written < 20 {
                let e = Event::new(
                    format!("during:{written}"),
                    Kind::Other,
                    Source::Api,
                    Utc::now(),
                    user,
                );
                let mut tx = store::TenantTx::begin(store.pool(), &scope).await.unwrap();
                store::events::write(&mut tx, &mut [e]).await.unwrap();
                tx.commit().await.unwrap();
                written += 1;
            }
            written
        })
    };
    let out = retention::enforce(&pool, t.tenant.scope(), now)
        .await
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let during = writer.await.unwrap();

    assert_eq!(out.raw_events, raw_old, "{out:?}");
    assert_eq!(out.derived_rows, derived_old);
    assert_eq!(out.minute_rollups, minute_old);
    assert_eq!(out.import_batches_trimmed, 1);
    assert!(
        out.partitions_dropped.len() >= 3,
        "whole months go by partition: {out:?}"
    );
    assert_eq!(scalar(&t, &older("events", "occurred_at"), cutoff).await, 0);
    assert_eq!(
        scalar(&t, &newer("events", "occurred_at"), cutoff).await,
        raw_kept + during as i64,
        "everything newer stays, and everything written during the run is stored"
    );
    for (table, column) in [
        ("tool_runs", "started_at"),
        ("api_requests", "at"),
        ("prompts", "at"),
        ("counter_usage", "bucket"),
    ] {
        assert_eq!(
            scalar(&t, &older(table, column), cutoff).await,
            0,
            "{table}"
        );
    }
    assert_eq!(
        scalar(
            &t,
            "SELECT count(*) FROM rollups WHERE grain = 'm' AND bucket < $1",
            cutoff
        )
        .await,
        0
    );
    assert_eq!(
        scalar(
            &t,
            "SELECT count(*) FROM rollups WHERE grain <> 'm' AND bucket < $1",
            now
        )
        .await,
        coarse,
        "hour and day rollups are kept"
    );
    // The per-person sums went with the rows they sum (a snapshot checks they agree).
    t.snapshot().await;
    assert_eq!(
        t.count("sessions").await,
        182 + 2,
        "sessions are summaries and stay"
    );
    // (What was written during the run belongs to no session and counts in no rollup.)
    assert_eq!(
        last_30_days(&t, now).await,
        before,
        "the last 30 days read the same"
    );

    // The old import lost rows: it no longer rolls back. The recent one still does.
    let mut tx = t.tx().await;
    let e = imports::rollback(
        &mut tx,
        &store::audit::Actor::cli(),
        imports::Whose::Own(t.user),
        batches[0],
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, store::Error::Conflict(ref m) if m.contains("retention")),
        "{e:?}"
    );
    drop(tx);
    let mut tx = t.tx().await;
    imports::rollback(
        &mut tx,
        &store::audit::Actor::cli(),
        imports::Whose::Own(t.user),
        batches[1],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    // Recorded, and a second run has nothing left to do.
    let mut tx = t.tx().await;
    let r = retention::get(&mut tx).await.unwrap();
    assert_eq!(r.policy, policy);
    assert_eq!(r.last_run.unwrap().outcome, out);
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'retention.enforced' AND actor = 'system'",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(audited, 1);
    drop(tx);
    let again = retention::enforce(&pool, t.tenant.scope(), now)
        .await
        .unwrap();
    assert!(!again.removed_anything(), "{again:?}");
}

#[tokio::test]
async fn a_busy_events_table_is_trimmed_row_by_row_instead_of_waiting() {
    let t = Tenant::new().await;
    let pool = t.db.store.pool().clone();
    let now = Utc::now();
    for days in [5, 70, 100, 130] {
        t.write(&mut day_of_work(&t, now, days, "x")).await;
    }
    store::migrate::maintain(&pool).await.unwrap();
    set(
        &t,
        Policy {
            raw_days: Some(30),
            ..Policy::default()
        },
    )
    .await;
    // A long transaction holding `events` (as a slow ingest or rollback would).
    let mut holder = t.tx().await;
    sqlx::query("LOCK TABLE events IN ROW EXCLUSIVE MODE")
        .execute(&mut *holder)
        .await
        .unwrap();
    let out = retention::enforce(&pool, t.tenant.scope(), now)
        .await
        .unwrap();
    holder.rollback().await.unwrap();
    assert!(out.partitions_dropped.is_empty(), "{out:?}");
    assert_eq!(out.raw_events, 15);
    assert_eq!(t.count("events").await, 5);
    // The emptied months' partitions go on a later run, when the lock comes.
    let later = retention::enforce(&pool, t.tenant.scope(), now)
        .await
        .unwrap();
    assert_eq!(later.raw_events, 0);
    assert!(!later.partitions_dropped.is_empty(), "{later:?}");
}

#[tokio::test]
async fn forever_is_the_default_and_removes_nothing() {
    let t = Tenant::new().await;
    let now = Utc::now();
    t.write(&mut day_of_work(&t, now, 400, "ancient")).await;
    let out = retention::enforce(t.db.store.pool(), t.tenant.scope(), now)
        .await
        .unwrap();
    assert!(!out.removed_anything());
    assert_eq!(t.count("events").await, 5);
    let mut tx = t.tx().await;
    assert!(retention::get(&mut tx).await.unwrap().policy.forever());
}

/// A scheduled report keeps the files of its latest sendings only: storing one more than
/// [`store::reports::KEPT_RUNS`] drops the oldest, never the one just stored, and a job that
/// stored its sending already stores nothing (and drops nothing).
#[tokio::test]
async fn a_report_keeps_only_its_latest_sendings() {
    use store::reports::{record_run, Period, Sending, KEPT_RUNS};
    let t = Tenant::new().await;
    let report = uuid::Uuid::new_v4();
    let mut tx = t.tx().await;
    sqlx::query(
        "INSERT INTO reports (id, owner_id, name, cadence, recipients, next_at)
         VALUES ($1, $2, 'Weekly', 'weekly', '{}', now())",
    )
    .bind(report)
    .bind(t.user.0)
    .execute(&mut *tx)
    .await
    .unwrap();
    let owner = store::dashboard::Reader::of(&mut tx, t.user, store::Role::Developer)
        .await
        .unwrap()
        .expect("a developer reads the dashboard");
    tx.commit().await.unwrap();
    let day = Utc::now().date_naive();
    let sending = Sending {
        id: types::ReportId(report),
        name: "Weekly".into(),
        owner,
        board: None,
        filters: Default::default(),
        team_name: None,
        period: Period {
            first_day: day,
            last_day: day,
            from: Utc::now(),
            to: Utc::now(),
        },
        recipients: vec![],
        names_people: true,
    };
    // Each sending in a transaction of its own, as each job stores one.
    for job in 1..=KEPT_RUNS + 3 {
        let mut tx = t.tx().await;
        let stored = record_run(&mut tx, &sending, job, None, None, "day,cost\n")
            .await
            .unwrap();
        assert!(stored.is_some());
        tx.commit().await.unwrap();
    }
    let mut tx = t.tx().await;
    let again = record_run(&mut tx, &sending, KEPT_RUNS + 3, None, None, "x")
        .await
        .unwrap();
    assert_eq!(again, None, "a retried job stores its sending once");
    let jobs: Vec<i64> = sqlx::query_scalar("SELECT job_id FROM report_runs ORDER BY job_id")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(jobs, (4..=KEPT_RUNS + 3).collect::<Vec<_>>());
}
