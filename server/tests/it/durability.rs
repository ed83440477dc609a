//! Acknowledged means durable: the real binary is killed with SIGKILL in the middle of a
//! sustained ingest, and every event a client saw acknowledged must be in the database.

use std::{
    collections::HashSet,
    process::Stdio,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use serde_json::json;
use store::testing::TestDb;

#[tokio::test]
async fn sigkill_during_ingest_loses_no_acknowledged_event() {
    let db = TestDb::new().await;
    let actor = store::audit::Actor::cli();
    let p = server::tenancy::provision(
        &db.store,
        &store::Slug::parse("acme").unwrap(),
        "Acme",
        &store::Email::parse("a@acme.test").unwrap(),
        Some("acme-admin-password".into()),
        &actor,
    )
    .await
    .unwrap();
    let key = server::tenancy::create_api_key(
        &db.store,
        &p.tenant,
        &store::Email::parse("a@acme.test").unwrap(),
        "load",
        &[store::api_keys::Scope::Ingest],
        &actor,
    )
    .await
    .unwrap();

    let (mut child, base) = crate::common::real_server(&db, |c| {
        c.env("RUST_LOG", "error")
            .env(
                "DEVPULSE_JWT_KEYS",
                "k1:durability-test-secret-0123456789abcdef",
            )
            .stderr(Stdio::inherit());
    });

    // 32 clients post PreToolUse hooks with unique tool_use_ids until the server dies.
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let dead = Arc::new(AtomicBool::new(false));
    let http = reqwest::Client::new();
    let clients: Vec<_> = (0..32)
        .map(|c| {
            let (http, base, key) = (http.clone(), base.clone(), key.clone());
            let (acked, dead) = (acked.clone(), dead.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while !dead.load(Ordering::Relaxed) {
                    n += 1;
                    let id = format!("toolu_{c}_{n}");
                    let body = json!({
                        "session_id": format!("s{c}"), "hook_event_name": "PreToolUse",
                        "tool_name": "Bash", "tool_use_id": id, "cwd": "/w",
                    });
                    let sent = http
                        .post(format!("{base}/api/v1/hooks/claude-code"))
                        .header("x-api-key", &key)
                        .json(&body)
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status() == 204 => {
                            acked.lock().unwrap().insert(id);
                        }
                        // Busy or throttled: not acknowledged, so not counted.
                        Ok(r) if r.status() == 503 || r.status() == 429 => {}
                        Ok(r) => panic!("unexpected {}", r.status()),
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    // Let the load build, then kill without warning.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
    dead.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }

    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 100,
        "the load ran: {} acknowledged",
        acked.len()
    );
    let mut tx = db.store.tenant_tx(p.tenant.scope()).await.unwrap();
    let stored: HashSet<String> = sqlx::query_scalar("SELECT tool_use_id FROM tool_runs")
        .fetch_all(&mut *tx)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let rollup: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(tool_executions), 0)::int8 FROM rollups WHERE grain = 'm'",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let lost: Vec<&String> = acked.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged events lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    // Committed together: the rollups count exactly what is stored, no more, no less.
    assert_eq!(rollup as usize, stored.len());
    println!("{} acknowledged, {} stored", acked.len(), stored.len());
}
