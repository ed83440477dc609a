//! The `devpulse` collector binary against the real server: importing the fixtures' homes,
//! resuming and rolling back imports, and hooks spooled while the server is down and synced
//! once it is back, with the sync killed midway.

use std::{
    process::{Output, Stdio},
    time::{Duration, Instant},
};

use crate::common::{call, client, user_id};
use crate::common::{
    fixtures::{assert_matches_expected, fixtures, people, summary, totals_of, USERS},
    laptop::Laptop,
    login, TestServer,
};
use reqwest::Method;
use serde_json::{json, Value};

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// "import batch <id>: N new, ..." → (id, N).
fn batch_line(out: &str) -> (String, u64) {
    let line = out
        .lines()
        .find(|l| l.starts_with("import batch "))
        .unwrap_or_else(|| panic!("no batch line in {out}"));
    let id = line["import batch ".len()..]
        .split([':', ' '])
        .next()
        .unwrap()
        .to_string();
    let new = line
        .split(": ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    (id, new)
}

#[tokio::test]
async fn importing_the_fixture_homes_reproduces_expected_once_and_rolls_back() {
    let server = TestServer::start().await;
    let keys = people(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let mut batches = Vec::new();
    for user in USERS {
        let laptop = Laptop::new(&server.url(""), &keys[user]);
        let home = fixtures().join(format!("home-{user}"));
        let out = stdout(&laptop.run(&["import", "--quiet", home.to_str().unwrap()]));
        // The defects in the files are named with file and line.
        assert!(
            out.contains(".agent-os/metrics/tool-metrics.jsonl:3: duplicate"),
            "{out}"
        );
        assert!(
            out.contains(".ai-mesh/metrics/tool-metrics.jsonl:1:"),
            "{out}"
        );
        let truncated = out
            .lines()
            .find(|l| l.contains(".agent-os/metrics/tool-metrics.jsonl:") && !l.contains(":3:"))
            .unwrap_or_else(|| panic!("the truncated line is not reported: {out}"));
        assert!(!truncated.is_empty());
        let (batch, new) = batch_line(&out);
        assert!(new > 1000, "{out}");
        batches.push((user, batch, laptop, home));
    }
    let first = summary(&server, &admin).await;
    assert_matches_expected(&first);

    // A second run finds everything there already.
    let (_, _, laptop, home) = &batches[0];
    let again = stdout(&laptop.run(&["import", "--quiet", home.to_str().unwrap()]));
    assert_eq!(batch_line(&again).1, 0, "{again}");
    assert_eq!(summary(&server, &admin).await, first);

    // Rolling back ana's first batch takes out exactly her history.
    let (user, batch, laptop, home) = &batches[0];
    let out = stdout(&laptop.run(&["import", "rollback", batch]));
    assert!(out.contains("rolled back"), "{out}");
    let after = summary(&server, &admin).await;
    let mine = after["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == format!("{user}@demo.test"));
    if let Some(mine) = mine {
        for key in [
            "sessions",
            "tool_executions",
            "api_requests",
            "input_tokens",
            "lines_added",
        ] {
            assert_eq!(mine[key], 0, "{key} after rollback: {mine}");
        }
    }
    for other in &USERS[1..] {
        let email = format!("{other}@demo.test");
        assert_eq!(totals_of(&after, &email), totals_of(&first, &email));
    }
    let list = stdout(&laptop.run(&["import", "list"]));
    assert!(
        list.contains(batch.as_str()) && list.contains("rolled back"),
        "{list}"
    );

    // Importing again after the rollback brings it all back, exactly.
    let out = stdout(&laptop.run(&["import", "--quiet", home.to_str().unwrap()]));
    assert!(batch_line(&out).1 > 1000, "{out}");
    assert_matches_expected(&summary(&server, &admin).await);
}

#[tokio::test]
async fn an_interrupted_import_resumes_without_duplicates() {
    let server = TestServer::start().await;
    let keys = people(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let laptop = Laptop::new(&server.url(""), &keys["bo"]);
    let home = fixtures().join("home-bo");
    // Small requests, so there is a moment to interrupt it between two of them.
    let mut child = laptop
        .command(&["import", "--quiet", home.to_str().unwrap()])
        .env("DEVPULSE_IMPORT_CHUNK", "50")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let state = laptop.data().join("import-state.json");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let sent = std::fs::read(&state)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|s| s["sent_items"].as_u64())
            .unwrap_or(0);
        if sent >= 150 {
            break;
        }
        assert!(Instant::now() < deadline, "the import never got going");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended too soon"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.wait().unwrap();

    let out = stdout(&laptop.run(&["import", "--quiet", home.to_str().unwrap()]));
    assert!(out.contains("(resumed)"), "{out}");
    let got = summary(&server, &admin).await;
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("EXPECTED.json")).unwrap())
            .unwrap();
    let bo = totals_of(&got, "bo@demo.test");
    for key in [
        "sessions",
        "tool_executions",
        "tool_failures",
        "api_requests",
        "output_tokens",
        "lines_added",
    ] {
        assert_eq!(bo[key], expected["users"]["bo"][key], "{key}");
    }
    // One batch holds everything, each event once.
    let list = stdout(&laptop.run(&["import", "list"]));
    assert_eq!(list.lines().count(), 1, "{list}");
}

fn hook_body(i: usize) -> Value {
    let session = format!("offline-{}", i / 100);
    match i % 4 {
        0 => json!({ "session_id": session, "hook_event_name": "PreToolUse", "tool_name": "Bash",
                     "tool_use_id": format!("toolu_off_{i}"), "cwd": "/home/x/shop",
                     "transcript_path": "/tmp/t.jsonl", "tool_input": { "command": "ls" } }),
        1 => json!({ "session_id": session, "hook_event_name": "PostToolUse", "tool_name": "Bash",
                     "tool_use_id": format!("toolu_off_{}", i - 1), "cwd": "/home/x/shop",
                     "transcript_path": "/tmp/t.jsonl", "tool_response": { "stdout": "ok" } }),
        2 => json!({ "session_id": session, "hook_event_name": "UserPromptSubmit",
                     "prompt": format!("prompt {i}"), "cwd": "/home/x/shop",
                     "transcript_path": "/tmp/t.jsonl" }),
        _ => json!({ "session_id": session, "hook_event_name": "Notification",
                     "message": "waiting", "cwd": "/home/x/shop", "transcript_path": "/tmp/t.jsonl" }),
    }
}

async fn stored_events(server: &TestServer) -> (i64, i64) {
    let tenant =
        store::tenants::find_by_slug(server.db.store.pool(), &store::Slug::parse("demo").unwrap())
            .await
            .unwrap();
    let mut tx = server.db.store.tenant_tx(tenant.scope()).await.unwrap();
    let counts: (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT coalesce(attrs->>'_id', key)) FROM events
         WHERE session_id LIKE 'offline-%'",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    counts
}

#[tokio::test]
async fn hooks_spool_while_offline_and_sync_delivers_each_once_even_when_killed() {
    const HOOKS: usize = 10_000;
    let server = TestServer::start().await;
    let keys = people(&server).await;
    // A port nobody listens on: the server is "down".
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let laptop = Laptop::new(&dead_url, &keys["ana"]);

    // Claude Code runs the hook for every event; every run must succeed silently.
    let bodies: Vec<String> = (0..HOOKS).map(|i| hook_body(i).to_string()).collect();
    let failures = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for part in bodies.chunks(HOOKS / 4) {
            let (laptop, failures) = (&laptop, &failures);
            s.spawn(move || {
                for body in part {
                    let mut child = laptop
                        .command(&["hook"])
                        .stdin(Stdio::piped())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .unwrap();
                    use std::io::Write;
                    child
                        .stdin
                        .take()
                        .unwrap()
                        .write_all(body.as_bytes())
                        .unwrap();
                    let out = child.wait_with_output().unwrap();
                    if !out.status.success() || !out.stdout.is_empty() || !out.stderr.is_empty() {
                        failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(failures.into_inner(), 0, "a hook run failed or printed");
    let status = stdout(&laptop.run(&["status"]));
    assert!(
        status.contains(&format!("spool       {HOOKS} events waiting")),
        "{status}"
    );

    // The background sync the hooks started is still backing off; stop it, then point the
    // laptop at the live server.
    let lock_path = laptop.data().join("sync.lock");
    if let Ok(pid) = std::fs::read_to_string(&lock_path) {
        if let Ok(pid) = pid.trim().parse::<i32>() {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    // SIGKILL is delivered asynchronously: until the killed sync is gone, its lock would turn
    // the next sync away at once. Wait until the lock can be taken, then let it go.
    if let Ok(lock) = std::fs::File::open(&lock_path) {
        use std::os::fd::AsRawFd;
        let deadline = Instant::now() + Duration::from_secs(30);
        while unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            assert!(
                Instant::now() < deadline,
                "the killed sync still holds its lock"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_UN) };
    }
    laptop.configure(&server.url(""), &keys["ana"]);

    // Kill a sync after its first acknowledged batch.
    let mut child = laptop
        .command(&["sync"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let delivered = std::fs::read(laptop.data().join("sync-state.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|s| s["delivered"].as_u64())
            .unwrap_or(0);
        if delivered > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the sync never delivered");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sync ended too soon"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.wait().unwrap();
    let (partial, _) = stored_events(&server).await;
    assert!(partial > 0 && (partial as usize) < HOOKS, "{partial}");

    let out = stdout(&laptop.run(&["sync"]));
    assert!(out.contains("delivered"), "{out}");
    let (stored, distinct) = stored_events(&server).await;
    assert_eq!(stored as usize, HOOKS, "every spooled event, once");
    assert_eq!(distinct as usize, HOOKS);
    let status = stdout(&laptop.run(&["status"]));
    assert!(status.contains("spool       0 events waiting"), "{status}");
}

/// Ana's row of `/api/v1/baselines` as the admin reads it.
async fn ana_compared(server: &TestServer, admin: &str) -> Value {
    let (_, all) = call(server, Method::GET, "/api/v1/baselines", Some(admin), None).await;
    all["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["label"] == "ana@demo.test")
        .cloned()
        .unwrap_or_else(|| panic!("{all}"))
}

/// Ana's and Bo's laptops bring the legacy baselines with their history; what devpulse sees
/// live afterwards is set against them, per person and for their team.
#[tokio::test]
async fn an_import_brings_the_legacy_baselines_set_against_the_sessions_since() {
    let server = TestServer::start().await;
    let keys = people(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    for user in ["ana", "bo"] {
        let laptop = Laptop::new(&server.url(""), &keys[user]);
        let home = fixtures().join(format!("home-{user}"));
        laptop.run(&["import", "--quiet", home.to_str().unwrap()]);
    }
    let ana = ana_compared(&server, &admin).await;
    // historical-baseline.json wins over current-baseline.json (the hooks' defaults).
    assert_eq!(ana["before"]["commands_per_hour"], 12.4, "{ana}");
    assert_eq!(ana["before"]["lines_per_hour"], 88.1);
    assert_eq!(ana["before"]["success_rate"], 97.5);
    assert_eq!(ana["before"]["sessions"], 24);
    assert_eq!(ana["after"], Value::Null, "nothing live yet");

    // An hour of live work: 30 tool runs (3 failed) and 240 lines changed.
    let start =
        chrono::SubsecRound::trunc_subsecs(chrono::Utc::now() - chrono::TimeDelta::hours(2), 0);
    let at = |m: i64| (start + chrono::TimeDelta::minutes(m)).to_rfc3339();
    let mut items =
        vec![json!({ "type": "session_start", "session_id": "live-ana", "timestamp": at(0) })];
    for i in 0..30 {
        items.push(
            json!({ "type": "tool_use", "tool_name": "Edit", "tool_use_id": format!("live-ana-{i}"),
                           "session_id": "live-ana", "success": i >= 3, "timestamp": at(1 + i) }),
        );
    }
    items.push(
        json!({ "type": "lines", "session_id": "live-ana", "lines_added": 200,
                       "lines_removed": 40, "timestamp": at(40) }),
    );
    items.push(json!({ "type": "session_end", "session_id": "live-ana", "timestamp": at(60) }));
    let r = client()
        .post(server.url("/api/v1/ingest/batch"))
        .header("x-api-key", &keys["ana"])
        .json(&items)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // Ana and Bo make a team.
    let (status, team) = call(
        &server,
        Method::POST,
        "/api/v1/teams",
        Some(&admin),
        Some(json!({ "name": "Movers" })),
    )
    .await;
    assert_eq!(status, 201, "{team}");
    for user in ["ana", "bo"] {
        let id = user_id(&server, &admin, &format!("{user}@demo.test")).await;
        let path = format!(
            "/api/v1/teams/{}/members/{id}",
            team["id"].as_str().unwrap()
        );
        let (status, body) = call(&server, Method::PUT, &path, Some(&admin), Some(json!({}))).await;
        assert!(status.is_success(), "{body}");
    }

    let ana = ana_compared(&server, &admin).await;
    let (_, now) = call(
        &server,
        Method::GET,
        "/api/v1/baselines",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(ana["after"]["commands_per_hour"], 30.0, "{ana}");
    assert_eq!(ana["after"]["lines_per_hour"], 240.0);
    assert_eq!(ana["after"]["success_rate"], 90.0);
    assert_eq!(ana["after"]["sessions"], 1);
    assert_eq!(
        ana["moved_at"],
        json!(start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    );
    // The team: both baselines pooled by their sessions, and ana's live hour.
    let movers = &now["teams"][0];
    assert_eq!(movers["label"], "Movers", "{now}");
    assert_eq!(movers["before"]["sessions"], 47);
    assert_eq!(movers["after"]["commands_per_hour"], 30.0);
    // A viewer sees the team, and nobody by name; a developer only themself.
    let viewer = login(&server, "demo", "viewer@demo.test", "demo-viewer-pass").await;
    let (_, theirs) = call(
        &server,
        Method::GET,
        "/api/v1/baselines",
        Some(&viewer),
        None,
    )
    .await;
    assert_eq!(theirs["people"], json!([]), "{theirs}");
    assert_eq!(theirs["teams"][0]["label"], "Movers");
    assert_eq!(
        theirs["teams"][0]["after"],
        Value::Null,
        "only ana is live: the team's after would be hers alone"
    );
    let bo = login(&server, "demo", "bo@demo.test", "bo-password-123").await;
    let (_, theirs) = call(&server, Method::GET, "/api/v1/baselines", Some(&bo), None).await;
    let labels: Vec<&Value> = theirs["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["label"])
        .collect();
    assert_eq!(labels, [&json!("bo@demo.test")], "{theirs}");
    assert_eq!(theirs["teams"], json!([]));
}
