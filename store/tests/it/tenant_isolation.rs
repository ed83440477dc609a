//! Tenant isolation at the database level: what a `TenantTx` may and may not touch.

use store::{audit::Actor, testing::TestDb, Slug, TenantTx};

fn cli() -> Actor {
    Actor::cli()
}

async fn two_tenants() -> (TestDb, store::Tenant, store::Tenant) {
    let db = TestDb::new().await;
    let a = store::tenants::create(
        db.store.pool(),
        &cli(),
        &Slug::parse("alpha").unwrap(),
        "Alpha",
    )
    .await
    .unwrap();
    let b = store::tenants::create(
        db.store.pool(),
        &cli(),
        &Slug::parse("bravo").unwrap(),
        "Bravo",
    )
    .await
    .unwrap();
    (db, a, b)
}

fn sqlstate(e: sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => d.code().map(|c| c.into_owned()).unwrap_or_default(),
        other => panic!("expected a database error, got {other}"),
    }
}

#[tokio::test]
async fn a_tenant_tx_cannot_touch_another_tenants_tables() {
    let (db, a, b) = two_tenants().await;

    let mut tx = TenantTx::begin(db.store.pool(), b.scope()).await.unwrap();
    sqlx::query("INSERT INTO settings (key, value) VALUES ('secret', '\"bravo\"')")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    for sql in [
        "SELECT * FROM tenant_bravo.settings",
        "INSERT INTO tenant_bravo.settings (key, value) VALUES ('x', '1')",
        "UPDATE tenant_bravo.settings SET value = '2'",
        "DELETE FROM tenant_bravo.settings",
        "CREATE TABLE tenant_bravo.evil (id int)",
        "SELECT * FROM public.tenants",
    ] {
        let mut tx = TenantTx::begin(db.store.pool(), a.scope()).await.unwrap();
        let err = sqlx::query(sql).execute(&mut *tx).await.unwrap_err();
        assert_eq!(sqlstate(err), "42501", "{sql} must get permission denied");
        tx.rollback().await.unwrap();
    }

    // Bravo's row is still there, untouched.
    let mut tx = TenantTx::begin(db.store.pool(), b.scope()).await.unwrap();
    let v: serde_json::Value =
        sqlx::query_scalar("SELECT value FROM settings WHERE key = 'secret'")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(v, serde_json::json!("bravo"));
}

#[tokio::test]
async fn unqualified_names_resolve_to_the_tenants_own_schema() {
    let (db, a, b) = two_tenants().await;
    let mut tx = TenantTx::begin(db.store.pool(), a.scope()).await.unwrap();
    sqlx::query("INSERT INTO settings (key, value) VALUES ('where', '\"alpha\"')")
        .execute(&mut *tx)
        .await
        .unwrap();
    let (user, path): (String, String) =
        sqlx::query_as("SELECT current_user::text, current_setting('search_path')")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(user, a.scope().role());
    assert_eq!(path, "tenant_alpha");
    tx.commit().await.unwrap();

    // Seen from outside any tenant: the row landed in alpha's schema, nowhere else.
    let in_alpha: i64 = sqlx::query_scalar("SELECT count(*) FROM tenant_alpha.settings")
        .fetch_one(db.store.pool())
        .await
        .unwrap();
    let in_bravo: i64 = sqlx::query_scalar("SELECT count(*) FROM tenant_bravo.settings")
        .fetch_one(db.store.pool())
        .await
        .unwrap();
    assert_eq!((in_alpha, in_bravo), (1, 0));

    // The settings were local to the transaction: the pooled connection is clean again.
    let mut conn = db.store.pool().acquire().await.unwrap();
    let user: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_ne!(user, a.scope().role());
    assert_ne!(user, b.scope().role());
}

#[tokio::test]
async fn tenant_roles_cannot_log_in_or_change_the_migration_history() {
    let (db, a, _) = two_tenants().await;
    let can_login: bool = sqlx::query_scalar("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1")
        .bind(a.scope().role())
        .fetch_one(db.store.pool())
        .await
        .unwrap();
    assert!(!can_login);

    let mut tx = TenantTx::begin(db.store.pool(), a.scope()).await.unwrap();
    let err = sqlx::query("DELETE FROM _sqlx_migrations")
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert_eq!(sqlstate(err), "42501");
}

#[tokio::test]
async fn duplicate_slugs_are_refused_and_leave_nothing_behind() {
    let (db, _, _) = two_tenants().await;
    let err = store::tenants::create(
        db.store.pool(),
        &cli(),
        &Slug::parse("alpha").unwrap(),
        "Again",
    )
    .await
    .unwrap_err();
    assert!(matches!(err, store::Error::Conflict(_)), "{err}");
    assert_eq!(store::tenants::count(db.store.pool()).await.unwrap(), 2);
}

#[tokio::test]
async fn deleting_a_tenant_drops_its_schema_and_role() {
    let (db, a, _) = two_tenants().await;
    store::tenants::delete(db.store.pool(), &cli(), &a.slug)
        .await
        .unwrap();
    let (schemas, roles): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = 'tenant_alpha'),
                (SELECT count(*) FROM pg_roles WHERE rolname = $1)",
    )
    .bind(a.scope().role())
    .fetch_one(db.store.pool())
    .await
    .unwrap();
    assert_eq!((schemas, roles), (0, 0));
    assert_eq!(store::tenants::count(db.store.pool()).await.unwrap(), 1);
}

#[tokio::test]
async fn migrations_are_idempotent_and_readiness_follows_them() {
    let (db, _, _) = two_tenants().await;
    db.store.migrate().await.unwrap();
    db.store.ready().await.unwrap();
    // A tenant left behind by an older release makes the instance not ready until migrated.
    sqlx::query("UPDATE tenants SET migrated_version = 0 WHERE slug = 'alpha'")
        .execute(db.store.pool())
        .await
        .unwrap();
    assert!(db.store.ready().await.is_err());
    db.store.migrate().await.unwrap();
    db.store.ready().await.unwrap();
    let status = db.store.status().await.unwrap();
    assert_eq!(status.tenants, 2);
    assert!(status.postgres_version.starts_with(char::is_numeric));
}

/// What `tenant_tx_of` and `read_tx_of` enter in their one statement is what `TenantTx::begin`
/// enters: the tenant's role and schema alone, so another tenant's tables stay out of reach;
/// the dashboard's sort memory only for reads; and a sign-in's read transaction goes on as
/// the dashboard's in its own workspace, never in another.
#[tokio::test]
async fn a_sign_ins_transaction_enters_its_tenant_and_hands_on_only_there() {
    let (db, a, b) = two_tenants().await;
    let setting = |name: &'static str| format!("SELECT current_setting('{name}')");
    for (reads, (tenant, mut tx)) in [
        (false, db.store.tenant_tx_of(a.id).await.unwrap()),
        (true, db.store.read_tx_of(&a.slug).await.unwrap()),
    ] {
        assert_eq!(tenant.id, a.id);
        let role: String = sqlx::query_scalar("SELECT current_user::text")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(role, a.scope().role());
        let path: String = sqlx::query_scalar(&setting("search_path"))
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(path, a.scope().schema());
        // Reads get at least 32 MB; anything else keeps the database's own setting.
        let (now, own): (i64, i64) = sqlx::query_as(
            "SELECT pg_size_bytes(current_setting('work_mem')),
                    pg_size_bytes(reset_val || 'kB') FROM pg_settings WHERE name = 'work_mem'",
        )
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        let expected = if reads { own.max(32 << 20) } else { own };
        assert_eq!(now, expected, "reads {reads}");
        let err = sqlx::query("SELECT * FROM tenant_bravo.settings")
            .execute(&mut *tx)
            .await
            .unwrap_err();
        assert_eq!(sqlstate(err), "42501");
        tx.rollback().await.unwrap();
    }
    assert!(matches!(
        db.store.read_tx_of(&Slug::parse("nobody").unwrap()).await,
        Err(store::Error::NotFound("tenant"))
    ));

    let (_, mut signed_in) = db.store.read_tx_of(a.id).await.unwrap();
    let first = txid(&mut signed_in).await;
    let mut same = db.store.read_tx_after(signed_in, a.scope()).await.unwrap();
    assert_eq!(
        txid(&mut same).await,
        first,
        "goes on in the sign-in's transaction"
    );
    same.rollback().await.unwrap();

    let (_, mut signed_in) = db.store.read_tx_of(a.id).await.unwrap();
    let first = txid(&mut signed_in).await;
    let mut other = db.store.read_tx_after(signed_in, b.scope()).await.unwrap();
    assert_ne!(
        txid(&mut other).await,
        first,
        "another workspace: a fresh transaction"
    );
    let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
        .fetch_one(&mut *other)
        .await
        .unwrap();
    assert_eq!(schema, b.scope().schema());
    other.rollback().await.unwrap();

    // Not opened for reads: a fresh one, with the reads' settings.
    let (_, plain) = db.store.tenant_tx_of(a.id).await.unwrap();
    let mut fresh = db.store.read_tx_after(plain, a.scope()).await.unwrap();
    let work_mem: i64 = sqlx::query_scalar("SELECT pg_size_bytes(current_setting('work_mem'))")
        .fetch_one(&mut *fresh)
        .await
        .unwrap();
    assert!(work_mem >= 32 << 20, "{work_mem}");
    fresh.rollback().await.unwrap();
}

async fn txid(tx: &mut TenantTx) -> i64 {
    sqlx::query_scalar("SELECT txid_current()")
        .fetch_one(&mut **tx)
        .await
        .unwrap()
}
