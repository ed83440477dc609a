//! With REDIS_URL, instances share the bus and the rate limits: a real redis-server, two
//! server instances on one database.

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use crate::common::{call, login, seed_two_tenants, TestServer};
use futures::StreamExt;
use reqwest::Method;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

/// A private redis-server on a free port, stopped on drop.
struct Redis {
    child: Child,
    url: String,
}

impl Redis {
    // Reaped in `Drop`, which clippy cannot see.
    #[allow(clippy::zombie_processes)]
    async fn start() -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/setup.sh installs it)");
        let url = format!("redis://127.0.0.1:{port}/");
        let client = redis::Client::open(url.as_str()).unwrap();
        for _ in 0..100 {
            if let Ok(mut c) = client.get_multiplexed_async_connection().await {
                if redis::cmd("PING")
                    .query_async::<String>(&mut c)
                    .await
                    .is_ok()
                {
                    return Redis { child, url };
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn key_for(server: &TestServer) -> String {
    let dev = login(server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let (_, key) = call(
        server,
        Method::POST,
        "/api/v1/api-keys",
        Some(&dev),
        Some(json!({ "name": "shared", "scopes": ["ingest"] })),
    )
    .await;
    key["key"].as_str().unwrap().to_string()
}

async fn hook(server: &TestServer, key: &str, n: usize) -> u16 {
    crate::common::client()
        .post(server.url("/api/v1/hooks/claude-code"))
        .header("x-api-key", key)
        .json(&json!({ "session_id": "r", "hook_event_name": "Stop", "_at": format!("2025-09-01T10:00:{n:02}Z") }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn instances_share_rate_limits_and_metrics_updates_through_redis() {
    let redis = Redis::start().await;
    let url = redis.url.clone();
    let mut a = TestServer::start_with(|c| {
        c.redis_url = Some(url.clone());
        c.ingest_key_rps = 2.0;
    })
    .await;
    let mut b = a
        .start_sharing(|c| {
            c.redis_url = Some(url.clone());
            c.ingest_key_rps = 2.0;
        })
        .await;
    seed_two_tenants(&a).await;
    let key = key_for(&a).await;

    // One bucket of 4 for the key, whichever instance the requests reach.
    let mut statuses = Vec::new();
    for n in 0..6 {
        let server = if n % 2 == 0 { &a } else { &b };
        statuses.push(hook(server, &key, n).await);
    }
    assert_eq!(statuses, [204, 204, 204, 204, 429, 429], "{statuses:?}");

    // Single sign-on starts from one address: one bucket of 30 (refilling at one a second)
    // across both instances. Alternating, 44 starts are 22 per instance, which each alone
    // would allow; shared, some are refused. (The limit is taken before the workspace is
    // looked up.)
    let mut admitted = 0;
    for n in 0..44 {
        let server = if n % 2 == 0 { &a } else { &b };
        let r = crate::common::client()
            .get(server.url("/auth/sso/start?workspace=nowhere"))
            .send()
            .await
            .unwrap();
        let to = r.headers()["location"].to_str().unwrap().to_string();
        if to.contains("too+many") || to.contains("too%20many") {
            break;
        }
        admitted += 1;
    }
    assert!(
        (30..44).contains(&admitted),
        "{admitted} starts before the first refusal"
    );

    // A page connected to instance B hears about a write made through instance A.
    let admin = login(&b, "demo", "admin@demo.test", "demo-admin-pass").await;
    let mut req = format!("ws://{}/ws/metrics", b.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {admin}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    // Let the subscription settle, and the key's bucket refill.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Updates for the writes above may still be arriving; set them aside.
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(300), ws.next()).await {}
    assert_eq!(hook(&a, &key, 10).await, 204);
    let update = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Text(t) = msg {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["type"] == "metrics_update" {
                    return v;
                }
            }
        }
        panic!("socket closed");
    })
    .await
    .expect("an update arrives through Redis");
    assert_eq!(update["events"], 1);

    // A board saved through instance A reaches the owner's page on instance B.
    let admin = login(&a, "demo", "admin@demo.test", "demo-admin-pass").await;
    let (status, board) = call(
        &a,
        Method::POST,
        "/api/v1/dashboard/config",
        Some(&admin),
        Some(json!({ "name": "Mine", "document": { "widgets": [] } })),
    )
    .await;
    assert_eq!(status, 201, "{board}");
    let id = board["id"].as_str().unwrap();
    let (status, _) = call(
        &a,
        Method::PUT,
        &format!("/api/v1/dashboard/config/{id}"),
        Some(&admin),
        Some(json!({ "version": 1, "document": { "widgets": [] } })),
    )
    .await;
    assert_eq!(status, 200);
    let said = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Text(t) = msg {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["type"] == "dashboard_refresh" && v["board"].is_string() {
                    return v;
                }
            }
        }
        panic!("socket closed");
    })
    .await
    .expect("a board change arrives through Redis");
    assert_eq!(
        (said["board"].as_str(), said["version"].as_i64()),
        (Some(id), Some(2))
    );
    b.shutdown().await;
    a.shutdown().await;
    drop(redis);
}
