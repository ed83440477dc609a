//! Dashboard benchmark: a tenant filled with activity (50 people over 90 days, by default 10
//! million events, through the writer as `dashboard-load` does), then, against the real server
//! run as a child process (so its memory is its own):
//!
//! - the dashboard's HTML rendered on the server for a 30-day range, per role, with 50
//!   concurrent clients, against the public status page rendered the same way (the baseline:
//!   the same render path, no metrics);
//! - each dashboard server function, as the tenant admin, against `whoami` (a server function
//!   that reads one row);
//! - live: 1,000 subscribed WebSockets, commit → `metrics_update` received, against the
//!   acknowledgement of the same POST;
//! - 10,000 idle WebSockets: the server's extra resident memory.
//!
//! Run it:
//!
//!     cargo run --release -p server --example dashboard-bench               # 10M events
//!     cargo run -p server --example dashboard-bench -- --events 1000000
//!     cargo run -p server --example dashboard-bench -- --quick              # seconds
//!     cargo run --release -p server --example dashboard-bench -- --reuse    # the last run's data
//!     cargo run --release -p server --example dashboard-bench -- --reuse --only html,idle
//!
//! Prints figures only; it asserts nothing about speed.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures::{stream, StreamExt};
use server::Config;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

mod common;

use common::heap::Heap;

#[global_allocator]
static ALLOCATOR: common::heap::Counting = common::heap::Counting;

use common::PASSWORD;

fn has(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

/// Whether to measure `part` (html, functions, live, idle): all of them unless `--only`
/// names some, comma-separated.
fn part(name: &str) -> bool {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == "--only") {
        None => true,
        Some(i) => args
            .get(i + 1)
            .is_some_and(|v| v.split(',').any(|p| p == name)),
    }
}

fn config(data_dir: &str) -> Config {
    let data_dir = data_dir.to_string();
    Config::from_lookup(|k| match k {
        "DEVPULSE_DATA_DIR" => Some(data_dir.clone()),
        "DATABASE_URL" => std::env::var("DATABASE_URL").ok(),
        // The benchmark's own sign-ins and sockets are not an attack.
        "DEVPULSE_LOGIN_ATTEMPTS_PER_SEC" => Some("1000".into()),
        "DEVPULSE_MAX_CONNECTIONS" => Some("20000".into()),
        "DEVPULSE_INGEST_KEY_RPS" => Some("100000".into()),
        "DEVPULSE_DEMO" => Some("0".into()),
        _ => None,
    })
    .expect("config")
}

#[tokio::main]
async fn main() {
    let data_dir =
        std::env::var("DEVPULSE_BENCH_DATA_DIR").unwrap_or_else(|_| ".data/bench-dashboard".into());
    if has("--serve") {
        common::heap::publish(&data_dir);
        return common::serve(&config(&data_dir)).await;
    }
    let quick = has("--quick");
    let events = common::flag("--events", if quick { 20_000 } else { 10_000_000 });
    let clients = common::flag("--clients", if quick { 5 } else { 50 }) as usize;
    let rounds = common::flag("--rounds", if quick { 2 } else { 10 }) as usize;
    let sockets = common::flag("--sockets", if quick { 50 } else { 1_000 }) as usize;
    let idle = common::flag("--idle", if quick { 200 } else { 10_000 }) as usize;

    // The data, written in this process (or, with --reuse, the last run's); then the server
    // runs alone in a child.
    let reuse = has("--reuse");
    if !reuse {
        common::fresh(&data_dir);
    }
    let cfg = config(&data_dir);
    let db = server::database::Database::open(&cfg)
        .await
        .expect("database");
    let kept = match reuse {
        true => {
            let kept = common::fill::reuse(&db, "dash", 50).await;
            if kept.is_none() {
                println!("--reuse: no tenant filled by an earlier run in {data_dir}; filling one");
            }
            kept
        }
        false => None,
    };
    let filled = match kept {
        Some(f) => f,
        None => common::fill::fill(&db, "dash", events, 50, 90).await,
    };
    let roles = roles(&db, &filled).await;
    let key = common::ingest_key(&db, &filled.tenant, "live").await;
    db.close().await;

    let (mut child, base, pid) = common::spawn_server(&data_dir, &[]).await;
    let addr = base.trim_start_matches("http://").to_string();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .unwrap();
    println!(
        "\ndashboard-bench: {} events, {clients} concurrent clients x {rounds} requests each, {} build",
        filled.events,
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );

    if part("html") {
        // Server-rendered HTML, per role, against the status page.
        let mut tokens = Vec::new();
        for (role, email) in &roles {
            tokens.push((
                *role,
                common::sign_in(&http, &base, &filled.slug, email).await,
            ));
        }
        let status = load(&http, clients, rounds, |_| {
            http.get(format!("{base}/status"))
        })
        .await;
        println!("\nHTML rendered on the server (p50 / p95; baseline: the status page)");
        println!("  kept: the last 30 days, as everyone opening the board asks; after the first");
        println!(
            "  request the answers are kept until new events arrive for the people they cover"
        );
        report("status page (baseline)", &status, None);
        for (role, token) in &tokens {
            let t = load(&http, clients, rounds, |_| {
                http.get(format!("{base}/?range=30d")).bearer_auth(token)
            })
            .await;
            report(&format!("dashboard, 30 days, {role}"), &t, Some(&status));
        }
        println!(
            "  computed: a different 30-day range per request (nothing kept), {clients} at once"
        );
        for (role, token) in &tokens {
            let t = load(&http, clients, 1, |i| {
                http.get(format!("{base}/?{}", unseen(i, 30)))
                    .bearer_auth(token)
            })
            .await;
            report(
                &format!("dashboard, unseen range, {role}"),
                &t,
                Some(&status),
            );
        }
    }
    if part("functions") {
        // Each server function, as the admin, against whoami. A fresh sign-in: a slow run can
        // outlast the first session's access token.
        let admin = common::sign_in(&http, &base, &filled.slug, &roles[0].1).await;
        println!("\nServer functions, tenant admin, 30 days (baseline: whoami)");
        let whoami = load(&http, clients, rounds, |_| {
            http.post(format!("{base}/api/whoami")).bearer_auth(&admin)
        })
        .await;
        report("whoami (baseline)", &whoami, None);
        let q = "range=30d";
        type Form = Vec<(&'static str, &'static str)>;
        let fns: &[(&str, &str, Form)] = &[
            ("overview", "dashboard/overview", vec![("q", q)]),
            (
                "series by model",
                "dashboard/series",
                vec![("q", q), ("split", "model"), ("measure", "cost")],
            ),
            (
                "series by person",
                "dashboard/series",
                vec![("q", q), ("split", "person"), ("measure", "lines")],
            ),
            (
                "breakdown by tool",
                "dashboard/breakdown",
                vec![("q", q), ("by", "tool")],
            ),
            (
                "breakdown by person",
                "dashboard/breakdown",
                vec![("q", q), ("by", "person")],
            ),
            (
                "breakdown by team",
                "dashboard/breakdown",
                vec![("q", q), ("by", "team")],
            ),
            (
                "breakdown by project",
                "dashboard/breakdown",
                vec![("q", q), ("by", "project")],
            ),
            ("heatmap", "dashboard/heatmap", vec![("q", q)]),
            (
                "sessions, by cost",
                "dashboard/sessions",
                vec![("q", q), ("sort", "cost"), ("page", "1")],
            ),
            ("activity", "dashboard/activity", vec![]),
        ];
        for (name, path, form) in fns {
            let admin = common::sign_in(&http, &base, &filled.slug, &roles[0].1).await;
            let t = load(&http, clients, rounds, |_| {
                http.post(format!("{base}/api/{path}"))
                    .bearer_auth(&admin)
                    .form(form)
            })
            .await;
            report(&format!("{name}, kept"), &t, Some(&whoami));
            if *path == "dashboard/activity" {
                continue; // about "now": never kept, measured above
            }
            let t = load(&http, clients, 1, |i| {
                // 28 days: ranges the page renders above did not already ask for.
                let q = unseen(i, 28);
                let form: Vec<(&str, &str)> = form
                    .iter()
                    .map(|(k, v)| (*k, if *k == "q" { q.as_str() } else { *v }))
                    .collect();
                http.post(format!("{base}/api/{path}"))
                    .bearer_auth(&admin)
                    .form(&form)
            })
            .await;
            report(&format!("{name}, computed"), &t, Some(&whoami));
        }
    }
    if part("live") {
        // Live: N subscribers, one event at a time.
        let admin = common::sign_in(&http, &base, &filled.slug, &roles[0].1).await;
        println!("\nLive: {sockets} subscribed WebSockets, commit -> metrics_update received");
        let (latencies, acks) = live(&addr, &base, &admin, &key, sockets).await;
        report("POST acknowledged (baseline)", &acks, None);
        report("message received, every socket", &latencies, Some(&acks));
    }
    if part("idle") {
        let admin = common::sign_in(&http, &base, &filled.slug, &roles[0].1).await;
        println!("\nIdle WebSockets, {idle} open at once: the server's extra memory");
        println!(
            "  (resident; and allocated and not freed, the rest being what the allocator keeps)"
        );
        // The baseline: the public status feed, whose socket carries no state of its own.
        idle_sockets(&addr, "/ws", None, idle, pid, &data_dir).await;
        idle_sockets(&addr, "/ws/metrics", Some(&admin), idle, pid, &data_dir).await;
    }
    // SIGTERM: the server shuts down and stops its database.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait().await;
}

/// The child: the server alone on the benchmark's data, until killed.
/// A tenant admin (bench@), a manager of the first team, one of its developers and a viewer.
async fn roles(
    db: &server::database::Database,
    f: &common::fill::Filled,
) -> Vec<(&'static str, String)> {
    let actor = store::audit::Actor::cli();
    let manager = store::Email::parse(&format!("manager@{}.test", f.slug)).unwrap();
    let viewer = store::Email::parse(&format!("viewer@{}.test", f.slug)).unwrap();
    for (email, role) in [
        (&manager, store::Role::Manager),
        (&viewer, store::Role::Viewer),
    ] {
        let mut tx = db.store.tenant_tx(f.tenant.scope()).await.unwrap();
        if store::accounts::find_by_email(&mut tx, email).await.is_ok() {
            continue; // --reuse: made by the run that filled the tenant
        }
        drop(tx);
        server::tenancy::create_user(
            &db.store,
            &f.tenant,
            email,
            "",
            role,
            Some(PASSWORD.into()),
            &actor,
        )
        .await
        .unwrap();
    }
    let mut tx = db.store.tenant_tx(f.tenant.scope()).await.unwrap();
    let m = store::accounts::find_by_email(&mut tx, &manager)
        .await
        .unwrap();
    store::teams::set_member(&mut tx, &actor, f.teams[0], m.id, true)
        .await
        .unwrap();
    // The first developer signs in too: give them a password.
    let dev = store::accounts::get(&mut tx, f.users[0]).await.unwrap();
    let hash = store::accounts::hash_password_blocking(PASSWORD.into())
        .await
        .unwrap();
    store::accounts::set_password_hash(&mut tx, dev.id, &hash)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    vec![
        ("tenant_admin", "bench@bench.test".to_string()),
        ("manager", manager.to_string()),
        ("developer", dev.email.to_string()),
        ("viewer", viewer.to_string()),
    ]
}

/// `clients` at once, each sending `rounds` requests one after another; every latency.
/// `request(i)` makes the i-th request (0 is the warm-up, not timed).
async fn load(
    _http: &reqwest::Client,
    clients: usize,
    rounds: usize,
    request: impl Fn(usize) -> reqwest::RequestBuilder,
) -> Vec<Duration> {
    // One warm-up, so connection set-up and first-use caches are not counted.
    let _ = request(0).send().await.unwrap().bytes().await;
    let mut all = Vec::with_capacity(clients * rounds);
    let runs = (0..clients).map(|c| {
        let mut mine = Vec::with_capacity(rounds);
        let requests: Vec<_> = (0..rounds).map(|r| request(1 + c * rounds + r)).collect();
        async move {
            for r in requests {
                let t = Instant::now();
                let res = r.send().await.unwrap();
                let status = res.status();
                let body = res.bytes().await.unwrap();
                // A 503 (the database pool's wait ran out) is counted, not timed.
                if !(status.is_success() || status.as_u16() == 503) {
                    // The page says which widget failed and why: keep it for a look.
                    let path = std::env::temp_dir().join("dashboard-bench-failed.html");
                    let _ = std::fs::write(&path, &body);
                    panic!("{status}: the response is in {}", path.display());
                }
                mine.push((t.elapsed(), status.is_success()));
            }
            mine
        }
    });
    let mut refused = 0;
    for mine in futures::future::join_all(runs).await {
        for (took, ok) in mine {
            if ok {
                all.push(took);
            } else {
                refused += 1;
            }
        }
    }
    if refused > 0 {
        println!(
            "  ({refused} of {} requests refused: 503, the pool's wait ran out)",
            clients * rounds
        );
    }
    all.sort();
    all
}

/// A range of `days` nobody asked for yet: whole UTC days (the day rollups answer it, as they
/// do a preset), ending `i` days before today.
fn unseen(i: usize, days: i64) -> String {
    use chrono::{DurationRound, TimeDelta, Utc};
    let today = Utc::now().duration_trunc(TimeDelta::days(1)).unwrap();
    let to = today - TimeDelta::days(i as i64);
    let from = to - TimeDelta::days(days);
    format!(
        "from={}&to={}",
        from.format("%Y-%m-%dT%H:%M"),
        to.format("%Y-%m-%dT%H:%M")
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn report(name: &str, t: &[Duration], baseline: Option<&[Duration]>) {
    let mut t = t.to_vec();
    t.sort();
    let (p50, p95, p99) = (
        common::percentile(&t, 0.5),
        common::percentile(&t, 0.95),
        common::percentile(&t, 0.99),
    );
    let ratio = baseline
        .map(|b| {
            let mut b = b.to_vec();
            b.sort();
            format!(
                "   p95 {:.2}x baseline",
                ms(p95) / ms(common::percentile(&b, 0.95)).max(1e-3)
            )
        })
        .unwrap_or_default();
    println!(
        "  {name:<34} p50 {:>7.1} ms  p95 {:>7.1} ms  p99 {:>7.1} ms  (n={}){ratio}",
        ms(p50),
        ms(p95),
        ms(p99),
        t.len()
    );
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `n` sockets on `path` and prints what they cost the server.
async fn idle_sockets(
    addr: &str,
    path: &str,
    token: Option<&str>,
    n: usize,
    pid: u32,
    data_dir: &str,
) {
    let before = common::rss_kib(pid);
    let heap_before = Heap::read(data_dir);
    let mut open = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let opened = stream::iter(chunk.iter().map(|_| open_socket(addr, path, token)))
            .buffer_unordered(100)
            .collect::<Vec<_>>()
            .await;
        open.extend(opened);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = common::rss_kib(pid);
    let heap_after = Heap::read(data_dir);
    let n = open.len() as f64;
    let per = |kib: i64| kib as f64 / n.max(1.0);
    let heap_kib = (heap_after.bytes - heap_before.bytes) / 1024;
    println!(
        "  {path:<12} {} open: resident {:.1} MB -> {:.1} MB, +{:.1} MB ({:.1} KiB a socket); allocated +{:.1} MB ({:.1} KiB a socket)",
        open.len(),
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        (after - before) as f64 / 1024.0,
        per(after - before),
        heap_kib as f64 / 1024.0,
        per(heap_kib),
    );
    // The allocations that grew by about one a socket or more: what a socket holds.
    let held = heap_after.grown_since(&heap_before, n * 0.9, n);
    println!("    held a socket: {}", held.join(", "));
    drop(open);
    // Let the server see them go before the next measurement starts.
    tokio::time::sleep(Duration::from_secs(3)).await;
}

async fn subscribe(addr: &str, token: &str) -> Socket {
    open_socket(addr, "/ws/metrics", Some(token)).await
}

/// A WebSocket on `path`, with `token` as a bearer credential; open once its greeting came.
async fn open_socket(addr: &str, path: &str, token: Option<&str>) -> Socket {
    let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
    if let Some(token) = token {
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("ws");
    // The greeting.
    let _ = ws.next().await;
    ws
}

/// Opens `n` sockets, then sends one event at a time and times, for each, the POST's
/// acknowledgement and every socket's message, both from the moment the POST was sent.
async fn live(
    addr: &str,
    base: &str,
    token: &str,
    key: &str,
    n: usize,
) -> (Vec<Duration>, Vec<Duration>) {
    let sockets: Vec<Socket> = stream::iter((0..n).map(|_| subscribe(addr, token)))
        .buffer_unordered(100)
        .collect()
        .await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|mut ws| {
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(Ok(m)) = ws.next().await {
                    if m.is_text() && m.to_text().unwrap_or("").contains("metrics_update") {
                        let _ = tx.send(Instant::now());
                    }
                }
                let _ = ws.close(None).await;
            })
        })
        .collect();
    let http = reqwest::Client::new();
    let (mut latencies, mut acks) = (Vec::new(), Vec::new());
    let sent_at = Arc::new(std::sync::Mutex::new(Instant::now()));
    for i in 0..20 {
        let body = serde_json::json!([{ "type": "tool_use", "tool_name": "Read",
            "tool_use_id": format!("live-{i}-{}", chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)),
            "timestamp": chrono::Utc::now().to_rfc3339() }]);
        let start = Instant::now();
        *sent_at.lock().unwrap() = start;
        let r = http
            .post(format!("{base}/api/v1/ingest/batch"))
            .header("x-api-key", key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        acks.push(start.elapsed());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let mut got = 0;
        while got < n {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(at)) => {
                    latencies.push(at.saturating_duration_since(start));
                    got += 1;
                }
                _ => break,
            }
        }
        if got < n {
            println!("  round {i}: only {got} of {n} sockets heard within 5 s");
        }
        // Apart enough that each event is its own message.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for r in readers {
        r.abort();
    }
    (latencies, acks)
}
