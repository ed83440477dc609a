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

use server::Config;

mod common;

// The same allocator as the server binary, so the figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let events = common::flag("--events", 10_000_000);
    let people = common::flag("--people", 50) as usize;
    let days = common::flag("--days", 90) as i64;
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
    let filled = common::fill::fill(&db, "load", events, people, days).await;
    println!(
        "tenant `{}`: sign in as bench@bench.test / bench-password-123",
        filled.slug
    );
    db.close().await;
}
