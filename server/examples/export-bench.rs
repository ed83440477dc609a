//! Export benchmark: a tenant filled with activity (by default 10 million events over 90
//! days, through the writer), then the real server as a child process and its resident
//! memory sampled every 50 ms while a client downloads every event as CSV
//! (`GET /api/v1/exports/events`, 400 days), against the same while it serves one day of the
//! filled range (the baseline: the same route with a ninetieth as much to stream). The download is read and counted,
//! never kept.
//!
//!     cargo run --release -p server --example export-bench              # 10M events
//!     cargo run -p server --example export-bench -- --events 1000000
//!
//! Prints figures only; it asserts nothing about speed or memory.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicI64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use server::Config;

mod common;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn config(data_dir: &str) -> Config {
    common::config(data_dir, &[])
}

#[tokio::main]
async fn main() {
    let data_dir =
        std::env::var("DEVPULSE_BENCH_DATA_DIR").unwrap_or_else(|_| ".data/bench-export".into());
    if std::env::args().any(|a| a == "--serve") {
        return common::serve(&config(&data_dir)).await;
    }
    let events = common::flag("--events", 10_000_000);
    common::fresh(&data_dir);
    let cfg = config(&data_dir);
    let db = server::database::Database::open(&cfg)
        .await
        .expect("database");
    let filled = common::fill::fill(&db, "export", events, 50, 90).await;
    db.close().await;

    let (mut child, base, pid) = common::spawn_server(&data_dir, &[]).await;
    let http = reqwest::Client::new();
    let token = common::sign_in(&http, &base, &filled.slug, "bench@bench.test").await;
    println!(
        "\nexport-bench: {} events, {} build",
        filled.events,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    let idle = common::rss_kib(pid);
    println!(
        "server resident memory at rest: {:.1} MiB",
        idle as f64 / 1024.0
    );
    let now = chrono::Utc::now();
    // The baseline: one whole day of the filled range, its first.
    let first = now - chrono::TimeDelta::days(89);
    let day = download(
        &http,
        &base,
        &token,
        pid,
        first,
        first + chrono::TimeDelta::days(1),
    )
    .await;
    let all = download(
        &http,
        &base,
        &token,
        pid,
        now - chrono::TimeDelta::days(400),
        now,
    )
    .await;
    println!(
        "\n{:<34} {:>12} {:>10} {:>9} {:>12} {:>14}",
        "", "rows", "MiB", "s", "rows/s", "peak RSS MiB"
    );
    for (name, d) in [
        ("one day (baseline)", &day),
        ("every event (400 days)", &all),
    ] {
        println!(
            "{name:<34} {:>12} {:>10.1} {:>9.1} {:>12.0} {:>14.1}",
            d.rows,
            d.bytes as f64 / 1048576.0,
            d.took.as_secs_f64(),
            d.rows as f64 / d.took.as_secs_f64(),
            d.peak_kib as f64 / 1024.0
        );
    }
    println!(
        "peak resident memory: {:.2}x the one-day export's, {:+.1} MiB over it; {} samples, last {:.1} MiB",
        all.peak_kib as f64 / day.peak_kib.max(1) as f64,
        (all.peak_kib - day.peak_kib) as f64 / 1024.0,
        all.samples,
        all.last_kib as f64 / 1024.0,
    );
    let _ = child.kill().await;
}

struct Downloaded {
    rows: u64,
    bytes: u64,
    took: Duration,
    peak_kib: i64,
    last_kib: i64,
    samples: u64,
}

/// Reads the CSV export of `[from, to)` to its end, counting lines, while sampling the
/// server's resident memory.
async fn download(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    pid: u32,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> Downloaded {
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicI64::new(0));
    let samples = Arc::new(AtomicI64::new(0));
    let sampler = {
        let (done, peak, samples) = (done.clone(), peak.clone(), samples.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(common::rss_kib(pid), Ordering::Relaxed);
                samples.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let started = Instant::now();
    let r = http
        .get(format!("{base}/api/v1/exports/events"))
        .query(&[("from", from.to_rfc3339()), ("to", to.to_rfc3339())])
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the export answered");
    let mut r = r;
    let (mut rows, mut bytes) = (0u64, 0u64);
    while let Some(chunk) = r.chunk().await.expect("the export streams to its end") {
        bytes += chunk.len() as u64;
        rows += chunk.iter().filter(|b| **b == b'\n').count() as u64;
    }
    let took = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    Downloaded {
        rows: rows.saturating_sub(1),
        bytes,
        took,
        peak_kib: peak.load(Ordering::Relaxed),
        last_kib: common::rss_kib(pid),
        samples: samples.load(Ordering::Relaxed) as u64,
    }
}
