//! Dashboards read from a streaming replica (`DATABASE_REPLICA_URL`): two real PostgreSQL
//! clusters in replication, the real binary in front. Writes on the primary show in reads
//! served by the replica within the stated bound; with the replica down, reads go to the
//! primary; back up, to the replica again.

use std::{
    os::unix::fs::PermissionsExt,
    process::Stdio,
    time::{Duration, Instant},
};

use reqwest::Client;
use serde_json::{json, Value};
use sqlx::Connection;
use store::embedded::{EmbeddedConfig, EmbeddedPostgres};

/// `DATABASE_REPLICA_MAX_LAG_SECS` for this test.
const BOUND: Duration = Duration::from_secs(2);

/// One overview read: where it was served from (the staleness in ms for the replica), and
/// the tool executions it counts.
async fn overview(http: &Client, base: &str, token: &str) -> (Option<u64>, String, i64) {
    let r = http
        .get(format!("{base}/api/v1/dashboard/overview?range=24h"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let served = read_served(&r, "a server with a replica says where reads were served");
    let staleness = served
        .strip_prefix("replica; staleness-ms=")
        .map(|ms| ms.parse().unwrap());
    let body: Value = r.json().await.unwrap();
    let n = body["current"]["tool_executions"].as_i64().unwrap();
    (staleness, served, n)
}

/// Where a successful response says its reads were served from (`missing`: why it must).
fn read_served(r: &reqwest::Response, missing: &str) -> String {
    assert_eq!(r.status(), 200);
    r.headers()
        .get("x-devpulse-read")
        .expect(missing)
        .to_str()
        .unwrap()
        .to_string()
}

/// Where the dashboard page's reads were served from, as its response says.
async fn page_served(http: &Client, base: &str, token: &str) -> String {
    let r = http
        .get(format!("{base}/?range=24h"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    read_served(&r, "a page that read the dashboard says where")
}

/// One Bash call through the hooks, acknowledged: committed on the primary.
async fn tool_call(http: &Client, base: &str, key: &str, id: &str) {
    for (hook, extra) in [
        ("PreToolUse", json!({})),
        (
            "PostToolUse",
            json!({ "tool_response": { "success": true } }),
        ),
    ] {
        let mut body = json!({
            "session_id": "s1", "hook_event_name": hook, "tool_name": "Bash",
            "tool_use_id": id, "cwd": "/w", "tool_input": { "command": "ls" },
        });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let r = http
            .post(format!("{base}/api/v1/hooks/claude-code"))
            .header("x-api-key", key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{hook}");
    }
}

/// Stops what the test started even when an assertion fails first: a server left running
/// keeps the test's output open, and clusters outlive their deleted directories.
#[derive(Default)]
struct Running {
    server: Option<std::process::Child>,
    clusters: Vec<EmbeddedPostgres>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.server.take() {
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
        for pg in self.clusters.drain(..).rev() {
            let _ = pg.stop();
        }
    }
}

/// Reads until one is served by the replica (the watcher compares every 250 ms).
async fn until_replica(http: &Client, base: &str, token: &str) -> (u64, i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (staleness, served, n) = overview(http, base, token).await;
        if let Some(ms) = staleness {
            return (ms, n);
        }
        assert!(
            Instant::now() < deadline,
            "never served by the replica: {served}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboards_read_from_the_replica_within_its_bound_and_fall_back_to_the_primary() {
    let tmp = tempfile::Builder::new()
        .prefix("devpulse-replica-")
        .tempdir()
        .unwrap();
    // PostgreSQL runs as the `postgres` user when we are root: it must reach the directory.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let cluster = |name: &str| EmbeddedConfig {
        data_dir: tmp.path().join(name),
        ephemeral: true,
    };
    let mut running = Running::default();
    let primary =
        tokio::task::block_in_place(|| EmbeddedPostgres::start(&cluster("primary"))).unwrap();
    primary.ensure_database("devpulse").await.unwrap();
    let primary_url = primary.url("devpulse");
    let primary_options = primary.connect_options("devpulse");
    running.clusters.push(primary);

    let store = store::Store::connect_lazy(primary_options, &store::PoolConfig::default());
    store.migrate().await.unwrap();
    let actor = store::audit::Actor::cli();
    let admin = store::Email::parse("a@acme.test").unwrap();
    let p = server::tenancy::provision(
        &store,
        &store::Slug::parse("acme").unwrap(),
        "Acme",
        &admin,
        Some("acme-admin-password".into()),
        &actor,
    )
    .await
    .unwrap();
    let key = server::tenancy::create_api_key(
        &store,
        &p.tenant,
        &admin,
        "hooks",
        &[store::api_keys::Scope::Ingest],
        &actor,
    )
    .await
    .unwrap();
    store.close().await;

    let standby = tokio::task::block_in_place(|| {
        EmbeddedPostgres::start_standby(&running.clusters[0], &cluster("standby"))
    })
    .unwrap();
    let standby_url = standby.url("devpulse");
    let standby_config = cluster("standby");
    running.clusters.push(standby);
    let (child, base) = crate::common::real_server_on(&primary_url, |c| {
        c.env("DATABASE_REPLICA_URL", &standby_url)
            .env("DATABASE_REPLICA_MAX_LAG_SECS", BOUND.as_secs().to_string())
            .env(
                "DEVPULSE_JWT_KEYS",
                "k1:replica-test-secret-0123456789abcdefgh",
            )
            .env("RUST_LOG", "warn")
            .stderr(Stdio::inherit());
    });
    running.server = Some(child);

    let http = Client::new();
    let r = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(
            &json!({ "tenant": "acme", "email": "a@acme.test", "password": "acme-admin-password" }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let token = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();

    let (ms, before) = until_replica(&http, &base, &token).await;
    assert!(
        ms <= BOUND.as_millis() as u64,
        "served {ms} ms stale, beyond the bound"
    );
    // The page renders its widgets in tasks of their own, and still says where they read.
    let served = page_served(&http, &base, &token).await;
    let page_ms: u64 = served
        .strip_prefix("replica; staleness-ms=")
        .unwrap_or_else(|| panic!("the page read the primary: {served}"))
        .parse()
        .unwrap();
    assert!(page_ms <= BOUND.as_millis() as u64, "{served}");
    // A server function reads there too, not in the primary transaction its caller was
    // just checked in.
    let r = http
        .post(format!("{base}/api/dashboard/overview"))
        .bearer_auth(&token)
        .form(&[("q", "range=24h")])
        .send()
        .await
        .unwrap();
    let served = read_served(&r, "a server function that read the dashboard says where");
    assert!(served.starts_with("replica; staleness-ms="), "{served}");

    // A tool call, acknowledged (so committed on the primary) at `acked`.
    tool_call(&http, &base, &key, "toolu_replica_1").await;
    let acked = Instant::now();

    // Every read the replica serves with data newer than the acknowledgement must count the
    // call: a read that began `d` after it, at most `s` stale, sees data from `d - s` after
    // it. The bus tells the answers of a commit within its coalescing window; past that, a
    // kept answer cannot predate the call either.
    let window = server::bus::WINDOW;
    let mut seen_on_replica = None;
    while acked.elapsed() < BOUND * 3 {
        let began = Instant::now();
        let (staleness, served, n) = overview(&http, &base, &token).await;
        if let Some(ms) = staleness {
            assert!(
                ms <= BOUND.as_millis() as u64,
                "served {served}, beyond the bound"
            );
            let fresh_enough = began.duration_since(acked) > Duration::from_millis(ms) + window;
            if fresh_enough {
                assert!(
                    n > before,
                    "a replica read newer than the write misses it ({served})"
                );
            }
            if n > before && seen_on_replica.is_none() {
                seen_on_replica = Some(acked.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = seen_on_replica.expect("the replica served the write");
    assert!(
        seen <= BOUND,
        "the write took {seen:?} to show on the replica"
    );

    // The replica falls behind (its replay paused) while a second call is written: it keeps
    // serving within the bound, with data that may lack the call, then reads move to the
    // primary, which has it; resumed, the replica catches up and serves again.
    let (_, counted) = until_replica(&http, &base, &token).await;
    let mut standby_sql = sqlx::PgConnection::connect(&standby_url).await.unwrap();
    sqlx::query("SELECT pg_wal_replay_pause()")
        .execute(&mut standby_sql)
        .await
        .unwrap();
    tool_call(&http, &base, &key, "toolu_replica_2").await;
    let paused = Instant::now();
    let moved = loop {
        let (staleness, served, n) = overview(&http, &base, &token).await;
        match staleness {
            Some(ms) => assert!(ms <= BOUND.as_millis() as u64, "served {served}"),
            None => {
                assert_eq!(served, "primary");
                assert!(n > counted, "the primary has the second call");
                break paused.elapsed();
            }
        }
        assert!(
            paused.elapsed() < BOUND * 3,
            "still on a replica behind its bound"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        moved >= BOUND - Duration::from_millis(300),
        "moved after {moved:?}"
    );
    assert_eq!(page_served(&http, &base, &token).await, "primary");
    sqlx::query("SELECT pg_wal_replay_resume()")
        .execute(&mut standby_sql)
        .await
        .unwrap();
    let (ms, n) = until_replica(&http, &base, &token).await;
    assert!(ms <= BOUND.as_millis() as u64);
    assert!(n > counted, "caught up, the replica has the second call");
    drop(standby_sql);

    // The replica goes away: reads are served by the primary, with the data.
    let standby = running.clusters.pop().unwrap();
    tokio::task::block_in_place(|| standby.stop()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (staleness, served, n) = overview(&http, &base, &token).await;
        if staleness.is_none() {
            assert_eq!(served, "primary");
            assert!(n > before);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still served by a stopped replica"
        );
    }
    for _ in 0..5 {
        let (_, served, _) = overview(&http, &base, &token).await;
        assert_eq!(served, "primary");
    }

    // Back up, it serves reads again.
    let standby = tokio::task::block_in_place(|| EmbeddedPostgres::start(&standby_config)).unwrap();
    running.clusters.push(standby);
    let (ms, n) = until_replica(&http, &base, &token).await;
    assert!(ms <= BOUND.as_millis() as u64);
    assert!(n > before);
    tokio::task::block_in_place(|| drop(running));
}
