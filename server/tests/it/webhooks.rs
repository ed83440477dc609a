//! Webhooks against a receiver the test runs: an alert's delivery is signed with the
//! webhook's secret (verified here with HMAC-SHA256), a receiver answering 500 gets retries
//! with back-off, every attempt is in the delivery log, and "send test" sends a test.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{extract::State, http::HeaderMap, routing::post, Router};
use chrono::Utc;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::common::{call, client, fixtures::people, login, TestServer};

/// What the receiver got, and the statuses it answers with, in turn (then 200).
#[derive(Default)]
struct Receiver {
    got: Vec<(Instant, HeaderMap, String)>,
    answers: Vec<u16>,
}

async fn receive(
    State(r): State<Arc<Mutex<Receiver>>>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let mut r = r.lock().unwrap();
    r.got.push((Instant::now(), headers, body));
    let status = if r.answers.is_empty() {
        200
    } else {
        r.answers.remove(0)
    };
    StatusCode::from_u16(status).unwrap()
}

async fn receiver(answers: Vec<u16>) -> (String, Arc<Mutex<Receiver>>) {
    let state = Arc::new(Mutex::new(Receiver {
        got: vec![],
        answers,
    }));
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, state)
}

async fn wait_for(r: &Arc<Mutex<Receiver>>, n: usize) -> Vec<(Instant, HeaderMap, String)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        {
            let got = &r.lock().unwrap().got;
            if got.len() >= n {
                return got.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "the receiver got fewer than {n} requests"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn verifies(secret: &str, headers: &HeaderMap, body: &str) -> bool {
    let ts = headers["x-devpulse-timestamp"].to_str().unwrap();
    let sig = headers["x-devpulse-signature"].to_str().unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}.{body}").as_bytes());
    let hex = sig.strip_prefix("sha256=").unwrap();
    mac.verify_slice(&hex::decode(hex).unwrap()).is_ok()
        && (Utc::now().timestamp() - ts.parse::<i64>().unwrap()).abs() < 120
}

#[tokio::test]
async fn alerts_reach_webhooks_signed_retried_with_back_off_and_logged() {
    let mut server = TestServer::start().await;
    let keys = people(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let (url, got) = receiver(vec![500, 500]).await;

    // Refused by field.
    for (body, pointer) in [
        (
            json!({ "name": "x", "url": "ftp://example.com/hook" }),
            "/url",
        ),
        (json!({ "name": "x", "url": "not an address" }), "/url"),
        (json!({ "name": "", "url": url }), "/name"),
        (
            json!({ "name": "x", "url": url, "format": "fax" }),
            "/format",
        ),
    ] {
        let (status, problem) = call(
            &server,
            Method::POST,
            "/api/v1/webhooks",
            Some(&admin),
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert!(problem.to_string().contains(pointer), "{body}: {problem}");
    }
    // Not for developers.
    let dev = login(&server, "demo", "ana@demo.test", "ana-password-123").await;
    let (status, _) = call(&server, Method::GET, "/api/v1/webhooks", Some(&dev), None).await;
    assert_eq!(status, 403);

    let (status, hook) = call(
        &server,
        Method::POST,
        "/api/v1/webhooks",
        Some(&admin),
        Some(json!({ "name": "Ops", "url": url, "format": "json" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let secret = hook["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let id = hook["id"].as_str().unwrap().to_string();
    let (_, listed) = call(&server, Method::GET, "/api/v1/webhooks", Some(&admin), None).await;
    assert!(
        listed.to_string().find("whsec_").is_none(),
        "the secret is shown once: {listed}"
    );

    // A rule that fires on the first dollar.
    let (status, rule) = call(
        &server,
        Method::POST,
        "/api/v1/alerts",
        Some(&admin),
        Some(
            json!({ "name": "Any spend", "metric": "cost_usd", "direction": "above",
                     "threshold": 0.5 }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    let at = (Utc::now() - chrono::TimeDelta::minutes(1)).to_rfc3339();
    let r = client()
        .post(server.url("/api/v1/ingest/batch"))
        .header("x-api-key", keys["ana"].as_str())
        .json(
            &json!([{ "type": "api_request", "request_id": "hook-1", "session_id": "hook",
                        "model": "claude-sonnet-4-5", "input_tokens": 10, "cost_usd": 1.0,
                        "timestamp": at }]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // 500, 500, then delivered: three attempts, each signed, 5 s and 10 s apart at least.
    let requests = wait_for(&got, 3).await;
    for (_, headers, body) in &requests {
        assert!(
            verifies(&secret, headers, body),
            "the signature verifies: {headers:?}"
        );
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["type"], "alert");
        assert_eq!(v["event"]["rule_name"], "Any spend");
        assert_eq!(v["event"]["state"], "firing");
        assert_eq!(v["workspace"], "Demo");
    }
    assert!(!verifies("whsec_wrong", &requests[0].1, &requests[0].2));
    let gaps = [requests[1].0 - requests[0].0, requests[2].0 - requests[1].0];
    assert!(gaps[0] >= Duration::from_millis(4500), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(9500), "{gaps:?}");

    // The log: each attempt, newest first.
    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log = deliveries(&server, &admin, &id).await;
        if log.len() >= 3 || Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let seen: Vec<(i64, i64)> = log
        .iter()
        .map(|d| {
            (
                d["attempt"].as_i64().unwrap(),
                d["status"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(seen, vec![(3, 200), (2, 500), (1, 500)], "{log:?}");
    assert_eq!(log[1]["error"], "the receiver answered 500");

    // Send test.
    let (status, _) = call(
        &server,
        Method::POST,
        &format!("/api/v1/webhooks/{id}/test"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let requests = wait_for(&got, 4).await;
    let (_, headers, body) = &requests[3];
    assert!(verifies(&secret, headers, body));
    let v: Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["type"], "test");
    // Off, it gets nothing more; deleted, it is gone.
    let (status, off) = call(
        &server,
        Method::PUT,
        &format!("/api/v1/webhooks/{id}"),
        Some(&admin),
        Some(json!({ "enabled": false })),
    )
    .await;
    assert_eq!(status, 200, "{off}");
    assert_eq!(off["enabled"], false);
    let (status, _) = call(
        &server,
        Method::DELETE,
        &format!("/api/v1/webhooks/{id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 204);
    crate::common::assert_actions_listed(&server).await;
    server.shutdown().await;
}

async fn deliveries(server: &TestServer, admin: &str, id: &str) -> Vec<Value> {
    let (status, log) = call(
        server,
        Method::GET,
        &format!("/api/v1/webhooks/{id}/deliveries"),
        Some(admin),
        None,
    )
    .await;
    assert_eq!(status, 200, "{log}");
    log.as_array().unwrap().clone()
}
