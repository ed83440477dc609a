//! Ingestion benchmark: the real server against the embedded PostgreSQL, measured from the
//! outside over HTTP, with a raw `COPY` of the same rows into the same table as the baseline.
//!
//!     cargo run --release -p server --example ingest-bench        # full run
//!     cargo run -p server --example ingest-bench -- --quick       # seconds; run by `make test`
//!
//! Prints figures only; it asserts nothing about speed.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::{stream, StreamExt};
use serde_json::json;
use server::{database::Database, Config};

mod common;

// The same allocator as the server binary, so the figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Sizes {
    batch_clients: usize,
    batches_per_client: usize,
    batch_items: usize,
    hook_clients: usize,
    hook_seconds: u64,
    otlp_rounds: usize,
}

/// A million events: long enough to be sustained (indexes grow, WAL is written back,
/// autovacuum runs), not a burst into empty tables.
const FULL: Sizes = Sizes {
    batch_clients: 4,
    batches_per_client: 50,
    batch_items: 5_000,
    hook_clients: 50,
    hook_seconds: 10,
    otlp_rounds: 3,
};

const QUICK: Sizes = Sizes {
    batch_clients: 2,
    batches_per_client: 2,
    batch_items: 1_000,
    hook_clients: 50,
    hook_seconds: 2,
    otlp_rounds: 1,
};

fn batch_body(client: usize, batch: usize, items: usize) -> String {
    let mut out = Vec::with_capacity(items);
    for i in 0..items {
        let id = format!("{client}-{batch}-{i}");
        let tool = ["Read", "Edit", "Bash", "Grep"][i % 4];
        let ts = format!(
            "2026-11-01T{:02}:{:02}:{:02}Z",
            (i / 3600) % 24,
            (i / 60) % 60,
            i % 60
        );
        out.push(if i % 2 == 0 {
            json!({ "type": "tool_use", "session_id": format!("bench-{client}-{}", i % 20),
                    "tool_name": tool, "tool_use_id": id,
                    "success": i % 10 != 0, "duration_ms": (i % 5000) as i64, "timestamp": ts })
        } else {
            json!({ "type": "api_request", "session_id": format!("bench-{client}-{}", i % 20),
                    "request_id": id, "model": "claude-sonnet-4-5-20250929", "input_tokens": 1200,
                    "output_tokens": 300, "cache_read_tokens": 5000, "cost_usd": 0.0123, "timestamp": ts })
        });
    }
    serde_json::to_string(&out).expect("serialises")
}

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let sizes = if quick { QUICK } else { FULL };
    let data_dir =
        std::env::var("DEVPULSE_BENCH_DATA_DIR").unwrap_or_else(|_| ".data/bench".into());
    let config = Config::from_lookup(|k| match k {
        "DEVPULSE_DATA_DIR" => Some(data_dir.clone()),
        "DATABASE_URL" => std::env::var("DATABASE_URL").ok(),
        "PORT" => Some("0".into()),
        "DEVPULSE_JWT_KEYS" => Some("bench:bench-secret-bench-secret-bench-secret".into()),
        "DEVPULSE_BODY_LIMIT" => Some((64 * 1024 * 1024).to_string()),
        "DEVPULSE_ENV" => Some("production".into()),
        // Measure the write path, not the limits.
        "DEVPULSE_INGEST_KEY_RPS" => Some("1000000".into()),
        "DEVPULSE_INGEST_TENANT_EPS" => Some("1000000000".into()),
        _ => None,
    })
    .expect("config");
    // Quiet unless asked: RUST_LOG=store=debug shows where each write's time goes.
    if std::env::var_os("RUST_LOG").is_some() {
        server::init_tracing(&config.log_format);
    }
    let db = Database::open(&config).await.expect("database");
    let (tenant, _, key) = common::tenant_with_key(&db, "bench").await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = server::serve(listener, &config, &db, async {
        let _ = stop_rx.await;
    });
    let measuring = measure(&db, &tenant, &key, &base, &sizes, quick, stop_tx);
    let (served, ()) = tokio::join!(serving, measuring);
    served.expect("serve");
    db.close().await;
}

async fn measure(
    db: &Database,
    tenant: &store::Tenant,
    key: &str,
    base: &str,
    sizes: &Sizes,
    quick: bool,
    stop: tokio::sync::oneshot::Sender<()>,
) {
    let (key, base) = (key.to_string(), base.to_string());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    println!(
        "ingest-bench ({}) on {} cores, server build: {}",
        if quick { "quick" } else { "full" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );

    // 1. Batch endpoint: events per second, end to end (HTTP, validation, commit, rollups).
    let bodies: Vec<String> = (0..sizes.batch_clients)
        .flat_map(|c| (0..sizes.batches_per_client).map(move |b| (c, b)))
        .map(|(c, b)| batch_body(c, b, sizes.batch_items))
        .collect();
    let total_events = bodies.len() * sizes.batch_items;
    let started = Instant::now();
    let items = sizes.batch_items;
    // When each batch was acknowledged, for the rate second by second.
    let acked: Vec<Duration> = stream::iter(bodies)
        .map(|body| {
            let (http, base, key) = (http.clone(), base.clone(), key.clone());
            async move {
                let r = http
                    .post(format!("{base}/api/v1/ingest/batch"))
                    .header("x-api-key", key)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("batch");
                assert!(r.status().is_success(), "batch: {}", r.status());
                started.elapsed()
            }
        })
        .buffer_unordered(sizes.batch_clients)
        .collect::<Vec<_>>()
        .await;
    let batch_secs = started.elapsed().as_secs_f64();
    let batch_rate = total_events as f64 / batch_secs;
    println!("batch     {total_events} events in {batch_secs:.2} s = {batch_rate:.0} events/s");
    // Whole seconds only: the last, partial one says nothing about the rate.
    let mut per_second = vec![0usize; batch_secs as usize];
    for t in acked {
        if let Some(n) = per_second.get_mut(t.as_secs() as usize) {
            *n += items;
        }
    }
    if per_second.len() >= 3 {
        per_second.sort_unstable();
        println!(
            "          second by second: slowest {} events/s, median {}",
            per_second[0],
            per_second[per_second.len() / 2]
        );
    }

    // 2. Single hook posts from 50 concurrent clients.
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let deadline = Instant::now() + Duration::from_secs(sizes.hook_seconds);
    let hook_start = Instant::now();
    let clients: Vec<_> = (0..sizes.hook_clients)
        .map(|c| {
            let (http, base, key, latencies) =
                (http.clone(), base.clone(), key.clone(), latencies.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while Instant::now() < deadline {
                    n += 1;
                    let body = json!({ "session_id": format!("hook-{c}"), "hook_event_name": "PreToolUse",
                        "tool_name": "Bash", "tool_use_id": format!("h-{c}-{n}"), "cwd": "/bench" });
                    let t = Instant::now();
                    let r = http
                        .post(format!("{base}/api/v1/hooks/claude-code"))
                        .header("x-api-key", &key)
                        .json(&body)
                        .send()
                        .await
                        .expect("hook");
                    if r.status() == 204 {
                        latencies.lock().unwrap().push(t.elapsed());
                    }
                }
            })
        })
        .collect();
    for c in clients {
        c.await.unwrap();
    }
    let hook_secs = hook_start.elapsed().as_secs_f64();
    let mut lat = latencies.lock().unwrap().clone();
    lat.sort();
    println!(
        "hooks     {} requests from {} clients in {hook_secs:.2} s = {:.0} req/s, p50 {:.1} ms, p99 {:.1} ms",
        lat.len(),
        sizes.hook_clients,
        lat.len() as f64 / hook_secs,
        common::percentile(&lat, 0.50).as_secs_f64() * 1e3,
        common::percentile(&lat, 0.99).as_secs_f64() * 1e3,
    );

    // 3. OTLP/JSON log exports (the fixtures' event requests; repeats are deduplicated).
    let fixtures = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../testdata/fixtures/otlp");
    let mut otlp = Vec::new();
    for _ in 0..sizes.otlp_rounds {
        for user in ["ana", "bo", "chen"] {
            let text = std::fs::read_to_string(fixtures.join(format!("logs-{user}.json")))
                .expect("fixtures");
            otlp.extend(text.lines().map(String::from));
        }
    }
    let (otlp_requests, otlp_start) = (otlp.len(), Instant::now());
    stream::iter(otlp)
        .map(|body| {
            let (http, base, key) = (http.clone(), base.clone(), key.clone());
            async move {
                let r = http
                    .post(format!("{base}/v1/logs"))
                    .bearer_auth(key)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("otlp");
                assert!(r.status().is_success(), "otlp: {}", r.status());
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    let otlp_secs = otlp_start.elapsed().as_secs_f64();
    println!(
        "otlp      {otlp_requests} log exports in {otlp_secs:.2} s = {:.0} req/s",
        otlp_requests as f64 / otlp_secs
    );

    // 4. Baseline: the same rows the batch run stored (every column, attributes included),
    //    under new keys, straight into the same table with COPY.
    let schema = tenant.scope().schema();
    let columns = "key, occurred_at, kind, source, session_id, user_id, tool, model, success, \
                   duration_ms, input_tokens, output_tokens, cache_creation_tokens, \
                   cache_read_tokens, cost_usd, lines_added, lines_removed, attrs";
    let mut conn = db.store.pool().acquire().await.unwrap();
    let mut rows = Vec::with_capacity(total_events * 300);
    let mut out = conn
        .copy_out_raw(&format!(
            "COPY (SELECT {} FROM {schema}.events WHERE source = 'api' LIMIT {total_events}) TO STDOUT",
            columns.replacen("key", "'copy-' || key", 1)
        ))
        .await
        .expect("copy out");
    while let Some(chunk) = out.next().await {
        rows.extend_from_slice(&chunk.expect("copy out"));
    }
    drop(out);
    let copy_start = Instant::now();
    let mut copy = conn
        .copy_in_raw(&format!("COPY {schema}.events ({columns}) FROM STDIN"))
        .await
        .expect("copy");
    copy.send(rows).await.expect("copy data");
    let copied = copy.finish().await.expect("copy finish");
    let copy_secs = copy_start.elapsed().as_secs_f64();
    let copy_rate = copied as f64 / copy_secs;
    println!(
        "copy      {copied} rows in {copy_secs:.2} s = {copy_rate:.0} rows/s (raw COPY of the same rows, no rollups)"
    );
    println!(
        "ratio     batch ingest runs at {:.2} of raw COPY speed (it also validates, deduplicates and maintains rollups)",
        batch_rate / copy_rate
    );

    let _ = stop.send(());
}
