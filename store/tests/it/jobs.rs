//! Background jobs: queued in a workspace's transaction (or not at all when it rolls back),
//! tied to that workspace whatever the caller says, claimed once however many workers ask,
//! and taken up again after a vanished worker's lease.

use chrono::TimeDelta;
use serde_json::json;
use store::{jobs, testing::TestDb, Slug, TenantTx};

async fn workspace(db: &TestDb, slug: &str) -> store::Tenant {
    store::tenants::create(
        db.store.pool(),
        &store::audit::Actor::cli(),
        &Slug::parse(slug).unwrap(),
        slug,
    )
    .await
    .unwrap()
}

fn kinds() -> Vec<String> {
    vec!["test.kind".into()]
}

#[tokio::test]
async fn a_job_queued_in_a_workspace_is_that_workspaces_and_exists_only_if_it_commits() {
    let db = TestDb::new().await;
    let (a, b) = (workspace(&db, "alpha").await, workspace(&db, "bravo").await);

    let mut tx = TenantTx::begin(db.store.pool(), a.scope()).await.unwrap();
    jobs::enqueue_here(&mut tx, "test.kind", &json!({ "n": 1 }))
        .await
        .unwrap();
    // Still in alpha's role afterwards: bravo's tables stay out of reach.
    let role: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(role, a.scope().role());
    tx.commit().await.unwrap();

    let mut tx = TenantTx::begin(db.store.pool(), b.scope()).await.unwrap();
    jobs::enqueue_here(&mut tx, "test.kind", &json!({ "n": 2 }))
        .await
        .unwrap();
    tx.rollback().await.unwrap();

    let rows: Vec<(Option<uuid::Uuid>, serde_json::Value)> =
        sqlx::query_as("SELECT tenant_id, payload FROM jobs ORDER BY id")
            .fetch_all(db.store.pool())
            .await
            .unwrap();
    assert_eq!(rows, vec![(Some(a.id.0), json!({ "n": 1 }))]);

    // The tenant's role itself may not write the registry's jobs.
    let mut tx = TenantTx::begin(db.store.pool(), b.scope()).await.unwrap();
    let refused = sqlx::query("INSERT INTO public.jobs (kind) VALUES ('test.kind')")
        .execute(&mut *tx)
        .await;
    assert!(refused.is_err(), "a tenant role wrote public.jobs");
}

#[tokio::test]
async fn concurrent_workers_each_get_a_different_job_and_none_twice() {
    let db = TestDb::new().await;
    let mut conn = db.store.pool().acquire().await.unwrap();
    for n in 0..20 {
        jobs::enqueue(&mut conn, "test.kind", &json!({ "n": n }))
            .await
            .unwrap();
    }
    drop(conn);
    let pool = db.store.pool().clone();
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut got = vec![];
                while let Some(job) =
                    jobs::claim(&pool, &format!("w{w}"), &kinds(), TimeDelta::seconds(60))
                        .await
                        .unwrap()
                {
                    got.push(job.payload["n"].as_i64().unwrap());
                    jobs::complete(&pool, job.id, &format!("w{w}"))
                        .await
                        .unwrap();
                }
                got
            })
        })
        .collect();
    let mut all = vec![];
    for w in workers {
        all.extend(w.await.unwrap());
    }
    all.sort();
    assert_eq!(all, (0..20).collect::<Vec<_>>());
    // A kind this build does not know is left for a build that does.
    let mut conn = pool.acquire().await.unwrap();
    jobs::enqueue(&mut conn, "newer.kind", &json!({}))
        .await
        .unwrap();
    assert!(jobs::claim(&pool, "w", &kinds(), TimeDelta::seconds(60))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_lapsed_lease_passes_the_job_on_and_the_old_worker_can_no_longer_finish_it() {
    let db = TestDb::new().await;
    let pool = db.store.pool();
    let mut conn = pool.acquire().await.unwrap();
    jobs::enqueue(&mut conn, "test.kind", &json!({}))
        .await
        .unwrap();
    drop(conn);
    let first = jobs::claim(pool, "old", &kinds(), TimeDelta::seconds(60))
        .await
        .unwrap()
        .unwrap();
    assert!(jobs::claim(pool, "new", &kinds(), TimeDelta::seconds(60))
        .await
        .unwrap()
        .is_none());
    // The old worker went quiet for longer than its lease.
    sqlx::query("UPDATE jobs SET locked_until = now() - interval '1 second'")
        .execute(pool)
        .await
        .unwrap();
    assert!(!jobs::renew(pool, first.id, "new", TimeDelta::seconds(60))
        .await
        .unwrap());
    let second = jobs::claim(pool, "new", &kinds(), TimeDelta::seconds(60))
        .await
        .unwrap()
        .expect("the lapsed job");
    assert_eq!((second.id, second.attempt), (first.id, 2));
    assert!(!jobs::renew(pool, first.id, "old", TimeDelta::seconds(60))
        .await
        .unwrap());
    // The old worker's late "done" changes nothing; the new one's does.
    jobs::complete(pool, first.id, "old").await.unwrap();
    let state: String = sqlx::query_scalar("SELECT state FROM jobs")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(state, "running");
    jobs::complete(pool, second.id, "new").await.unwrap();
    let counts = jobs::counts(pool).await.unwrap();
    assert_eq!(counts, jobs::Counts::default());
}

#[tokio::test]
async fn a_schedule_queues_each_fire_time_once() {
    let db = TestDb::new().await;
    let pool = db.store.pool();
    let fire = "2026-12-04T16:00:00Z".parse().unwrap();
    assert!(jobs::schedule(pool, "upkeep", fire, "test.kind")
        .await
        .unwrap());
    assert!(!jobs::schedule(pool, "upkeep", fire, "test.kind")
        .await
        .unwrap());
    let next = "2026-12-04T17:00:00Z".parse().unwrap();
    assert!(jobs::schedule(pool, "upkeep", next, "test.kind")
        .await
        .unwrap());
    assert_eq!(jobs::counts(pool).await.unwrap().queued, 2);
}
