//! Kept dashboard answers and the changes that forget them on the instance that made them.
//! No notice listener runs here (the server's does), so only the store itself forgets.

use store::{accounts::Role, audit::Actor, dashboard, TenantTx};
use types::dashboard::Filters;

use crate::helpers::Tenant;

/// Keeps the workspace's overview for its user, answering how many answers are kept.
async fn keep_overview(t: &Tenant) -> usize {
    read_overview(t).await.commit().await.unwrap();
    t.db.store.answers().len()
}

/// Reads the workspace's overview for its user, kept or not; the read's transaction, open.
async fn read_overview(t: &Tenant) -> TenantTx {
    let store = &t.db.store;
    let mut tx = store.read_tx(t.tenant.scope()).await.unwrap();
    let reader = dashboard::Reader::of(&mut tx, t.user, Role::TenantAdmin)
        .await
        .unwrap()
        .unwrap();
    let f = Filters::default();
    let window = store
        .answers()
        .window(&mut tx, &f, chrono::Utc::now())
        .await
        .unwrap();
    let ask = dashboard::Asker {
        answers: store.answers(),
        scope: t.tenant.scope(),
        reader: &reader,
        window: &window,
        as_of: tx.as_of(),
    };
    ask.overview(&mut tx, &f).await.unwrap();
    tx
}

async fn set_time_zone(t: &Tenant, tz: &str) {
    let mut tx: TenantTx = t.tx().await;
    store::settings::set_time_zone(&mut tx, &Actor::cli(), tz)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_change_forgets_this_instances_answers_before_its_request_ends() {
    let t = Tenant::new().await;
    let answers = t.db.store.answers();
    assert_eq!(keep_overview(&t).await, 1);

    // Outside a request's scope only the database's notice would forget it.
    set_time_zone(&t, "Europe/Paris").await;
    assert_eq!(answers.len(), 1, "kept until the notice arrives");

    // Inside it, the change itself does, before the request answers.
    t.db.store
        .seeing_own_changes(set_time_zone(&t, "Asia/Kolkata"))
        .await;
    assert_eq!(answers.len(), 0, "forgotten as the request ends");

    // A change that says nothing about answers (a dashboard layout) leaves them kept.
    assert_eq!(keep_overview(&t).await, 1);
    t.db.store
        .seeing_own_changes(async {
            let mut tx = t.tx().await;
            store::audit::record(
                &mut tx,
                &Actor::cli(),
                "dashboard.saved",
                None,
                serde_json::json!({}),
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
        })
        .await;
    assert_eq!(answers.len(), 1);
}

/// A read that computes an answer plans its statements for their values (the dashboard's
/// optional filters defeat a generic plan); one answered from memory runs no statement and
/// leaves the transaction's planning alone.
#[tokio::test]
async fn computing_an_answer_plans_for_its_values_and_a_kept_one_runs_nothing() {
    let t = Tenant::new().await;
    let planning = || async {
        let mut tx = read_overview(&t).await;
        let mode: String = sqlx::query_scalar("SELECT current_setting('plan_cache_mode')")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        mode
    };
    assert_eq!(planning().await, "force_custom_plan", "computed");
    assert_eq!(t.db.store.answers().len(), 1);
    assert_eq!(planning().await, "auto", "kept");
}
