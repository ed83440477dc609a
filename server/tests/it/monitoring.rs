//! `/metrics`: served only to the token's holder, in Prometheus' text format, with the
//! requests, ingestion and WebSockets of the traffic before the scrape counted.

use std::time::Duration;

use futures::StreamExt;
use serde_json::json;

use crate::common::{client, fixtures::people, TestServer};

const TOKEN: &str = "a-scraper-token-for-the-tests";

/// The sum of the samples of `name` whose labels include all of `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            (metric == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
            .then(|| value.parse::<f64>().ok())
            .flatten()
        })
        .sum()
}

async fn scrape(server: &TestServer, token: Option<&str>) -> (u16, String) {
    let mut req = client().get(server.url("/metrics"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn metrics_count_requests_ingestion_and_sockets_for_the_token_holder() {
    let mut server = TestServer::start_with(|c| c.metrics_token = Some(TOKEN.into())).await;
    let keys = people(&server).await;
    assert_eq!(
        client()
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Two events, then the same two again.
    let at = chrono::Utc::now().to_rfc3339();
    let items = json!([
        { "type": "tool_use", "tool_name": "Bash", "tool_use_id": "m-1", "session_id": "m", "success": true, "timestamp": at },
        { "type": "tool_use", "tool_name": "Read", "tool_use_id": "m-2", "session_id": "m", "success": true, "timestamp": at },
    ]);
    for _ in 0..2 {
        let r = client()
            .post(server.url("/api/v1/ingest/batch"))
            .header("x-api-key", &keys["ana"])
            .json(&items)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    // A status socket, held until its first message.
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", server.addr))
        .await
        .expect("the status socket opens");
    let first = tokio::time::timeout(Duration::from_secs(10), ws.next()).await;
    assert!(matches!(first, Ok(Some(Ok(_)))), "{first:?}");

    assert_eq!(scrape(&server, None).await.0, 401);
    assert_eq!(scrape(&server, Some("not-the-token")).await.0, 401);
    let (status, text) = scrape(&server, Some(TOKEN)).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains("# TYPE devpulse_http_requests_total counter"),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "devpulse_http_requests_total",
            &[("route", "/healthz"), ("status", "200")]
        ) >= 1.0,
        "{text}"
    );
    assert!(
        sample(
            &text,
            "devpulse_http_request_duration_seconds_count",
            &[("route", "/api/v1/ingest/batch")]
        ) >= 2.0,
        "{text}"
    );
    assert!(
        sample(
            &text,
            "devpulse_ingest_events_total",
            &[("outcome", "accepted")]
        ) >= 2.0
    );
    assert!(
        sample(
            &text,
            "devpulse_ingest_events_total",
            &[("outcome", "duplicate")]
        ) >= 2.0
    );
    assert!(sample(&text, "devpulse_writer_flush_seconds_count", &[]) >= 1.0);
    assert!(sample(&text, "devpulse_websocket_connections_total", &[]) >= 1.0);
    assert!(sample(&text, "devpulse_websocket_open", &[]) >= 1.0);
    assert!(
        sample(&text, "devpulse_websocket_messages_total", &[]) >= 1.0,
        "{text}"
    );
    assert!(sample(&text, "devpulse_db_pool_max", &[]) >= 1.0);
    // Opening transactions is counted and timed (the process's counters: other tests'
    // servers in this process add to them, which only makes them larger).
    assert!(sample(&text, "devpulse_db_transactions_total", &[]) >= 1.0);
    assert!(
        sample(
            &text,
            "devpulse_db_transaction_open_microseconds_total",
            &[]
        ) >= 1.0
    );
    assert!(text.contains("devpulse_jobs{state=\"queued\"}"), "{text}");
    drop(ws);
    server.shutdown().await;
}

#[tokio::test]
async fn without_a_token_metrics_are_not_served() {
    let mut server = TestServer::start().await;
    let (status, text) = scrape(&server, Some(TOKEN)).await;
    assert_eq!(status, 404);
    assert!(text.contains("DEVPULSE_METRICS_TOKEN"), "{text}");
    server.shutdown().await;
}
