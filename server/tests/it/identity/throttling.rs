//! Sign-in under attack: concurrent guesses, forged `X-Forwarded-For`, targeted lockout and an
//! anonymous flood beside live ingestion.

use std::collections::BTreeMap;

use futures::{stream, StreamExt};
use serde_json::{json, Value};

use crate::common::{call, client, fixtures::people, login, seed_two_tenants, TestServer};

async fn attempt(
    server: &TestServer,
    email: &str,
    password: &str,
    from: Option<&str>,
) -> (u16, bool) {
    let mut request = client()
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({ "tenant": "demo", "email": email, "password": password }));
    if let Some(ip) = from {
        request = request.header("x-forwarded-for", ip);
    }
    let r = request.send().await.unwrap();
    (r.status().as_u16(), r.headers().contains_key("retry-after"))
}

fn tally(statuses: &[u16]) -> BTreeMap<u16, usize> {
    let mut t = BTreeMap::new();
    for s in statuses {
        *t.entry(*s).or_default() += 1;
    }
    t
}

#[tokio::test]
async fn concurrent_guesses_cannot_all_pass_the_check() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    // Thirty guesses at once: checking the limit before any of them has failed let every
    // one through to the password check.
    let statuses: Vec<u16> = stream::iter(0..30)
        .map(|_| attempt(&server, "admin@demo.test", "wrong-password-123", None))
        .buffer_unordered(30)
        .map(|(s, _)| s)
        .collect()
        .await;
    let t = tally(&statuses);
    assert_eq!(t.get(&401), Some(&5), "{t:?}");
    assert_eq!(t.get(&429), Some(&25), "{t:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn forwarded_for_counts_only_from_a_trusted_proxy() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    // A direct client making up a new address and e-mail each time is still one source.
    let mut statuses = Vec::new();
    for i in 0..25 {
        let (s, _) = attempt(
            &server,
            &format!("nobody{i}@demo.test"),
            "wrong-password-123",
            Some(&format!("203.0.113.{i}")),
        )
        .await;
        statuses.push(s);
    }
    assert_eq!(&statuses[..20], &[401; 20], "{statuses:?}");
    assert_eq!(&statuses[20..], &[429; 5], "{statuses:?}");
    server.shutdown().await;

    // Behind a trusted proxy the forwarded address is the source, in throttling and in the
    // audit log alike.
    let mut server = TestServer::start_with(|c| {
        c.trusted_proxies = server::auth::TrustedProxies::parse("127.0.0.1").unwrap()
    })
    .await;
    seed_two_tenants(&server).await;
    for i in 0..25 {
        let (s, _) = attempt(
            &server,
            &format!("nobody{i}@demo.test"),
            "wrong-password-123",
            Some(&format!("6.6.6.6, 203.0.113.{i}")),
        )
        .await;
        assert_eq!(s, 401, "attempt {i}");
    }
    let (s, _) = attempt(
        &server,
        "dev@demo.test",
        "nope-nope-nope",
        Some("198.51.100.20"),
    )
    .await;
    assert_eq!(s, 401);
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let entry = wait_for_failed_login(&server, &admin, "dev@demo.test").await;
    assert_eq!(entry["ip"], "198.51.100.20", "{entry}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_strangers_failures_do_not_lock_the_owner_out() {
    let mut server = TestServer::start_with(|c| {
        c.trusted_proxies = server::auth::TrustedProxies::parse("127.0.0.0/8").unwrap()
    })
    .await;
    seed_two_tenants(&server).await;
    for _ in 0..10 {
        attempt(
            &server,
            "admin@demo.test",
            "wrong-password-123",
            Some("198.51.100.7"),
        )
        .await;
    }
    let (s, retry) = attempt(
        &server,
        "admin@demo.test",
        "wrong-password-123",
        Some("198.51.100.7"),
    )
    .await;
    assert_eq!((s, retry), (429, true));
    // The owner, elsewhere, with the right password.
    let (s, _) = attempt(
        &server,
        "admin@demo.test",
        "demo-admin-pass",
        Some("192.0.2.1"),
    )
    .await;
    assert_eq!(s, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn repeated_failures_become_one_audit_entry_with_a_count() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    for _ in 0..4 {
        attempt(&server, "dev@demo.test", "wrong-password-123", None).await;
    }
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let entry = wait_for_failed_login(&server, &admin, "dev@demo.test").await;
    // Batched each second: the four are one entry, two if a write fell between them.
    let mut failed = Vec::new();
    for _ in 0..50 {
        let (_, log) = call(
            &server,
            reqwest::Method::GET,
            "/api/v1/audit?limit=200",
            Some(&admin),
            None,
        )
        .await;
        failed = log
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "login.failed")
            .cloned()
            .collect::<Vec<Value>>();
        if attempts_in(&failed) == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(attempts_in(&failed), 4, "{failed:?}");
    assert!(failed.len() <= 2, "{failed:?}");
    assert!(
        entry["target"].is_string(),
        "the known user is the target: {entry}"
    );
    server.shutdown().await;
}

fn attempts_in(entries: &[Value]) -> u64 {
    entries
        .iter()
        .map(|e| e["details"]["attempts"].as_u64().unwrap())
        .sum()
}

/// Failed sign-ins reach the audit log within about a second.
pub async fn wait_for_failed_login(server: &TestServer, admin: &str, email: &str) -> Value {
    for _ in 0..100 {
        let (status, log) = call(
            server,
            reqwest::Method::GET,
            "/api/v1/audit?limit=200",
            Some(admin),
            None,
        )
        .await;
        assert_eq!(status, 200);
        if let Some(e) = log
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "login.failed" && e["actor"] == email)
        {
            return e.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no login.failed entry for {email}");
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Hundreds of anonymous sign-ins from made-up addresses (believed: the proxy is trusted, the
/// worst case) while a hook client ingests. The flood is refused with 429s, never a 500; the
/// hook client is never refused; memory stays bounded. Latency is measured by the benchmark
/// program, not asserted here.
#[tokio::test]
async fn a_login_flood_is_refused_while_ingestion_goes_on() {
    let mut server = TestServer::start_with(|c| {
        c.trusted_proxies = server::auth::TrustedProxies::parse("127.0.0.1").unwrap();
        // Low, so the flood's hashes do not crowd the process-wide queue that the other
        // tests' servers (in this same process) sign in through.
        c.login_attempts_per_sec = 5.0;
    })
    .await;
    let keys = people(&server).await;
    let key = keys.values().next().unwrap().clone();
    let before = peak_rss_kib();
    let flood = stream::iter(0..400)
        .map(|i| {
            let server = &server;
            async move {
                attempt(
                    server,
                    &format!("flood{i}-{}@demo.test", uuid::Uuid::new_v4().simple()),
                    "wrong-password-123",
                    Some(&format!("10.{}.{}.{}", i % 7, i / 7 % 250, i % 250)),
                )
                .await
            }
        })
        .buffer_unordered(200)
        .collect::<Vec<_>>();
    let hooks = async {
        let mut statuses = Vec::new();
        for n in 0..40 {
            let r = client()
                .post(server.url("/api/v1/hooks/claude-code"))
                .header("x-api-key", &key)
                .json(&json!({ "session_id": "flood", "hook_event_name": "Stop", "_at": format!("2025-09-01T10:00:{n:02}Z") }))
                .send()
                .await
                .unwrap();
            statuses.push(r.status().as_u16());
        }
        statuses
    };
    let (flood, hooks) = tokio::join!(flood, hooks);
    let grew_mib = (peak_rss_kib().saturating_sub(before)) / 1024;

    assert!(
        hooks.iter().all(|s| *s == 204),
        "hooks: {:?}",
        tally(&hooks)
    );
    let t = tally(&flood.iter().map(|(s, _)| *s).collect::<Vec<_>>());
    assert!(
        t.keys().all(|s| [401, 429, 503].contains(s)),
        "only refusals, never a 500: {t:?}"
    );
    assert!(t.get(&429).copied().unwrap_or(0) >= 300, "{t:?}");
    assert!(
        flood
            .iter()
            .filter(|(s, _)| *s != 401)
            .all(|(_, retry)| *retry),
        "every 429 and 503 says when to come back"
    );
    // Unbounded, 200 concurrent argon2 hashes hold 19 MiB each (close to 4 GiB).
    assert!(grew_mib < 512, "peak RSS grew by {grew_mib} MiB");
    server.shutdown().await;
}
