//! A sign-in flood beside live ingestion: what an anonymous attacker costs everyone else.
//!
//!     cargo run --release -p server --example login-flood
//!
//! One hook client posts events one after another, first alone (the baseline), then while
//! a flood of 100 sign-ins a second (at most 200 in flight) sends them with random e-mails and forged `X-Forwarded-For`
//! (believed: the proxy is trusted, the worst case). Prints the hook latencies of both
//! phases, their ratio, what the flood was answered, and the unknown-workspace against
//! unknown-e-mail timings. Figures only; it asserts nothing about speed.

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use futures::{stream, StreamExt};
use serde_json::json;
use server::{database::Database, Config};

mod common;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const HOOKS_PER_PHASE: usize = 400;
const FLOOD_CLIENTS: usize = 200;
const FLOOD_PER_SEC: u64 = 100;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn hooks(client: &reqwest::Client, base: &str, key: &str, phase: &str) -> Vec<Duration> {
    let mut took = Vec::with_capacity(HOOKS_PER_PHASE);
    for n in 0..HOOKS_PER_PHASE {
        let body = json!({ "session_id": format!("flood-{phase}"), "hook_event_name": "PreToolUse",
                           "tool_name": "Read", "tool_use_id": format!("{phase}-{n}") });
        let start = Instant::now();
        let r = client
            .post(format!("{base}/api/v1/hooks/claude-code"))
            .header("x-api-key", key)
            .json(&body)
            .send()
            .await
            .expect("hook post");
        assert!(r.status().is_success(), "hook refused: {}", r.status());
        took.push(start.elapsed());
    }
    took.sort();
    took
}

async fn sign_in(client: &reqwest::Client, base: &str, tenant: &str, email: &str, ip: &str) -> u16 {
    client
        .post(format!("{base}/api/v1/auth/login"))
        .header("x-forwarded-for", ip)
        .json(&json!({ "tenant": tenant, "email": email, "password": "wrong-password-123" }))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let data_dir =
        std::env::var("DEVPULSE_BENCH_DATA_DIR").unwrap_or_else(|_| ".data/bench".into());
    let config = Config::from_lookup(|k| match k {
        "DEVPULSE_DATA_DIR" => Some(data_dir.clone()),
        "DATABASE_URL" => std::env::var("DATABASE_URL").ok(),
        "PORT" => Some("0".into()),
        "DEVPULSE_JWT_KEYS" => Some("bench:bench-secret-bench-secret-bench-secret".into()),
        "DEVPULSE_ENV" => Some("production".into()),
        "DEVPULSE_TRUSTED_PROXIES" => Some("127.0.0.1".into()),
        "DEVPULSE_INGEST_KEY_RPS" => Some("1000000".into()),
        _ => None,
    })
    .expect("config");
    let db = Database::open(&config).await.expect("database");
    let (_, slug, key) = common::tenant_with_key(&db, "flood").await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = server::serve(listener, &config, &db, async {
        let _ = stop_rx.await;
    });
    let measuring = async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(FLOOD_CLIENTS + 1)
            .build()
            .unwrap();

        // Unknown workspace against unknown e-mail, alternating, each from its own source.
        let mut timings: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
        for i in 0..60 {
            for (what, tenant) in [
                ("unknown workspace", "nosuchplace"),
                ("unknown e-mail", slug.as_str()),
            ] {
                let start = Instant::now();
                sign_in(
                    &client,
                    &base,
                    tenant,
                    &format!("t{i}@x.test"),
                    &format!("192.0.2.{i}"),
                )
                .await;
                timings.entry(what).or_default().push(start.elapsed());
            }
            // Stay under the instance's ceiling: these are timings, not a flood.
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        println!("sign-in answer time (60 each, alternating):");
        for (what, mut t) in timings {
            t.sort();
            println!(
                "  {what:<18} p50 {:>6.1} ms  p90 {:>6.1} ms",
                ms(common::percentile(&t, 0.5)),
                ms(common::percentile(&t, 0.9))
            );
        }

        let alone = hooks(&client, &base, &key, "alone").await;
        let flooding = Arc::new(AtomicBool::new(true));
        let flood = {
            let flooding = flooding.clone();
            let (client, base) = (client.clone(), base.clone());
            tokio::spawn(async move {
                let mut answers: BTreeMap<u16, usize> = BTreeMap::new();
                // The review's attack: 100 anonymous sign-ins a second (paced, at most 200 in
                // flight), each a new e-mail from a new forged address.
                let tick = tokio::time::interval(Duration::from_millis(1000 / FLOOD_PER_SEC));
                let pending = stream::unfold((0u64, tick), |(n, mut tick)| {
                    let flooding = flooding.clone();
                    async move {
                        tick.tick().await;
                        flooding
                            .load(Ordering::Relaxed)
                            .then_some((n + 1, (n + 1, tick)))
                    }
                })
                .map(|n| {
                    let (client, base) = (&client, &base);
                    async move {
                        sign_in(
                            client,
                            base,
                            "nosuchplace",
                            &format!("flood{n}@x.test"),
                            &format!("10.{}.{}.{}", n % 200, n / 200 % 250, n % 250),
                        )
                        .await
                    }
                })
                .buffer_unordered(FLOOD_CLIENTS);
                let mut pending = std::pin::pin!(pending);
                while let Some(status) = pending.next().await {
                    *answers.entry(status).or_default() += 1;
                }
                answers
            })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        let flooded_start = Instant::now();
        let during = hooks(&client, &base, &key, "flooded").await;
        let flood_secs = flooded_start.elapsed().as_secs_f64();
        flooding.store(false, Ordering::Relaxed);
        let answers = flood.await.unwrap();

        println!("hook post latency, {HOOKS_PER_PHASE} sequential posts per phase:");
        for (what, t) in [("alone (baseline)", &alone), ("during the flood", &during)] {
            println!(
                "  {what:<17} p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms",
                ms(common::percentile(t, 0.5)),
                ms(common::percentile(t, 0.99)),
                ms(*t.last().unwrap())
            );
        }
        println!(
            "  ratio flood/baseline: p50 {:.2}x  p99 {:.2}x",
            ms(common::percentile(&during, 0.5)) / ms(common::percentile(&alone, 0.5)),
            ms(common::percentile(&during, 0.99)) / ms(common::percentile(&alone, 0.99))
        );
        let total: usize = answers.values().sum();
        println!(
            "flood: {total} sign-ins in {flood_secs:.1} s ({FLOOD_PER_SEC}/s, at most {FLOOD_CLIENTS} in flight), answered {answers:?}"
        );
        let _ = stop_tx.send(());
    };
    let (served, ()) = tokio::join!(serving, measuring);
    served.expect("serve");
    db.close().await;
}
