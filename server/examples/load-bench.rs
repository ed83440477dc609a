//! Load benchmark: the real server as a child process over a filled tenant (by default 1
//! million events, 50 people, 30 days), then, for each kind of request, 1,000 concurrent
//! keep-alive connections (one client each) sending it back to back for a while: `/healthz`
//! (the baseline: the same connections with nothing behind them), the dashboard over REST,
//! the same as the dashboard's server function, and Claude Code hook ingestion. Prints p50,
//! p99, errors and throughput per kind, the p99 against the baseline's, and the server's
//! resident memory. `--soak SECONDS` then runs mixed traffic (reads and ingestion, 200
//! connections) and prints the resident memory every tenth of the run.
//!
//! `--rate R` measures latency at a given arrival rate instead (open loop): the connections
//! stay open, requests arrive R per second in all, evenly spaced, whatever the answers' pace,
//! and each latency counts from when its request was due (so a slow answer delays the clock,
//! not the measurement).
//!
//!     cargo run --release -p server --example load-bench
//!     cargo run -p server --example load-bench -- --events 200000 --connections 1000 --seconds 15 --soak 600
//!     cargo run --release -p server --example load-bench -- --rate 200 --seconds 30
//!
//! Prints figures only; it asserts nothing about speed or memory.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::json;
use server::Config;

mod common;

#[global_allocator]
static ALLOCATOR: common::heap::Counting = common::heap::Counting;

fn config(data_dir: &str) -> Config {
    common::config(
        data_dir,
        &[
            // Measuring the server, not its per-key ingestion limit.
            ("DEVPULSE_INGEST_KEY_RPS", "10000000"),
            ("DATABASE_MAX_CONNECTIONS", "40"),
        ],
    )
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Health,
    Rest,
    ServerFn,
    Hook,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Health => "GET /healthz (baseline)",
            Kind::Rest => "GET /api/v1/dashboard/overview",
            Kind::ServerFn => "POST /api/dashboard/overview (fn)",
            Kind::Hook => "POST /api/v1/hooks/claude-code",
        }
    }
}

#[derive(Clone)]
struct Target {
    base: String,
    token: String,
    key: String,
    /// Which run this is: tool runs are new in each (a repeated id would be a duplicate).
    round: u64,
}

/// One request of `kind` on `http`; whether it succeeded.
async fn once(http: &reqwest::Client, t: &Target, kind: Kind, c: usize, n: u64) -> bool {
    let r = match kind {
        Kind::Health => http.get(format!("{}/healthz", t.base)).send().await,
        Kind::Rest => {
            http.get(format!("{}/api/v1/dashboard/overview?range=7d", t.base))
                .bearer_auth(&t.token)
                .send()
                .await
        }
        Kind::ServerFn => {
            http.post(format!("{}/api/dashboard/overview", t.base))
                .bearer_auth(&t.token)
                .form(&[("q", "range=7d")])
                .send()
                .await
        }
        Kind::Hook => {
            http.post(format!("{}/api/v1/hooks/claude-code", t.base))
                .header("x-api-key", &t.key)
                .json(
                    &json!({ "session_id": format!("load-{c}"), "hook_event_name": "PreToolUse",
                    "tool_name": "Bash", "tool_use_id": format!("l-{}-{c}-{n}", t.round), "cwd": "/load" }),
                )
                .send()
                .await
        }
    };
    match r {
        Ok(r) => {
            let status = r.status();
            // Read the body so the connection is free for the next request.
            let _ = r.bytes().await;
            if !status.is_success() {
                failed(status.as_u16());
            }
            status.is_success()
        }
        Err(_) => {
            failed(0);
            false
        }
    }
}

/// Failed requests by HTTP status (0: no answer), since [`failures`] last took them.
static FAILED: std::sync::Mutex<std::collections::BTreeMap<u16, u64>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

fn failed(status: u16) {
    *FAILED.lock().unwrap().entry(status).or_default() += 1;
}

/// What failed since the last call, e.g. ` (401: 12, no answer: 3)`; empty when nothing did.
fn failures() -> String {
    let taken = std::mem::take(&mut *FAILED.lock().unwrap());
    if taken.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = taken
        .iter()
        .map(|(s, n)| match s {
            0 => format!("no answer: {n}"),
            s => format!("{s}: {n}"),
        })
        .collect();
    format!(" ({})", parts.join(", "))
}

struct Run {
    latencies: Vec<Duration>,
    errors: u64,
    took: Duration,
    peak_kib: i64,
}

/// `connections` clients, each its own keep-alive connection, sending `kinds` in turn for
/// `seconds`; the server's memory sampled every 100 ms.
async fn run(t: &Arc<Target>, kinds: &[Kind], connections: usize, seconds: u64, pid: u32) -> Run {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let sampler = tokio::spawn(async move {
        let mut peak = 0;
        while Instant::now() < deadline {
            peak = peak.max(common::rss_kib(pid));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        peak
    });
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let (t, kinds) = (t.clone(), kinds.to_vec());
            tokio::spawn(async move {
                let http = one_connection();
                let (mut latencies, mut errors, mut n) = (Vec::new(), 0u64, 0u64);
                while Instant::now() < deadline {
                    let kind = kinds[(n as usize + c) % kinds.len()];
                    n += 1;
                    let at = Instant::now();
                    if once(&http, &t, kind, c, n).await {
                        latencies.push(at.elapsed());
                    } else {
                        errors += 1;
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut all = gather(tasks).await;
    all.took = started.elapsed();
    all.peak_kib = sampler.await.unwrap();
    all
}

/// A client that keeps one connection open, as one of the benchmark's users.
fn one_connection() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The clients' latencies (sorted) and errors, together.
async fn gather(tasks: Vec<tokio::task::JoinHandle<(Vec<Duration>, u64)>>) -> Run {
    let mut all = Run {
        latencies: Vec::new(),
        errors: 0,
        took: Duration::ZERO,
        peak_kib: 0,
    };
    for task in tasks {
        let (l, e) = task.await.unwrap();
        all.latencies.extend(l);
        all.errors += e;
    }
    all.latencies.sort();
    all
}

/// `kind` at `rate` requests per second in all over `connections` keep-alive connections for
/// `seconds`: connection `c` sends its `k`th request when it is due, at
/// `(k × connections + c) / rate` after the start, or at once when the previous answer came
/// later than that; its latency counts from when it was due.
async fn open_loop(
    t: &Arc<Target>,
    kind: Kind,
    connections: usize,
    rate: u64,
    seconds: u64,
) -> Run {
    let started = tokio::time::Instant::now() + Duration::from_millis(200);
    let end = started + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let t = t.clone();
            tokio::spawn(async move {
                let http = one_connection();
                let (mut latencies, mut errors) = (Vec::new(), 0u64);
                for k in 0u64.. {
                    let nth = k * connections as u64 + c as u64;
                    let due = started + Duration::from_secs_f64(nth as f64 / rate as f64);
                    if due >= end {
                        break;
                    }
                    tokio::time::sleep_until(due).await;
                    if once(&http, &t, kind, c, k).await {
                        latencies.push(due.elapsed());
                    } else {
                        errors += 1;
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    Run {
        took: Duration::from_secs(seconds),
        ..gather(tasks).await
    }
}

/// The `p` quantile in milliseconds (NaN for none).
fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    common::percentile(sorted, p).as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let data_dir =
        std::env::var("DEVPULSE_BENCH_DATA_DIR").unwrap_or_else(|_| ".data/bench-load".into());
    if std::env::args().any(|a| a == "--serve") {
        common::heap::publish(&data_dir);
        return common::serve(&config(&data_dir)).await;
    }
    let events = common::flag("--events", 1_000_000);
    let connections = common::flag("--connections", 1000) as usize;
    let seconds = common::flag("--seconds", 20);
    let soak = common::flag("--soak", 0);
    let rate = common::flag("--rate", 0);
    common::fresh(&data_dir);
    let cfg = config(&data_dir);
    let db = server::database::Database::open(&cfg)
        .await
        .expect("database");
    let filled = common::fill::fill(&db, "load", events, 50, 30).await;
    let key = common::ingest_key(&db, &filled.tenant, "load").await;
    db.close().await;

    let (mut child, base, pid) = common::spawn_server(&data_dir, &[("RUST_LOG", "error")]).await;
    let token = common::sign_in(
        &reqwest::Client::new(),
        &base,
        &filled.slug,
        "bench@bench.test",
    )
    .await;
    let target = Arc::new(Target {
        base,
        token,
        key,
        round: 0,
    });
    println!(
        "\nload-bench: {} events, {connections} connections, {seconds} s per kind, {} build, server at rest {:.1} MiB",
        filled.events,
        if cfg!(debug_assertions) { "debug" } else { "release" },
        common::rss_kib(pid) as f64 / 1024.0
    );
    println!(
        "\n{:<36} {:>9} {:>7} {:>9} {:>9} {:>9} {:>10} {:>8} {:>9}",
        "", "requests", "errors", "req/s", "p50 ms", "p99 ms", "p99/base", "max ms", "peak MiB"
    );
    if rate > 0 {
        println!("open loop: {rate} requests/s in all, evenly spaced over the connections");
    }
    let mut baseline_p99 = f64::NAN;
    for kind in [Kind::Health, Kind::Rest, Kind::ServerFn, Kind::Hook] {
        let r = if rate > 0 {
            let r = open_loop(&target, kind, connections, rate, seconds).await;
            Run {
                peak_kib: common::rss_kib(pid),
                ..r
            }
        } else {
            run(&target, &[kind], connections, seconds, pid).await
        };
        let p99 = pct(&r.latencies, 0.99);
        if kind == Kind::Health {
            baseline_p99 = p99;
        }
        println!(
            "{:<36} {:>9} {:>7} {:>9.0} {:>9.1} {:>9.1} {:>10.2} {:>8.0} {:>9.1}",
            kind.name(),
            r.latencies.len(),
            r.errors,
            r.latencies.len() as f64 / r.took.as_secs_f64(),
            pct(&r.latencies, 0.5),
            p99,
            p99 / baseline_p99,
            r.latencies
                .last()
                .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0),
            r.peak_kib as f64 / 1024.0
        );
        let failed = failures();
        if !failed.is_empty() {
            println!("  failed by status{failed}");
        }
    }
    if soak > 0 {
        // Mixed traffic in tenths of the run, the memory after each.
        println!(
            "\nsoak: {soak} s of mixed traffic (REST, server function, hooks), 200 connections"
        );
        let start = common::rss_kib(pid);
        let heap_start = common::heap::Heap::read(&data_dir);
        println!(
            "  resident memory at the start: {:.1} MiB ({:.1} MiB allocated)",
            start as f64 / 1024.0,
            heap_start.mib()
        );
        let mixed = [Kind::Rest, Kind::ServerFn, Kind::Hook, Kind::Hook];
        let (mut requests, mut errors) = (0, 0);
        for tenth in 1..=10 {
            // Signed in again each time, as a browser refreshes its token: an access token
            // lasts 15 minutes, and a soak may last longer.
            let target = Arc::new(Target {
                token: common::sign_in(
                    &reqwest::Client::new(),
                    &target.base,
                    &filled.slug,
                    "bench@bench.test",
                )
                .await,
                round: tenth,
                ..(*target).clone()
            });
            let r = run(&target, &mixed, 200, soak.div_ceil(10), pid).await;
            requests += r.latencies.len();
            errors += r.errors;
            println!(
                "  {:>3}%: {:.1} MiB resident (peak {:.1}), {:.1} MiB allocated, p99 {:.1} ms, {} requests, {} errors{}",
                tenth * 10,
                common::rss_kib(pid) as f64 / 1024.0,
                r.peak_kib as f64 / 1024.0,
                common::heap::Heap::read(&data_dir).mib(),
                pct(&r.latencies, 0.99),
                r.latencies.len(),
                r.errors,
                failures()
            );
        }
        let heap_end = common::heap::Heap::read(&data_dir);
        println!(
            "  {requests} requests, {errors} errors; resident memory {:.1} MiB at the start, {:.1} MiB at the end; allocated {:.1} -> {:.1} MiB",
            start as f64 / 1024.0,
            common::rss_kib(pid) as f64 / 1024.0,
            heap_start.mib(),
            heap_end.mib()
        );
        // What grew over the soak, by size: a leak shows as one class climbing.
        println!(
            "  allocations that grew by 1,000 or more: {}",
            heap_end.grown_since(&heap_start, 1000.0, 1.0).join(", ")
        );
    }
    let _ = child.kill().await;
}
