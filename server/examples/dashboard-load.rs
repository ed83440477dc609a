//! Fills a new tenant with a dashboard's worth of Claude Code activity, for benchmarks: by
//! default 10 million events from 50 people over the last 90 days, made by the demo's
//! generator (`server::demo`) and written in-process through the server's `Writer`, the path
//! every ingest endpoint ends in (decoded by the batch API's and OTLP's decoders first), into
//! `DATABASE_URL` or the embedded cluster under `DEVPULSE_BENCH_DATA_DIR` (`.data/bench`).
//!
//!     cargo run --release -p server --example dashboard-load
//!     cargo run -p server --example dashboard-load -- --events 200000 --people 50 --days 90
//!
//! Prints progress week by week, events per second, and how to sign in to the tenant (start
//! the server on the same database: `DEVPULSE_DATA_DIR=.data/bench make run`).

use std::time::Instant;

use chrono::{DurationRound, TimeDelta, Utc};
use server::{
    demo::{
        self,
        activity::{self, Person, Plan},
    },
    Config,
};

mod common;

// The same allocator as the server binary, so the figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SEED: u64 = 0x10ad;
const TEAMS: &[&str] = &["Platform", "Payments", "Data", "Mobile", "Growth"];

fn flag(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        None => default,
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.replace('_', "").parse().ok())
            .unwrap_or_else(|| panic!("{name} takes a whole number")),
    }
}

#[tokio::main]
async fn main() {
    let events = flag("--events", 10_000_000);
    let people = flag("--people", 50) as usize;
    let days = flag("--days", 90) as i64;
    let data_dir =
        std::env::var("DEVPULSE_BENCH_DATA_DIR").unwrap_or_else(|_| ".data/bench".into());
    let config = Config::from_lookup(|k| match k {
        "DEVPULSE_DATA_DIR" => Some(data_dir.clone()),
        "DATABASE_URL" => std::env::var("DATABASE_URL").ok(),
        _ => None,
    })
    .expect("config");
    if std::env::var_os("RUST_LOG").is_some() {
        server::init_tracing(&config.log_format);
    }
    let db = server::database::Database::open(&config)
        .await
        .expect("database");
    let (tenant, slug, _) = common::tenant_with_key(&db, "load").await;
    let crowd = activity::crowd(people, SEED);
    let users = staff(&db, &tenant, &slug, &crowd).await;
    let people: Vec<Person> = crowd.into_iter().map(|(_, p)| p).collect();

    let now = Utc::now();
    let from = now.duration_trunc(TimeDelta::days(1)).unwrap() - TimeDelta::days(days);
    let scale = calibrate(&people, from, days, events);
    println!(
        "dashboard-load: {events} events, {} people, {days} days (sessions x{scale:.2}), {} build, {} cores",
        people.len(),
        if cfg!(debug_assertions) { "debug" } else { "release" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );

    let bus = server::bus::Bus::start(None);
    let (writer, writing) = server::ingest::Writer::start(db.store.clone(), bus);
    let (_keep, stop) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let (mut written, mut sessions) = (0u64, 0u64);
    let mut week = from;
    // A week at a time, oldest first, for progress; the last is cut at `events`.
    while week < now && written < events {
        let plan = Plan {
            seed: SEED,
            from: week,
            until: (week + TimeDelta::days(7)).min(now),
            scale,
        };
        let w = demo::write(
            &writer,
            tenant.scope(),
            users.clone(),
            activity::history(people.clone(), plan),
            Some(events - written),
            stop.clone(),
        )
        .await
        .expect("write");
        written += w.events;
        sessions += w.sessions;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "  through {}: {written} events ({} new this week), {:.0} events/s",
            plan.until.format("%Y-%m-%d"),
            w.new,
            written as f64 / secs
        );
        week = plan.until;
    }
    if written >= events {
        // The calibration is a sample: the generator would have made a little more.
        println!("  (stopped at {events} events: the last week ends early)");
    }
    drop(writer);
    writing.await.expect("writer");
    let secs = started.elapsed().as_secs_f64();
    println!(
        "wrote {written} events in {sessions} sessions in {secs:.1} s = {:.0} events/s",
        written as f64 / secs
    );
    println!("tenant `{slug}`: sign in as bench@bench.test / bench-password-123");
    db.close().await;
}

/// The crowd's people in the new tenant, in teams, in `crowd`'s order.
async fn staff(
    db: &server::database::Database,
    tenant: &store::Tenant,
    slug: &str,
    crowd: &[(String, Person)],
) -> Vec<store::UserId> {
    let actor = store::audit::Actor::cli();
    let emails: Vec<store::Email> = crowd
        .iter()
        .map(|(_, p)| store::Email::parse(&format!("{}@{slug}.test", p.login)).unwrap())
        .collect();
    for ((name, _), email) in crowd.iter().zip(&emails) {
        // Nobody signs in as them: a generated password, never shown.
        let role = store::Role::Developer;
        server::tenancy::create_user(&db.store, tenant, email, name, role, None, &actor)
            .await
            .unwrap();
    }
    let mut tx = db.store.tenant_tx(tenant.scope()).await.unwrap();
    let mut teams = Vec::new();
    for name in TEAMS {
        teams.push(
            store::teams::create(&mut tx, &actor, name)
                .await
                .unwrap()
                .id,
        );
    }
    let mut users = Vec::new();
    for (i, email) in emails.iter().enumerate() {
        let user = store::accounts::find_by_email(&mut tx, email)
            .await
            .unwrap();
        let team = teams[i % teams.len()];
        store::teams::set_member(&mut tx, &actor, team, user.id, false)
            .await
            .unwrap();
        users.push(user.id);
    }
    tx.commit().await.unwrap();
    users
}

/// The sessions-per-day multiplier that makes about `events` over `days`: the first two weeks,
/// counted, stand for the rest. Twice, since weekends do not scale with it.
fn calibrate(people: &[Person], from: chrono::DateTime<Utc>, days: i64, events: u64) -> f64 {
    let sample_days = days.min(14);
    let per_day = |scale| {
        let plan = Plan {
            seed: SEED,
            from,
            until: from + TimeDelta::days(sample_days),
            scale,
        };
        let made: usize = activity::history(people.to_vec(), plan)
            .map(|s| s.items.len())
            .sum();
        made.max(1) as f64 / sample_days as f64
    };
    let wanted = events as f64 / days as f64;
    let first = wanted / per_day(1.0);
    first * wanted / per_day(first)
}
