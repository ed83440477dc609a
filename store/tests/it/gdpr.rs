//! Erasure resumes where a crash stopped it: each step's number is saved as it commits, a
//! step run twice changes nothing more, and the last one empties the person's row.

use store::{
    accounts::{self, Email, Role},
    audit::Actor,
    gdpr::{self, Mode},
};

use crate::helpers::Tenant;

#[tokio::test]
async fn an_erasure_stopped_half_way_carries_on_from_its_step() {
    let t = Tenant::new().await;
    let pool = t.db.store.pool().clone();
    let scope = t.tenant.scope().clone();
    let mut tx = t.tx().await;
    let bo = Email::parse("bo@example.com").unwrap();
    let other = accounts::create(&mut tx, &bo, "Bo Other", Role::Developer, None)
        .await
        .unwrap();
    // Ana's address in someone else's words; and her one-word name, which names too many
    // things to rewrite in other people's text.
    for team in ["Crew of ana@example.com", "Banana Ana"] {
        store::teams::create(&mut tx, &Actor::cli(), team)
            .await
            .unwrap();
    }
    let (me, pseudo) = (Actor::cli(), Mode::Pseudonymise);
    let refused = gdpr::request_erasure(&mut tx, &me, t.user, pseudo, "bo@example.com")
        .await
        .unwrap_err();
    let field = match refused {
        store::Error::Invalid { field, .. } => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(field, "confirm");
    let id = gdpr::request_erasure(&mut tx, &me, t.user, pseudo, "ANA@example.com")
        .await
        .unwrap();
    // A second request while the first is under way is refused.
    let twice = gdpr::request_erasure(&mut tx, &me, t.user, Mode::Delete, "ana@example.com")
        .await
        .unwrap_err();
    assert!(matches!(twice, store::Error::Conflict(_)), "{twice:?}");
    tx.commit().await.unwrap();

    // Two steps, each run twice (as after a crash between its work and saving its number),
    // then the "crash": the request is left running at step 2.
    let back_to = |step: i32| {
        let pool = pool.clone();
        async move {
            sqlx::query("UPDATE tenant_acme.gdpr_requests SET step = $2 WHERE id = $1")
                .bind(id)
                .bind(step)
                .execute(&pool)
                .await
                .unwrap();
        }
    };
    gdpr::erase_one_step(&pool, &scope, id).await.unwrap();
    back_to(0).await;
    gdpr::erase_one_step(&pool, &scope, id).await.unwrap();
    gdpr::erase_one_step(&pool, &scope, id).await.unwrap();
    back_to(1).await;
    gdpr::erase_one_step(&pool, &scope, id).await.unwrap();
    let mut tx = t.tx().await;
    let r = gdpr::get(&mut tx, id).await.unwrap();
    assert_eq!((r.state.as_str(), r.step), ("running", 2));
    let user = accounts::get(&mut tx, t.user).await.unwrap();
    assert!(!user.active, "locked out at the first step");
    let teams: Vec<String> = sqlx::query_scalar("SELECT name FROM teams ORDER BY name")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    // Team names are unique: each rewritten one carries a mark of its own.
    assert_eq!(
        teams[0], "Banana Ana",
        "a one-word name stays in others' words"
    );
    assert!(
        teams[1].starts_with("Crew of [erased "),
        "scrubbed once: {teams:?}"
    );
    assert!(!teams[1].contains("[erased [erased"), "{teams:?}");
    drop(tx);

    let done = gdpr::erase(&pool, &scope, id).await.unwrap();
    assert_eq!((done.state.as_str(), done.step), ("done", 4));
    let again = gdpr::erase(&pool, &scope, id).await.unwrap();
    assert_eq!(again, done, "finished is finished");
    let mut tx = t.tx().await;
    assert!(matches!(
        accounts::get(&mut tx, t.user).await,
        Err(store::Error::NotFound(_))
    ));
    let row: (String, String) = sqlx::query_as("SELECT email, name FROM users WHERE id = $1")
        .bind(t.user.0)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let tombstone = format!("erased-{}@erased.invalid", t.user.0);
    assert_eq!(row, (tombstone, "Erased person".into()));
    assert_eq!(
        accounts::get(&mut tx, other.id).await.unwrap().name,
        "Bo Other"
    );
    let entries: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'user.erased'")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(entries, 1);
    // The erased cannot be asked for again.
    let gone = gdpr::request_export(&mut tx, &me, t.user)
        .await
        .unwrap_err();
    assert!(matches!(gone, store::Error::NotFound(_)));
}
