//! The demo workspace, lived in. `tenancy::seed_demo` creates who can sign in; this module adds
//! eight developers in three teams, a month of Claude Code activity behind them (`history`)
//! and, with `DEVPULSE_DEMO_LIVE`, a few of them at work right now (`live`). Everything goes
//! through the write path real traffic takes — the batch API's and OTLP's decoders, then the
//! `Writer` — so sessions, tool runs, requests and rollups are filled as for real data.
//! `examples/dashboard-load.rs` fills a benchmark tenant with the same generator.

pub mod activity;
pub mod live;
pub mod random;
pub mod session;

use std::collections::BTreeMap;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use futures::StreamExt;
use opentelemetry_proto::tonic::{
    collector::{logs::v1::ExportLogsServiceRequest, metrics::v1::ExportMetricsServiceRequest},
    common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue},
    logs::v1::{LogRecord, ResourceLogs, ScopeLogs},
    metrics::v1::{
        metric, number_data_point, AggregationTemporality, Metric, NumberDataPoint,
        ResourceMetrics, ScopeMetrics, Sum,
    },
    resource::v1::Resource,
};
use store::{
    accounts::{self, Email},
    audit::Actor,
    events::Event,
    teams, Role, Slug, Store, Tenant, TenantScope, UserId,
};
use tokio::{sync::watch, task::JoinHandle};

use crate::{
    config::Config,
    database::Database,
    error::ApiError,
    ingest::{batch, otlp, Writer},
    tenancy,
};
use activity::{Person, Plan, PROJECTS};
use session::{Item, Session, Timed};

/// The demo's history is made from this seed: a given date looks the same in every demo
/// workspace that has it.
pub const SEED: u64 = 0x00de_3001_5eed;
/// How far back the history goes, besides today.
pub const HISTORY_DAYS: i64 = 30;
/// Events per write: large enough that a transaction's fixed costs vanish, small enough
/// that two in flight leave room in the writer's queue for real traffic.
const CHUNK: usize = 5_000;

/// A demo developer: who they are in the workspace, and how they work.
pub struct Developer {
    pub name: &'static str,
    pub email: &'static str,
    pub team: &'static str,
    pub person: Person,
}

/// The demo's teams, and whether manager@demo.test manages each: not the last, so a
/// manager's numbers visibly differ from an admin's. (Platform is `seed_demo`'s.)
pub const TEAMS: &[(&str, bool)] = &[("Platform", true), ("Payments", true), ("Data", false)];

fn projects(names: &[&str]) -> Vec<activity::Project> {
    PROJECTS
        .iter()
        .filter(|p| names.contains(&p.name))
        .cloned()
        .collect()
}

/// The demo's developers: dev@demo.test (who signs in) and eight more. One works heavily on
/// Opus, weekends included; one barely uses Claude Code.
pub fn developers() -> Vec<Developer> {
    let person =
        |login: &str, offset_h: f64, per_day: f64, opus: f64, haiku: f64, p: &[&str]| Person {
            login: login.into(),
            utc_offset_minutes: (offset_h * 60.0) as i32,
            sessions_per_day: per_day,
            weekends: false,
            opus,
            haiku,
            projects: projects(p),
        };
    let platform = ["platform-infra", "auth-service"];
    let payments = ["payments-api", "checkout-web", "android-app"];
    let data = ["etl-pipelines", "ml-features", "warehouse-models"];
    let dev = |name, email, team, person| Developer {
        name,
        email,
        team,
        person,
    };
    vec![
        dev(
            "",
            "dev@demo.test",
            "Platform",
            person("dev", 1.0, 3.0, 0.1, 0.1, &platform),
        ),
        dev(
            "Aiko Tanaka",
            "aiko@demo.test",
            "Platform",
            person("aiko", -3.0, 3.5, 0.1, 0.05, &platform),
        ),
        dev(
            "Bruno Costa",
            "bruno@demo.test",
            "Platform",
            Person {
                weekends: true,
                ..person(
                    "bruno",
                    -3.0,
                    5.0,
                    0.75,
                    0.05,
                    &["platform-infra", "auth-service", "payments-api"],
                )
            },
        ),
        dev(
            "Chloé Martin",
            "chloe@demo.test",
            "Payments",
            person("chloe", 1.0, 3.0, 0.15, 0.1, &payments[..2]),
        ),
        dev(
            "Daniel Okafor",
            "daniel@demo.test",
            "Payments",
            person(
                "daniel",
                1.0,
                3.5,
                0.1,
                0.1,
                &["payments-api", "android-app"],
            ),
        ),
        dev(
            "Emma Schulz",
            "emma@demo.test",
            "Payments",
            person("emma", 1.0, 0.4, 0.0, 0.2, &["checkout-web"]),
        ),
        dev(
            "Farid Haddad",
            "farid@demo.test",
            "Data",
            person(
                "farid",
                4.0,
                2.5,
                0.1,
                0.1,
                &["etl-pipelines", "warehouse-models"],
            ),
        ),
        dev(
            "Grace Kim",
            "grace@demo.test",
            "Data",
            person("grace", -5.0, 3.0, 0.1, 0.3, &data[1..2]),
        ),
        dev(
            "Hugo Pereira",
            "hugo@demo.test",
            "Data",
            person("hugo", 0.0, 2.5, 0.1, 0.1, &data[..2]),
        ),
    ]
}

/// At start-up: on an empty database, when the configuration asks for the demo, creates it —
/// who can sign in (printed), its developers and teams, then, in the background, a month of
/// history — and, with `DEVPULSE_DEMO_LIVE` on, starts the live activity. Returns the
/// background tasks; they end with the shutdown signal.
pub async fn start(
    config: &Config,
    db: &Database,
    writer: &Writer,
    shutdown: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let embedded = db.mode == "embedded";
    let mut tasks = Vec::new();
    if config.seeds_demo(embedded) {
        match tenancy::seed_demo(&db.store, config.demo_superadmin_password.clone()).await {
            Ok(Some(people)) => {
                println!("Demo workspace `demo` created. Sign in with:");
                for (email, role, password) in people {
                    println!("  {role:<13} {email:<22} {password}");
                }
                match staff(&db.store).await {
                    // Some 60,000 events: several seconds in a debug build, so the server
                    // listens meanwhile and the dashboards fill as one watches.
                    Ok((tenant, users)) => tasks.push(tokio::spawn(write_history(
                        writer.clone(),
                        tenant,
                        users,
                        shutdown.clone(),
                    ))),
                    Err(e) => tracing::warn!("demo developers not created: {e}"),
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("demo data not created: {e}"),
        }
    }
    if config.demo_live(embedded) {
        tasks.push(tokio::spawn(live::run(
            db.store.clone(),
            writer.clone(),
            shutdown,
        )));
    }
    tasks
}

/// Writes the demo's history up to now into `tenant`, whose developers are `users` (in
/// [`developers`]' order), and says how it went.
async fn write_history(
    writer: Writer,
    tenant: Tenant,
    users: Vec<UserId>,
    stop: watch::Receiver<bool>,
) {
    let started = std::time::Instant::now();
    let people = developers().into_iter().map(|d| d.person).collect();
    let sessions = history(people, Utc::now());
    tracing::info!("writing the demo history in the background");
    match write(&writer, tenant.scope(), users, sessions, None, stop.clone()).await {
        Ok(w) if *stop.borrow() => {
            tracing::info!(events = w.events, "demo history cut short by the shutdown")
        }
        Ok(w) => tracing::info!(
            events = w.events,
            sessions = w.sessions,
            secs = format!("{:.1}", started.elapsed().as_secs_f64()),
            "demo history written"
        ),
        Err(e) => tracing::warn!("demo history not written: {e}"),
    }
}

pub async fn demo_tenant(store: &Store) -> Result<Tenant, ApiError> {
    let slug = Slug::parse("demo").expect("valid slug");
    Ok(store::tenants::find_by_slug(store.pool(), &slug).await?)
}

/// The demo's sessions from `HISTORY_DAYS` days before the start of today to the start of
/// `now`'s minute (the live activity takes over from there). Whole minutes make the history a
/// function of the minute it was written in, which a test can repeat.
pub fn history(people: Vec<Person>, now: DateTime<Utc>) -> impl Iterator<Item = Session> + Send {
    let start_of = |d| now.duration_trunc(d).expect("divides time");
    let plan = Plan {
        seed: SEED,
        from: start_of(TimeDelta::days(1)) - TimeDelta::days(HISTORY_DAYS),
        until: start_of(TimeDelta::minutes(1)),
        scale: 1.0,
    };
    activity::history(people, plan)
}

/// Creates the demo developers besides dev@demo.test and the teams beyond Platform in the
/// demo workspace, and returns it with every developer's id in [`developers`]' order.
pub async fn staff(store: &Store) -> Result<(Tenant, Vec<UserId>), ApiError> {
    let tenant = &demo_tenant(store).await?;
    let actor = Actor {
        name: "demo-seed".into(),
        ..Actor::default()
    };
    let developers = developers();
    for d in developers.iter().filter(|d| d.email != "dev@demo.test") {
        // Nobody signs in as them; an admin can send them a password link.
        let email = Email::parse(d.email)?;
        tenancy::create_user(store, tenant, &email, d.name, Role::Developer, None, &actor).await?;
    }
    let mut tx = store.tenant_tx(tenant.scope()).await?;
    let existing = teams::list(&mut tx, teams::Visible::All).await?;
    let manager = accounts::find_by_email(&mut tx, &Email::parse("manager@demo.test")?).await?;
    let mut ids = Vec::with_capacity(developers.len());
    let mut payments = None;
    for (name, managed) in TEAMS {
        let team = match existing.iter().find(|t| t.name == *name) {
            Some(t) => t.id,
            None => teams::create(&mut tx, &actor, name).await?.id,
        };
        if *name == "Payments" {
            payments = Some(team);
        }
        if *managed {
            teams::set_member(&mut tx, &actor, team, manager.id, true).await?;
        }
        for d in developers.iter().filter(|d| d.team == *name) {
            let user = accounts::find_by_email(&mut tx, &Email::parse(d.email)?).await?;
            teams::set_member(&mut tx, &actor, team, user.id, false).await?;
        }
    }
    for d in &developers {
        ids.push(
            accounts::find_by_email(&mut tx, &Email::parse(d.email)?)
                .await?
                .id,
        );
    }
    // Budgets, so the dashboard's budget widget has something to say from the first start.
    use store::budgets::{NewBudget, Period, Scope};
    let mut budgets = vec![NewBudget {
        scope: Scope::Workspace,
        period: Period::Month,
        usd: Some(2_500.0),
        tokens: None,
    }];
    if let Some(team_id) = payments {
        budgets.push(NewBudget {
            scope: Scope::Team { team_id },
            period: Period::Week,
            usd: Some(400.0),
            tokens: None,
        });
    }
    for b in &budgets {
        store::budgets::set(&mut tx, &actor, b).await?;
    }
    tx.commit().await?;
    Ok((tenant.clone(), ids))
}

/// What [`write`] wrote.
#[derive(Clone, Copy, Debug, Default)]
pub struct Written {
    pub sessions: u64,
    /// Events handed to the writer, and how many of them were new.
    pub events: u64,
    pub new: u64,
}

/// Writes sessions through the writer, `users[session.person]` being whose each is: in
/// chunks of about [`CHUNK`] events, two at a time (the writer has two tasks), stopping after
/// `limit` events if given, or when `stop` turns true. Sessions are made and decoded on a
/// blocking thread, so the runtime goes on serving meanwhile.
pub async fn write(
    writer: &Writer,
    scope: &TenantScope,
    users: Vec<UserId>,
    sessions: impl Iterator<Item = Session> + Send + 'static,
    limit: Option<u64>,
    mut stop: watch::Receiver<bool>,
) -> Result<Written, ApiError> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<Event>>(2);
    let producer = tokio::task::spawn_blocking(move || {
        let (mut made, mut events) = (0u64, 0u64);
        let mut chunk = Vec::with_capacity(CHUNK * 2);
        for s in sessions {
            let mut decoded = match self::events(s.items, users[s.person], Utc::now()) {
                Ok(e) => e,
                Err(why) => {
                    tracing::error!("a generated session was refused: {why}");
                    continue;
                }
            };
            if let Some(limit) = limit {
                decoded.truncate((limit - events) as usize);
            }
            made += 1;
            events += decoded.len() as u64;
            chunk.append(&mut decoded);
            if chunk.len() >= CHUNK && tx.blocking_send(std::mem::take(&mut chunk)).is_err() {
                break;
            }
            if limit.is_some_and(|l| events >= l) {
                break;
            }
        }
        if !chunk.is_empty() {
            let _ = tx.blocking_send(chunk);
        }
        made
    });
    let chunks =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let mut writes = Box::pin(
        chunks
            .map(|chunk| {
                let n = chunk.len() as u64;
                async move { (n, writer.submit_waiting(scope, chunk).await) }
            })
            .buffer_unordered(2),
    );
    let mut written = Written::default();
    let mut refused = None;
    loop {
        let next = tokio::select! {
            next = writes.next() => next,
            _ = stopped(&mut stop) => None,
        };
        let Some((n, receipt)) = next else { break };
        let receipt = receipt?;
        written.events += n;
        for fate in receipt.fates {
            match fate {
                crate::ingest::Fate::New => written.new += 1,
                crate::ingest::Fate::Duplicate => {}
                other => {
                    refused.get_or_insert(other);
                }
            }
        }
    }
    // Lets the producer go, should it be waiting to hand over another chunk.
    drop(writes);
    if let Some(fate) = refused {
        tracing::warn!(?fate, "some generated events were not stored");
    }
    written.sessions = producer.await.unwrap_or(0);
    Ok(written)
}

/// Resolves once `stop` turns true; never if nobody can turn it.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// A session's items as the ingest path decodes them: batch items one by one, the OTLP
/// points and records as one export each. An item it refuses is a bug in the generator.
pub fn events(items: Vec<Timed>, user: UserId, now: DateTime<Utc>) -> Result<Vec<Event>, String> {
    let mut out = Vec::with_capacity(items.len());
    let mut points: BTreeMap<&'static str, Vec<NumberDataPoint>> = BTreeMap::new();
    let mut records = Vec::new();
    for Timed { at, item } in items {
        let nanos = at.timestamp_nanos_opt().unwrap_or_default() as u64;
        match item {
            Item::Batch(v) => out.push(
                batch::parse_item(v, user, now)
                    .map_err(|e| format!("{}: {}", e[0].pointer, e[0].detail))?,
            ),
            Item::Metric {
                name,
                value,
                attributes,
            } => points.entry(name).or_default().push(NumberDataPoint {
                attributes: key_values(attributes),
                // Claude Code exports deltas every minute.
                start_time_unix_nano: nanos.saturating_sub(60_000_000_000),
                time_unix_nano: nanos,
                value: Some(number_data_point::Value::AsDouble(value)),
                ..Default::default()
            }),
            Item::Log { name, attributes } => records.push(LogRecord {
                time_unix_nano: nanos,
                observed_time_unix_nano: nanos,
                body: Some(string(format!("claude_code.{name}"))),
                attributes: key_values(
                    [("event.name", name.to_string())]
                        .into_iter()
                        .chain(attributes)
                        .collect(),
                ),
                ..Default::default()
            }),
        }
    }
    let resource = Some(Resource {
        attributes: key_values(vec![
            ("service.name", "claude-code".into()),
            ("service.version", "2.0.14".into()),
            ("os.type", "linux".into()),
        ]),
        ..Default::default()
    });
    let scope = Some(InstrumentationScope {
        name: "com.anthropic.claude_code".into(),
        ..Default::default()
    });
    if !points.is_empty() {
        let metrics = points
            .into_iter()
            .map(|(name, data_points)| Metric {
                name: name.into(),
                data: Some(metric::Data::Sum(Sum {
                    data_points,
                    aggregation_temporality: AggregationTemporality::Delta as i32,
                    is_monotonic: true,
                })),
                ..Default::default()
            })
            .collect();
        let request = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: resource.clone(),
                scope_metrics: vec![ScopeMetrics {
                    scope: scope.clone(),
                    metrics,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let (events, rejected) = otlp::metric_events(&request, user, now);
        if let Some(why) = rejected.first {
            return Err(why);
        }
        out.extend(events);
    }
    if !records.is_empty() {
        let request = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource,
                scope_logs: vec![ScopeLogs {
                    scope,
                    log_records: records,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let (events, rejected) = otlp::log_events(&request, user, now);
        if let Some(why) = rejected.first {
            return Err(why);
        }
        out.extend(events);
    }
    Ok(out)
}

fn string(s: String) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(s)),
    }
}

fn key_values(attributes: Vec<(&'static str, String)>) -> Vec<KeyValue> {
    attributes
        .into_iter()
        .map(|(key, value)| KeyValue {
            key: key.into(),
            value: Some(string(value)),
            ..Default::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-20T15:30:00Z".parse().unwrap()
    }

    fn people() -> Vec<Person> {
        developers().into_iter().map(|d| d.person).collect()
    }

    #[test]
    fn the_demo_history_is_the_same_for_the_same_seed_and_time() {
        let a: Vec<Session> = history(people(), now()).collect();
        let b: Vec<Session> = history(people(), now()).collect();
        assert_eq!(a, b);
    }

    #[test]
    fn every_item_of_the_history_passes_the_ingest_decoders() {
        let user = UserId(uuid::Uuid::from_u128(1));
        let (mut items, mut decoded) = (0, 0);
        for s in history(people(), now()) {
            items += s.items.len();
            let events = events(s.items, user, now()).unwrap_or_else(|why| panic!("{why}"));
            decoded += events.len();
        }
        assert_eq!(items, decoded);
        assert!(items > 20_000, "{items} items");
    }

    #[test]
    fn every_developer_has_a_team_and_one_team_has_no_manager() {
        let devs = developers();
        assert!(devs.iter().all(|d| TEAMS.iter().any(|(t, _)| *t == d.team)));
        assert_eq!(TEAMS.iter().filter(|(_, managed)| !managed).count(), 1);
        let mut emails: Vec<&str> = devs.iter().map(|d| d.email).collect();
        emails.sort_unstable();
        emails.dedup();
        assert_eq!(emails.len(), devs.len());
    }
}
