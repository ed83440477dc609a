//! Prometheus metrics at `/metrics`, behind a bearer token (`DEVPULSE_METRICS_TOKEN`; without
//! one the route answers 404). Counters and histograms are recorded where things happen
//! (requests, ingestion, the writer's flushes, WebSocket messages, refused sign-ins); what is
//! a level rather than an event (the writer's queue, the database pool, open sockets, jobs by
//! state) is read when scraped. `deploy/grafana/devpulse.json` charts every one of them.

use std::{
    sync::OnceLock,
    time::{Duration, Instant},
};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{header, HeaderMap, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

/// Every metric this server exports (the Grafana dashboard's test holds it to these).
pub const METRICS: &[&str] = &[
    "devpulse_http_requests_total",
    "devpulse_http_request_duration_seconds",
    "devpulse_ingest_events_total",
    "devpulse_ingest_rejected_total",
    "devpulse_writer_flush_seconds",
    "devpulse_writer_queued_events",
    "devpulse_writer_queue_capacity",
    "devpulse_websocket_connections_total",
    "devpulse_websocket_open",
    "devpulse_websocket_messages_total",
    "devpulse_db_pool_connections",
    "devpulse_db_pool_max",
    "devpulse_db_transactions_total",
    "devpulse_db_transactions_without_idle_total",
    "devpulse_db_transaction_open_microseconds_total",
    "devpulse_db_replica_up",
    "devpulse_db_replica_staleness_seconds",
    "devpulse_db_reads_total",
    "devpulse_jobs",
    "devpulse_login_throttled_total",
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// How often the recorder's upkeep runs (see [`handle`]).
pub const UPKEEP: Duration = Duration::from_secs(5);

/// The process's recorder, installed the first time it is asked for (every server in a
/// process shares it, as they share the process).
///
/// The recorder keeps every histogram sample it is given until its upkeep folds them into
/// the buckets: a scrape runs it, but metrics may be off, or scraped once a minute while
/// thousands of requests a second are timed. Without upkeep of its own the process grew by
/// about 16 bytes per timed request (blocks of 64 samples, 1 KiB each as allocated; measured
/// by `tests/metrics_upkeep.rs`), for ever: 30 MiB in a 15-minute soak. A thread, not a task:
/// the recorder outlives any one runtime (each test server has its own).
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("_seconds".into()),
                &[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ],
            )
            .expect("buckets are given")
            .install_recorder()
            .expect("no other metrics recorder is installed");
        describe();
        let kept = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(UPKEEP);
                kept.run_upkeep();
            })
            .expect("the upkeep thread starts");
        handle
    })
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "devpulse_http_requests_total",
        "HTTP requests answered, by method, route and status"
    );
    describe_histogram!(
        "devpulse_http_request_duration_seconds",
        Unit::Seconds,
        "Time to the response's head, by method and route"
    );
    describe_counter!(
        "devpulse_ingest_events_total",
        "Events through the write path, by outcome: accepted, duplicate or rejected"
    );
    describe_counter!(
        "devpulse_ingest_rejected_total",
        "Requests or items refused by the write path, by reason"
    );
    describe_histogram!(
        "devpulse_writer_flush_seconds",
        Unit::Seconds,
        "One workspace's batch of events written and committed"
    );
    describe_gauge!(
        "devpulse_writer_queued_events",
        "Events waiting for the writer"
    );
    describe_gauge!(
        "devpulse_writer_queue_capacity",
        "Events the writer's queue holds before answering busy"
    );
    describe_counter!(
        "devpulse_websocket_connections_total",
        "WebSocket connections opened"
    );
    describe_gauge!("devpulse_websocket_open", "WebSocket connections open now");
    describe_counter!(
        "devpulse_websocket_messages_total",
        "Messages sent to WebSocket clients, by kind"
    );
    describe_gauge!(
        "devpulse_db_pool_connections",
        "Database pool connections, by state: idle or in_use"
    );
    describe_gauge!("devpulse_db_pool_max", "The database pool's size limit");
    describe_counter!(
        "devpulse_db_transactions_total",
        "Transactions opened (tenant and registry, primary and replica)"
    );
    describe_counter!(
        "devpulse_db_transactions_without_idle_total",
        "Transactions that found no idle pooled connection and waited for one"
    );
    describe_counter!(
        "devpulse_db_transaction_open_microseconds_total",
        Unit::Microseconds,
        "Time spent opening transactions: waiting for a pooled connection, then BEGIN"
    );
    describe_gauge!(
        "devpulse_db_replica_up",
        "1 while the read replica (DATABASE_REPLICA_URL) answers as a standby"
    );
    describe_gauge!(
        "devpulse_db_replica_staleness_seconds",
        Unit::Seconds,
        "How far behind the primary the read replica's data may be"
    );
    describe_counter!(
        "devpulse_db_reads_total",
        "Dashboard reads, by where they were served: replica or primary (only with a replica)"
    );
    describe_gauge!("devpulse_jobs", "Background jobs, by state");
    describe_counter!(
        "devpulse_login_throttled_total",
        "Sign-ins and password-reset requests refused for coming too fast"
    );
}

/// Counts each request and times it, by its route's pattern (not its path, so ids do not
/// multiply the series; a request no route matched counts as `unmatched`).
pub async fn record_requests(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = req.method().as_str().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!(
        "devpulse_http_request_duration_seconds",
        "method" => method.clone(),
        "route" => route.clone()
    )
    .record(started.elapsed().as_secs_f64());
    metrics::counter!(
        "devpulse_http_requests_total",
        "method" => method,
        "route" => route,
        "status" => status
    )
    .increment(1);
    response
}

/// `GET /metrics`: the Prometheus text format, for a scraper holding the token.
pub async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = state.metrics_token.as_deref() else {
        return (
            StatusCode::NOT_FOUND,
            "metrics are off: set DEVPULSE_METRICS_TOKEN to serve them",
        )
            .into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !same(given.as_bytes(), token.as_bytes()) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "the metrics token is missing or wrong",
        )
            .into_response();
    }
    let handle = handle();
    sample(&state).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

/// Levels, read as the scrape asks.
async fn sample(state: &AppState) {
    use metrics::gauge;
    let w = state.writer.health();
    gauge!("devpulse_writer_queued_events").set(w.queued_events as f64);
    gauge!("devpulse_writer_queue_capacity").set(w.queue_capacity as f64);
    let pool = state.store.pool();
    let (size, idle) = (pool.size() as f64, pool.num_idle() as f64);
    gauge!("devpulse_db_pool_connections", "state" => "idle").set(idle);
    gauge!("devpulse_db_pool_connections", "state" => "in_use").set(size - idle);
    gauge!("devpulse_db_pool_max").set(f64::from(pool.options().get_max_connections()));
    let waits = store::pool_waits();
    metrics::counter!("devpulse_db_transactions_total").absolute(waits.opened);
    metrics::counter!("devpulse_db_transactions_without_idle_total").absolute(waits.without_idle);
    // Microseconds: a counter counts whole units.
    metrics::counter!("devpulse_db_transaction_open_microseconds_total")
        .absolute(waits.waited.as_micros() as u64);
    if let Some(r) = state.store.replica() {
        let st = r.status();
        gauge!("devpulse_db_replica_up").set(if st.up { 1.0 } else { 0.0 });
        if let Some(age) = st.staleness {
            gauge!("devpulse_db_replica_staleness_seconds").set(age.as_secs_f64());
        }
        metrics::counter!("devpulse_db_reads_total", "served" => "replica")
            .absolute(st.replica_reads);
        metrics::counter!("devpulse_db_reads_total", "served" => "primary")
            .absolute(st.primary_reads);
    }
    gauge!("devpulse_websocket_open").set(state.system.sockets.count() as f64);
    match store::jobs::counts(pool).await {
        Ok(c) => {
            for (name, n) in [
                ("queued", c.queued),
                ("running", c.running),
                ("dead", c.dead),
            ] {
                gauge!("devpulse_jobs", "state" => name).set(n as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "counting jobs for the metrics failed"),
    }
}

/// Equal, in time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grafana_dashboard_charts_only_what_is_exported_and_all_of_it() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../deploy/grafana/devpulse.json"
        );
        let text = std::fs::read_to_string(path).expect("the dashboard is in deploy/grafana");
        let _: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
        let mut named = std::collections::BTreeSet::new();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("devpulse_") {
            let name: String = rest[at..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            rest = &rest[at + name.len()..];
            // Histograms are charted through their series.
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(&name)
                .to_string();
            named.insert(base);
        }
        named.remove("devpulse_");
        for n in &named {
            assert!(
                METRICS.contains(&n.as_str()),
                "the dashboard charts {n}, which nothing exports"
            );
        }
        for m in METRICS {
            assert!(named.contains(*m), "{m} is exported but not charted");
        }
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
    }
}
