//! After commit, one `metrics_update` per tenant reaches `/ws/metrics`, coalesced, and
//! only for the subscriber's own tenant.

use std::time::Duration;

use crate::common::{call, login, seed_two_tenants, TestServer};
use futures::StreamExt;
use reqwest::Method;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

pub(crate) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn subscribe(server: &TestServer, token: Option<&str>) -> Result<Socket, u16> {
    let auth = token.map(|t| ("authorization", format!("Bearer {t}")));
    connect(server, "/ws/metrics", auth.as_slice()).await
}

/// An upgrade of `path` with these headers: the socket, or the status it was refused with.
pub(crate) async fn connect(
    server: &TestServer,
    path: &str,
    headers: &[(&str, String)],
) -> Result<Socket, u16> {
    let mut req = format!("ws://{}{path}", server.addr)
        .into_client_request()
        .unwrap();
    for (name, value) in headers {
        let name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap();
        req.headers_mut().insert(name, value.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("{e}"),
    }
}

/// Every metrics_update that arrives within `wait`.
async fn drain(ws: &mut Socket, wait: Duration) -> Vec<Value> {
    drain_where(ws, wait, |v| v["type"] == "metrics_update").await
}

/// Every message `keep` accepts that arrives within `wait`.
async fn drain_where(ws: &mut Socket, wait: Duration, keep: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, ws.next()).await {
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).unwrap();
            if keep(&v) {
                got.push(v);
            }
        }
    }
    got
}

/// The (board, version) of every board change announced within `wait`.
async fn boards_said(ws: &mut Socket, wait: Duration) -> Vec<(String, Value)> {
    drain_where(ws, wait, |v| {
        v["type"] == "dashboard_refresh" && v["board"].is_string()
    })
    .await
    .into_iter()
    .map(|v| {
        (
            v["board"].as_str().unwrap().to_string(),
            v["version"].clone(),
        )
    })
    .collect()
}

#[tokio::test]
async fn a_saved_board_reaches_its_owners_pages_and_a_workspace_board_everyones() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let manager = login(&server, "demo", "manager@demo.test", "demo-manager-pass").await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let mut dev_ws = subscribe(&server, Some(&dev)).await.unwrap();
    let mut manager_ws = subscribe(&server, Some(&manager)).await.unwrap();
    let empty = json!({ "widgets": [] });

    let (status, board) = call(
        &server,
        Method::POST,
        "/api/v1/dashboard/config",
        Some(&dev),
        Some(json!({ "name": "Mine", "document": empty })),
    )
    .await;
    assert_eq!(status, 201, "{board}");
    let mine = board["id"].as_str().unwrap().to_string();
    let (status, saved) = call(
        &server,
        Method::PUT,
        &format!("/api/v1/dashboard/config/{mine}"),
        Some(&dev),
        Some(json!({ "version": 1, "name": "Still mine", "document": empty })),
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(
        boards_said(&mut dev_ws, Duration::from_secs(2)).await,
        [(mine.clone(), json!(2))],
        "the owner's other pages hear of the save"
    );
    assert_eq!(
        boards_said(&mut manager_ws, Duration::from_millis(300)).await,
        [],
        "one person's board is nobody else's business"
    );

    let (_, board) = call(
        &server,
        Method::POST,
        "/api/v1/dashboard/config",
        Some(&admin),
        Some(json!({ "name": "Ours", "document": empty, "workspace": true })),
    )
    .await;
    let ours = board["id"].as_str().unwrap().to_string();
    let (status, _) = call(
        &server,
        Method::PUT,
        &format!("/api/v1/dashboard/config/{ours}"),
        Some(&admin),
        Some(json!({ "version": 1, "document": empty })),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &server,
        Method::DELETE,
        &format!("/api/v1/dashboard/config/{ours}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 204);
    for ws in [&mut dev_ws, &mut manager_ws] {
        assert_eq!(
            boards_said(ws, Duration::from_secs(2)).await,
            [(ours.clone(), json!(2)), (ours.clone(), Value::Null)],
            "a workspace board's save and deletion reach the workspace"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_burst_of_events_makes_a_handful_of_updates_for_its_tenant_only() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let other = login(&server, "other", "admin@other.test", "other-admin-pass").await;
    let viewer = login(&server, "demo", "viewer@demo.test", "demo-viewer-pass").await;
    assert_eq!(subscribe(&server, None).await.err(), Some(401));
    // A viewer reads the dashboard too, as totals (see the feed test below).
    assert!(subscribe(&server, Some(&viewer)).await.is_ok());
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

/// A developer key with both scopes, for `name`'s events.
pub(crate) async fn key_of(server: &TestServer, token: &str, name: &str) -> String {
    let (status, key) = call(
        server,
        Method::POST,
        "/api/v1/api-keys",
        Some(token),
        Some(json!({ "name": name, "scopes": ["ingest", "read"] })),
    )
    .await;
    assert_eq!(status, 201, "{key}");
    key["key"].as_str().unwrap().to_string()
}

pub(crate) async fn send_tools(server: &TestServer, key: &str, prefix: &str, n: usize) {
    let items: Vec<Value> = (0..n)
        .map(|i| {
            json!({ "type": "tool_use", "tool_name": "Read", "tool_use_id": format!("{prefix}-{i}"),
                    "timestamp": "2025-09-01T10:00:00Z" })
        })
        .collect();
    let r = crate::common::client()
        .post(server.url("/api/v1/ingest/batch"))
        .header("x-api-key", key)
        .json(&items)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Waits up to `within` for the server to close the socket; the close code, if it sent one.
pub(crate) async fn closed_within(ws: &mut Socket, within: Duration) -> Option<u16> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => panic!("the socket is still open after {within:?}"),
            Ok(None) | Ok(Some(Err(_))) => return None,
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// A page on another site cannot open the feeds with the visitor's cookie; a client that
/// sends no Origin (not a browser) must present its credential itself.
#[tokio::test]
async fn cross_origin_and_cookie_only_upgrades_are_refused() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let own = format!("http://{}", server.addr);
    let evil = "https://evil.example".to_string();
    let bearer = ("authorization", format!("Bearer {admin}"));
    let cookie = ("cookie", format!("devpulse_access={admin}"));
    let metrics = |headers: Vec<(&'static str, String)>| {
        let server = &server;
        async move { connect(server, "/ws/metrics", &headers).await.err() }
    };
    assert_eq!(
        metrics(vec![cookie.clone(), ("origin", evil.clone())]).await,
        Some(403)
    );
    assert_eq!(
        metrics(vec![bearer.clone(), ("origin", evil.clone())]).await,
        Some(403)
    );
    assert_eq!(
        metrics(vec![cookie.clone(), ("origin", "null".into())]).await,
        Some(403)
    );
    assert_eq!(
        metrics(vec![cookie.clone()]).await,
        Some(403),
        "cookie alone, no Origin"
    );
    assert_eq!(
        metrics(vec![cookie.clone(), ("origin", own.clone())]).await,
        None
    );
    assert_eq!(
        metrics(vec![bearer.clone()]).await,
        None,
        "a non-browser client"
    );
    // The public feed refuses other sites too, and serves anyone else.
    assert_eq!(
        connect(&server, "/ws", &[("origin", evil)]).await.err(),
        Some(403)
    );
    assert!(connect(&server, "/ws", &[("origin", own)]).await.is_ok());
    assert!(connect(&server, "/ws", &[]).await.is_ok());
    server.shutdown().await;
}

/// An open feed keeps checking its caller: deactivation, a role change, or a key losing the
/// right to read closes it (1008, policy violation) within a few seconds.
#[tokio::test]
async fn an_open_feed_closes_when_its_caller_loses_the_right_to_it() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let manager = login(&server, "demo", "manager@demo.test", "demo-manager-pass").await;
    let key = key_of(&server, &manager, "feed").await;
    let mut dev_ws = subscribe(&server, Some(&dev)).await.unwrap();
    let mut manager_ws = subscribe(&server, Some(&manager)).await.unwrap();
    let mut key_ws = connect(&server, "/ws/metrics", &[("x-api-key", key.clone())])
        .await
        .unwrap();
    // Nothing happens to an open feed whose caller is still fine.
    assert!(drain(&mut dev_ws, Duration::from_secs(3)).await.is_empty());

    let dev_id = crate::common::user_id(&server, &admin, "dev@demo.test").await;
    let manager_id = crate::common::user_id(&server, &admin, "manager@demo.test").await;
    let path = format!("/api/v1/users/{dev_id}/deactivate");
    assert_eq!(
        call(&server, Method::POST, &path, Some(&admin), None)
            .await
            .0,
        200
    );
    assert_eq!(
        closed_within(&mut dev_ws, Duration::from_secs(10)).await,
        Some(1008)
    );

    // A role change ends the manager's sessions; their key, still valid, now reads the feed
    // as a viewer: totals only, without whose events they were.
    let path = format!("/api/v1/users/{manager_id}/role");
    let (status, body) = call(
        &server,
        Method::PUT,
        &path,
        Some(&admin),
        Some(json!({ "role": "viewer" })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        closed_within(&mut manager_ws, Duration::from_secs(10)).await,
        Some(1008)
    );
    let ingest = key_of(&server, &admin, "ingest").await;
    send_tools(&server, &ingest, "seen-by-a-viewer", 3).await;
    let updates = drain(&mut key_ws, Duration::from_secs(4)).await;
    let total: u64 = updates.iter().map(|u| u["events"].as_u64().unwrap()).sum();
    assert_eq!(total, 3, "{updates:?}");
    assert!(
        updates.iter().all(|u| u.get("by_user").is_none()),
        "a viewer learnt whose events they were: {updates:?}"
    );
    server.shutdown().await;
}

/// Clients have nothing to say on the feeds: a large message closes the socket.
#[tokio::test]
async fn an_oversized_inbound_message_closes_the_socket() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    for path in ["/ws", "/ws/metrics"] {
        let mut ws = connect(
            &server,
            path,
            &[("authorization", format!("Bearer {admin}"))],
        )
        .await
        .unwrap();
        use futures::SinkExt;
        // Sending may itself fail once the server has hung up.
        let _ = ws.send(Message::text("x".repeat(1024 * 1024))).await;
        let code = closed_within(&mut ws, Duration::from_secs(5)).await;
        assert!(code.is_none() || code == Some(1009), "{path}: {code:?}");
    }
    server.shutdown().await;
}

/// A developer's feed tells them about their own events only; the tenant admin hears of all.
#[tokio::test]
async fn a_developer_hears_only_of_their_own_events() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let (status, body) = call(
        &server,
        Method::POST,
        "/api/v1/users",
        Some(&admin),
        Some(json!({ "email": "colleague@demo.test", "role": "developer", "password": "colleague-pass-1" })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let colleague = login(&server, "demo", "colleague@demo.test", "colleague-pass-1").await;
    let dev_key = key_of(&server, &dev, "mine").await;
    let colleague_key = key_of(&server, &colleague, "theirs").await;
    let mut dev_ws = subscribe(&server, Some(&dev)).await.unwrap();
    let mut admin_ws = subscribe(&server, Some(&admin)).await.unwrap();

    send_tools(&server, &colleague_key, "colleague", 7).await;
    assert!(
        drain(&mut dev_ws, Duration::from_secs(1)).await.is_empty(),
        "a developer heard of a colleague's events"
    );
    send_tools(&server, &dev_key, "dev", 3).await;
    let mine = drain(&mut dev_ws, Duration::from_secs(1)).await;
    let total: u64 = mine.iter().map(|u| u["events"].as_u64().unwrap()).sum();
    assert_eq!(total, 3, "{mine:?}");
    let all = drain(&mut admin_ws, Duration::from_millis(300)).await;
    let total: u64 = all.iter().map(|u| u["events"].as_u64().unwrap()).sum();
    assert_eq!(total, 10, "{all:?}");
    server.shutdown().await;
}

/// `?token=` takes a single-use ticket from `POST /api/v1/ws/ticket`, never a session token:
/// it opens one feed, once, and the feed then hears what its person may see.
#[tokio::test]
async fn a_ticket_opens_one_feed_once() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let (status, _) = call(&server, Method::POST, "/api/v1/ws/ticket", None, None).await;
    assert_eq!(status, 401);
    let (status, body) = call(
        &server,
        Method::POST,
        "/api/v1/ws/ticket",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 30);
    let ticket = body["ticket"].as_str().unwrap().to_string();
    assert!(ticket.starts_with("demo."), "{ticket}");

    // The session's own token in the URL is refused: only tickets go there.
    assert_eq!(
        connect(&server, &format!("/ws/metrics?token={admin}"), &[])
            .await
            .err(),
        Some(401)
    );
    let mut ws = connect(&server, &format!("/ws/metrics?token={ticket}"), &[])
        .await
        .expect("the ticket opens the feed");
    let greeting = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        greeting.to_text().unwrap().contains("dashboard_refresh"),
        "{greeting}"
    );
    assert_eq!(
        connect(&server, &format!("/ws/metrics?token={ticket}"), &[])
            .await
            .err(),
        Some(401),
        "a ticket opened a second feed"
    );

    // The feed it opened hears the tenant's updates like any other.
    let key = key_of(&server, &admin, "ticketed").await;
    send_tools(&server, &key, "ticketed", 2).await;
    let updates = drain(&mut ws, Duration::from_secs(3)).await;
    assert_eq!(
        updates
            .iter()
            .map(|u| u["events"].as_u64().unwrap())
            .sum::<u64>(),
        2,
        "{updates:?}"
    );
    server.shutdown().await;
}

/// A support access's feed closes as soon as the access ends.
#[tokio::test]
async fn a_support_access_feed_closes_when_the_access_ends() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let root = login(&server, "", "root@devpulse.test", "demo-superadmin-pass").await;
    let (status, opened) = call(
        &server,
        Method::POST,
        "/api/v1/admin/tenants/demo/support",
        Some(&root),
        Some(json!({ "reason": "watching the live feed", "minutes": 5 })),
    )
    .await;
    assert_eq!(status, 201);
    let token = opened["access_token"].as_str().unwrap().to_string();
    let mut ws = connect(
        &server,
        "/ws/metrics",
        &[("authorization", format!("Bearer {token}"))],
    )
    .await
    .expect("a support access reads the feed");
    let greeting = drain_where(&mut ws, Duration::from_secs(3), |v| {
        v["type"] == "dashboard_refresh"
    })
    .await;
    assert_eq!(greeting.len(), 1);
    let (status, _) = call(
        &server,
        Method::POST,
        "/api/v1/auth/support/end",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        closed_within(&mut ws, Duration::from_secs(5)).await,
        Some(1008)
    );
    server.shutdown().await;
}
