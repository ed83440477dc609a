//! A tenant full of Claude Code activity, made by the demo's generator (`server::demo`) and
//! written through the server's `Writer`: what `dashboard-load` and `dashboard-bench` stand on.

use std::time::Instant;

use chrono::{DurationRound, TimeDelta, Utc};
use server::demo::{
    self,
    activity::{self, Person, Plan},
};

const SEED: u64 = 0x10ad;
pub const TEAMS: &[&str] = &["Platform", "Payments", "Data", "Mobile", "Growth"];

/// What [`fill`] made.
pub struct Filled {
    pub tenant: store::Tenant,
    pub slug: String,
    /// The crowd, in order; `users[i]` is in `teams[i % teams.len()]`.
    pub users: Vec<store::UserId>,
    pub teams: Vec<store::teams::TeamId>,
    pub events: u64,
}

/// A new tenant (`<prefix><ms>`) whose admin is bench@bench.test / bench-password-123, with
/// `people` developers in five teams and about `events` events over the last `days` days.
/// Prints progress week by week and the rate.
pub async fn fill(
    db: &server::database::Database,
    prefix: &str,
    events: u64,
    people: usize,
    days: i64,
) -> Filled {
    let (tenant, slug, _) = super::tenant_with_key(db, prefix).await;
    let crowd = activity::crowd(people, SEED);
    let (users, teams) = staff(db, &tenant, &slug, &crowd).await;
    let people: Vec<Person> = crowd.into_iter().map(|(_, p)| p).collect();

    let now = Utc::now();
    let from = now.duration_trunc(TimeDelta::days(1)).unwrap() - TimeDelta::days(days);
    let scale = calibrate(&people, from, days, events);
    println!(
        "filling: {events} events, {} people, {days} days (sessions x{scale:.2}), {} build, {} cores",
        people.len(),
        if cfg!(debug_assertions) { "debug" } else { "release" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );

    let bus = server::bus::Bus::start(None, db.store.answers().clone());
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
    Filled {
        tenant,
        slug,
        users,
        teams,
        events: written,
    }
}

/// The tenant an earlier [`fill`] made with `prefix` in this database (the newest, when
/// several), so a benchmark can be run again without filling for minutes; `None` if there is
/// none. `people` must be what that fill was given.
pub async fn reuse(db: &server::database::Database, prefix: &str, people: usize) -> Option<Filled> {
    let tenant = store::tenants::list(db.store.pool())
        .await
        .ok()?
        .into_iter()
        .filter(|t| t.slug.as_str().starts_with(prefix))
        .max_by_key(|t| t.slug.as_str().to_string())?;
    let slug = tenant.slug.as_str().to_string();
    let mut tx = db.store.tenant_tx(tenant.scope()).await.ok()?;
    let all = store::teams::list(&mut tx, store::teams::Visible::All)
        .await
        .ok()?;
    let teams = TEAMS
        .iter()
        .map(|name| all.iter().find(|t| t.name == *name).map(|t| t.id))
        .collect::<Option<Vec<_>>>()?;
    let mut users = Vec::new();
    for (_, p) in activity::crowd(people, SEED) {
        let email = store::Email::parse(&format!("{}@{slug}.test", p.login)).ok()?;
        users.push(
            store::accounts::find_by_email(&mut tx, &email)
                .await
                .ok()?
                .id,
        );
    }
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&mut *tx)
        .await
        .ok()?;
    tx.commit().await.ok()?;
    println!("reusing tenant `{slug}`: {events} events");
    Some(Filled {
        tenant,
        slug,
        users,
        teams,
        events: events as u64,
    })
}

/// The crowd's people in the new tenant, in teams, in `crowd`'s order.
async fn staff(
    db: &server::database::Database,
    tenant: &store::Tenant,
    slug: &str,
    crowd: &[(String, Person)],
) -> (Vec<store::UserId>, Vec<store::teams::TeamId>) {
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
    (users, teams)
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
