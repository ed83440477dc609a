//! The per-person rollups follow every change to the rollups, whoever makes it: here plain
//! statements stand for a writer that knows nothing of them (an instance of the release
//! before them, during a rolling upgrade).

use crate::helpers::{day, Tenant};

/// The person's row for the test day: its sessions and cost, or `None` when there is none.
async fn person_row(t: &Tenant) -> Option<(i64, String)> {
    let mut tx = t.tx().await;
    let row = sqlx::query_as(
        "SELECT sessions, cost_usd::text FROM person_rollups
         WHERE grain = 'd' AND bucket = $1 AND user_id = $2",
    )
    .bind(day())
    .bind(t.user.0)
    .fetch_optional(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    row
}

async fn run(t: &Tenant, sql: &str) {
    let mut tx = t.tx().await;
    sqlx::query(sql)
        .bind(day())
        .bind(t.user.0)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // Also checks the two tables agree everywhere.
    t.snapshot().await;
}

#[tokio::test]
async fn they_follow_inserts_updates_and_deletes_made_without_them() {
    let t = Tenant::new().await;
    run(
        &t,
        "INSERT INTO rollups (grain, bucket, user_id, tool, model, sessions, cost_usd)
         VALUES ('d', $1, $2, 'Bash', '', 1, 0), ('d', $1, $2, '', 'opus', 0, 1.25)",
    )
    .await;
    assert_eq!(person_row(&t).await, Some((1, "1.2500000000".into())));

    // The writer's way: an upsert that lands on existing rows is an update.
    run(
        &t,
        "INSERT INTO rollups (grain, bucket, user_id, tool, model, sessions, cost_usd)
         VALUES ('d', $1, $2, '', 'opus', 2, 0.5)
         ON CONFLICT (grain, bucket, user_id, tool, model) DO UPDATE
         SET sessions = rollups.sessions + EXCLUDED.sessions,
             cost_usd = rollups.cost_usd + EXCLUDED.cost_usd",
    )
    .await;
    assert_eq!(person_row(&t).await, Some((3, "1.7500000000".into())));

    run(
        &t,
        "DELETE FROM rollups WHERE grain = 'd' AND bucket = $1 AND user_id = $2 AND tool = 'Bash'",
    )
    .await;
    assert_eq!(person_row(&t).await, Some((2, "1.7500000000".into())));

    // The person's last row gone, theirs goes too.
    run(
        &t,
        "DELETE FROM rollups WHERE grain = 'd' AND bucket = $1 AND user_id = $2",
    )
    .await;
    assert_eq!(person_row(&t).await, None);
}

/// Nothing but the rollups' triggers changes them (the previous release's erasure would
/// delete a person's sums while keeping their rollups).
#[tokio::test]
async fn nothing_else_may_change_them() {
    let t = Tenant::new().await;
    for sql in [
        "DELETE FROM person_rollups WHERE user_id = $2 AND bucket >= $1",
        "UPDATE person_rollups SET sessions = 0 WHERE user_id = $2 AND bucket >= $1",
        "INSERT INTO person_rollups (grain, bucket, user_id) VALUES ('d', $1, $2)",
    ] {
        let mut tx = t.tx().await;
        let err = sqlx::query(sql)
            .bind(day())
            .bind(t.user.0)
            .execute(&mut *tx)
            .await
            .expect_err(sql);
        let code = err.as_database_error().and_then(|e| e.code());
        assert_eq!(code.as_deref(), Some("42501"), "{sql}: {err}");
    }
}
