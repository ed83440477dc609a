//! The HTTP surface of a real server: health, readiness, the server-rendered page, headers,
//! limits, and the WebSocket feed.

use std::time::Duration;

use crate::common::{client, TestServer};
use futures::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use types::LiveMessage;

#[tokio::test]
async fn health_and_readiness() {
    let mut server = TestServer::start().await;
    let r = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = client().get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    server.shutdown().await;
}

#[tokio::test]
async fn readiness_reports_unmigrated_tenants() {
    let mut server = TestServer::start().await;
    store::tenants::create(
        server.db.store.pool(),
        &store::audit::Actor::cli(),
        &store::Slug::parse("acme").unwrap(),
        "Acme",
    )
    .await
    .unwrap();
    sqlx::query("UPDATE tenants SET migrated_version = 0")
        .execute(server.db.store.pool())
        .await
        .unwrap();
    let r = client().get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(
        r.headers()["content-type"],
        "application/problem+json",
        "errors are problem+json"
    );
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("not migrated"),
        "{body}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_status_page_is_rendered_on_the_server_with_database_data() {
    let mut server = TestServer::start().await;
    for slug in ["one", "two"] {
        store::tenants::create(
            server.db.store.pool(),
            &store::audit::Actor::cli(),
            &store::Slug::parse(slug).unwrap(),
            slug,
        )
        .await
        .unwrap();
    }
    let r = client().get(server.url("/status")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let html = r.text().await.unwrap();

    // Anonymous visitors learn that it works, not what it runs or how many customers it has.
    let version: String = sqlx::query_scalar("SELECT current_setting('server_version')")
        .fetch_one(server.db.store.pool())
        .await
        .unwrap();
    assert!(
        html.contains(r#"id="status-database">reachable<"#),
        "{html}"
    );
    assert!(!html.contains("status-tenants"), "{html}");
    assert!(!html.contains(&version), "{html}");

    // An operator sees the facts, read from PostgreSQL into the HTML before any script runs.
    let root = operator(&server).await;
    let operator_html = client()
        .get(server.url("/status"))
        .header("cookie", format!("devpulse_access={root}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        operator_html.contains(r#"id="status-tenants">2<"#),
        "{operator_html}"
    );
    assert!(operator_html.contains(&format!(r#"id="status-postgres">{version}<"#)));
    assert!(html.contains(r#"<script src="/echarts.min.js?v="#));

    // The page's policy allows exactly its own inline hydration script, by nonce.
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("CSP carries a nonce");
    assert!(
        html.contains(&format!(r#"nonce="{nonce}""#)),
        "hydration script has the nonce"
    );
    assert!(csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("unsafe-inline'; script") && !csp.contains("script-src 'unsafe-inline"));

    // Every page gets a fresh nonce.
    let again = client().get(server.url("/status")).send().await.unwrap();
    assert_ne!(
        again.headers()["content-security-policy"].to_str().unwrap(),
        csp
    );
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_pages_are_404_and_api_responses_are_locked_down() {
    let mut server = TestServer::start().await;
    let r = client()
        .get(server.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("Page not found"));

    let r = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(
        r.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
    );
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    server.shutdown().await;
}

#[tokio::test]
async fn pages_are_compressed_when_the_client_accepts_it() {
    let mut server = TestServer::start().await;
    let r = client()
        .get(server.url("/status"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-encoding"], "gzip");
    server.shutdown().await;
}

#[tokio::test]
async fn oversized_bodies_get_413_problem_json() {
    let mut server = TestServer::start_with(|c| c.body_limit = 4096).await;
    let r = client()
        .post(server.url("/api/status"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 10_000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], 413);
    // A gRPC caller whose declared length is over the limit is refused by the same layer,
    // before any handler: it gets a gRPC status (HTTP 200, RESOURCE_EXHAUSTED), which its
    // client reads as a refusal rather than a broken call.
    let r = client()
        .post(server.url("/opentelemetry.proto.collector.logs.v1.LogsService/Export"))
        .header("content-type", "application/grpc")
        .body(vec![0u8; 10_000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["grpc-status"], "8", "{:?}", r.headers());
    server.shutdown().await;
}

/// Routes anyone may call without signing in (sign-in, refresh, links, sign-out) take small
/// bodies only: nobody unauthenticated gets to make the server buffer megabytes.
#[tokio::test]
async fn unauthenticated_routes_take_small_bodies_only() {
    let mut server = TestServer::start().await;
    let big = format!(
        r#"{{"tenant":"demo","email":"a@demo.test","password":"{}"}}"#,
        "p".repeat(1024 * 1024)
    );
    for (path, ct) in [
        ("/api/v1/auth/login", "application/json"),
        ("/api/v1/auth/refresh", "application/json"),
        ("/api/v1/auth/links/redeem", "application/json"),
        ("/auth/login", "application/x-www-form-urlencoded"),
        ("/auth/welcome", "application/x-www-form-urlencoded"),
        // Leptos server functions: anyone can post before they check the session.
        ("/api/status", "application/x-www-form-urlencoded"),
        ("/api/profile/name", "application/x-www-form-urlencoded"),
    ] {
        let r = client()
            .post(server.url(path))
            .header("content-type", ct)
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 413, "{path}");
        assert_eq!(
            r.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
    }
    // Just over 16 KiB is refused too; a sign-in's real size is not.
    let r = client()
        .post(server.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(" ".repeat(17 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    server.shutdown().await;
}

/// A super admin's access token (the only role that sees the installation's details).
async fn operator(server: &TestServer) -> String {
    server::tenancy::create_super_admin(
        &server.db.store,
        &store::Email::parse("root@devpulse.test").unwrap(),
        Some("operator-password-1".into()),
        &store::audit::Actor::cli(),
    )
    .await
    .unwrap();
    crate::common::login(server, "", "root@devpulse.test", "operator-password-1").await
}

#[tokio::test]
async fn the_server_function_answers_from_the_database() {
    let mut server = TestServer::start().await;
    // Server functions are plain HTTP endpoints; this is what the hydrated page calls.
    let status = |cookie: Option<String>| {
        let mut r = client()
            .post(server.url("/api/status"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body("");
        if let Some(c) = cookie {
            // As the hydrated page sends it: same-origin (a cookie without it is refused).
            r = r.header("cookie", c).header("origin", server.url(""));
        }
        async move {
            let r = r.send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<app::pages::status::StatusInfo>().await.unwrap()
        }
    };
    assert_eq!(status(None).await.details, None);
    let root = operator(&server).await;
    let details = status(Some(format!("devpulse_access={root}")))
        .await
        .details
        .expect("an operator sees the details");
    assert_eq!(details.tenants, 0);
    // "external", or "external, through a transaction pooler" (`DEVPULSE_TEST_POOLER`).
    assert!(
        details.database_mode.starts_with("external"),
        "{}",
        details.database_mode
    );
    assert_eq!(details.database, server.db.name);
    server.shutdown().await;
}

#[tokio::test]
async fn the_websocket_pushes_a_point_every_second_and_closes_on_shutdown() {
    let mut server = TestServer::start().await;
    let url = format!("ws://{}/ws", server.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let mut points = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while points.len() < 3 {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("three points within 8s")
            .unwrap()
            .unwrap();
        if let Message::Text(text) = msg {
            let LiveMessage::DbSample(p) = serde_json::from_str(&text).unwrap() else {
                panic!("the status feed sent something else: {text}");
            };
            assert!(p.tps >= 0.0 && p.backends >= 1);
            points.push(p);
        }
    }
    assert!(points.windows(2).all(|w| w[1].ts_ms > w[0].ts_ms));

    // Shutting down says goodbye with 1012 (service restart) instead of hanging the drain.
    server.shutdown().await;
    let mut close_code = None;
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
        if let Message::Close(Some(frame)) = msg {
            close_code = Some(u16::from(frame.code));
            break;
        }
    }
    assert_eq!(close_code, Some(1012));
}

/// Reads until the server closes the connection; the guard only stops a broken server from
/// hanging the run.
async fn read_to_close(stream: &mut tokio::net::TcpStream) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let closed = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    closed
        .ok()
        .map(|()| String::from_utf8_lossy(&got).into_owned())
}

#[tokio::test]
async fn slow_headers_and_idle_connections_are_closed() {
    use tokio::io::AsyncWriteExt;
    let mut server = TestServer::start_with(|c| c.header_read_timeout_secs = 1).await;

    // A connection that never sends a request is closed.
    let mut idle = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    assert!(
        read_to_close(&mut idle).await.is_some(),
        "an idle connection stays open"
    );

    // Headers sent a byte at a time, never finishing, are cut off (slowloris).
    let mut slow = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    let (mut reader, mut writer) = slow.into_split();
    let drip = tokio::spawn(async move {
        for b in b"X-Slow: 0123456789012345678901234567890123456789"
            .iter()
            .cycle()
            .take(600)
        {
            if writer.write_all(&[*b]).await.is_err() {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        true
    });
    let answer = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        use tokio::io::AsyncReadExt;
        let mut got = Vec::new();
        let _ = reader.read_to_end(&mut got).await;
        String::from_utf8_lossy(&got).into_owned()
    })
    .await
    .expect("the server closes a connection whose headers never finish");
    assert!(!answer.contains("200"), "{answer}");
    drip.abort();

    // A prompt client on a keep-alive connection is unaffected.
    let r = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    server.shutdown().await;
}

#[tokio::test]
async fn connections_beyond_the_cap_are_answered_503_and_closed() {
    use tokio::io::AsyncWriteExt;
    let mut server = TestServer::start_with(|c| c.max_connections = 2).await;
    let first = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let _second = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let request = b"GET /healthz HTTP/1.1\r\nhost: devpulse\r\nconnection: close\r\n\r\n";

    let mut third = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    third.write_all(request).await.unwrap();
    let answer = read_to_close(&mut third).await.expect("closed");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after: 1"), "{answer}");

    // A slot frees when a connection closes.
    drop(first);
    let mut answered = String::new();
    for _ in 0..100 {
        let mut next = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        next.write_all(request).await.unwrap();
        answered = read_to_close(&mut next).await.expect("closed");
        if answered.starts_with("HTTP/1.1 200") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    server.shutdown().await;
}
