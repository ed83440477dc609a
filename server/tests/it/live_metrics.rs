//! After commit, one `metrics_update` per tenant reaches `/ws/metrics`, coalesced, and
//! only for the subscriber's own tenant.

use std::time::Duration;

use crate::common::{call, login, seed_two_tenants, TestServer};
use futures::StreamExt;
use reqwest::Method;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

async fn subscribe(
    server: &TestServer,
    token: Option<&str>,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    u16,
> {
    let mut req = format!("ws://{}/ws/metrics", server.addr)
        .into_client_request()
        .unwrap();
    if let Some(t) = token {
        req.headers_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("{e}"),
    }
}

/// Every metrics_update that arrives within `wait`.
async fn drain(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    wait: Duration,
) -> Vec<Value> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, ws.next()).await {
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["type"] == "metrics_update" {
                got.push(v);
            }
        }
    }
    got
}

#[tokio::test]
async fn a_burst_of_events_makes_a_handful_of_updates_for_its_tenant_only() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let other = login(&server, "other", "admin@other.test", "other-admin-pass").await;
    let viewer = login(&server, "demo", "viewer@demo.test", "demo-viewer-pass").await;
    assert_eq!(subscribe(&server, None).await.err(), Some(401));
    assert_eq!(subscribe(&server, Some(&viewer)).await.err(), Some(403));
    let mut mine = subscribe(&server, Some(&admin)).await.unwrap();
    let mut theirs = subscribe(&server, Some(&other)).await.unwrap();

    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let (_, key) = call(
        &server,
        Method::POST,
        "/api/v1/api-keys",
        Some(&dev),
        Some(json!({ "name": "burst", "scopes": ["ingest"] })),
    )
    .await;
    let key = key["key"].as_str().unwrap().to_string();
    // 10,000 events in 10 concurrent batches.
    let posts = (0..10).map(|b| {
        let items: Vec<Value> = (0..1000)
            .map(|i| {
                json!({ "type": "tool_use", "tool_name": "Read", "tool_use_id": format!("t{b}-{i}"),
                             "timestamp": "2025-09-01T10:00:00Z" })
            })
            .collect();
        crate::common::client()
            .post(server.url("/api/v1/ingest/batch"))
            .header("x-api-key", &key)
            .json(&items)
            .send()
    });
    for r in futures::future::join_all(posts).await {
        assert_eq!(r.unwrap().status(), 200);
    }
    let updates = drain(&mut mine, Duration::from_secs(2)).await;
    let total: u64 = updates.iter().map(|u| u["events"].as_u64().unwrap()).sum();
    assert_eq!(total, 10_000, "{updates:?}");
    assert!(
        (1..=5).contains(&updates.len()),
        "a burst makes a handful of messages, not {}",
        updates.len()
    );
    assert!(drain(&mut theirs, Duration::from_millis(300))
        .await
        .is_empty());
    server.shutdown().await;
}
