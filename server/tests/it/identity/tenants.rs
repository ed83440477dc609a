use super::*;

#[tokio::test]
async fn provisioning_is_atomic_and_concurrent() {
    let server = TestServer::start().await;
    let store = &server.db.store;
    let actor = store::audit::Actor::cli();
    // Injected failure half-way: the admin's password breaks the policy after the schema exists.
    let err = server::tenancy::provision(
        store,
        &store::Slug::parse("halfway").unwrap(),
        "Half way",
        &store::Email::parse("a@halfway.test").unwrap(),
        Some("short".into()),
        &actor,
    )
    .await;
    assert!(err.is_err());
    let (rows, schemas, roles): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM tenants),
                (SELECT count(*) FROM pg_namespace WHERE nspname = 'tenant_halfway'),
                (SELECT count(*) FROM pg_roles WHERE rolname LIKE '%\\_halfway')",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!((rows, schemas, roles), (0, 0, 0), "nothing left behind");

    let (one, two) = (
        store::Slug::parse("one").unwrap(),
        store::Slug::parse("two").unwrap(),
    );
    let (e1, e2) = (
        store::Email::parse("a@one.test").unwrap(),
        store::Email::parse("a@two.test").unwrap(),
    );
    let a = server::tenancy::provision(store, &one, "One", &e1, None, &actor);
    let b = server::tenancy::provision(store, &two, "Two", &e2, None, &actor);
    let (a, b) = tokio::join!(a, b);
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut server = server;
    login(&server, "one", "a@one.test", &a.password).await;
    login(&server, "two", "a@two.test", &b.password).await;
    server.shutdown().await;
}

#[tokio::test]
async fn super_admins_manage_tenants_and_suspension_locks_a_tenant_out() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let other_dev = login(&server, "other", "dev@other.test", "developer-pass-12345").await;
    // Super admins sign in without a workspace.
    let root = login(&server, "", "root@devpulse.test", "demo-superadmin-pass").await;
    let (status, tenants) = call(
        &server,
        Method::GET,
        "/api/v1/admin/tenants",
        Some(&root),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let slugs: Vec<&str> = tenants
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["demo", "other"]);
    // A tenant admin is not a super admin.
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    assert_eq!(
        call(
            &server,
            Method::GET,
            "/api/v1/admin/tenants",
            Some(&admin),
            None
        )
        .await
        .0,
        403
    );

    assert_eq!(
        call(
            &server,
            Method::POST,
            "/api/v1/admin/tenants/other/suspend",
            Some(&root),
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(
            &server,
            Method::GET,
            "/api/v1/profile",
            Some(&other_dev),
            None
        )
        .await
        .0,
        401
    );
    let (status, body) = call(&server, Method::POST, "/api/v1/auth/login", None, Some(json!({ "tenant": "other", "email": "dev@other.test", "password": "developer-pass-12345" }))).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        call(
            &server,
            Method::POST,
            "/api/v1/admin/tenants/other/reactivate",
            Some(&root),
            None
        )
        .await
        .0,
        200
    );
    login(&server, "other", "dev@other.test", "developer-pass-12345").await;

    let (status, created) = call(
        &server,
        Method::POST,
        "/api/v1/admin/tenants",
        Some(&root),
        Some(json!({ "slug": "acme", "name": "Acme", "admin_email": "boss@acme.test" })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    login(
        &server,
        "acme",
        "boss@acme.test",
        created["admin_one_time_password"].as_str().unwrap(),
    )
    .await;
    let (status, body) = call(
        &server,
        Method::POST,
        "/api/v1/admin/tenants",
        Some(&root),
        Some(json!({ "slug": "Bad Slug", "name": "x", "admin_email": "a@b.test" })),
    )
    .await;
    assert_eq!(
        (status.as_u16(), body["errors"][0]["pointer"].as_str()),
        (422, Some("/slug"))
    );
    assert_eq!(
        call(
            &server,
            Method::DELETE,
            "/api/v1/admin/tenants/acme",
            Some(&root),
            None
        )
        .await
        .0,
        422,
        "needs ?confirm="
    );
    assert_eq!(
        call(
            &server,
            Method::DELETE,
            "/api/v1/admin/tenants/acme?confirm=acme",
            Some(&root),
            None
        )
        .await
        .0,
        204
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_operator_cli_provisions_tenants_users_and_keys() {
    let mut server = TestServer::start().await;
    let url = server.db.url().to_string();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
            .args(args)
            .arg("--json")
            .env("DATABASE_URL", &url)
            .env("RUST_LOG", "error")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let created = run(&[
        "tenant",
        "create",
        "--slug",
        "acme",
        "--name",
        "Acme",
        "--admin-email",
        "a@acme.test",
    ]);
    let password = created["one_time_password"].as_str().unwrap().to_string();
    run(&[
        "user",
        "create",
        "--tenant",
        "acme",
        "--email",
        "d@acme.test",
        "--role",
        "developer",
        "--password",
        "a-long-developer-pass",
    ]);
    let key = run(&[
        "apikey",
        "create",
        "--tenant",
        "acme",
        "--email",
        "d@acme.test",
        "--scopes",
        "ingest",
    ]);
    assert!(key["key"].as_str().unwrap().starts_with("dpk_acme_"));
    let list = run(&["tenant", "list"]);
    assert_eq!(list[0]["slug"], "acme");
    run(&[
        "user",
        "set-role",
        "--tenant",
        "acme",
        "--email",
        "d@acme.test",
        "--role",
        "viewer",
    ]);

    // Invitations from the CLI: the printed link sets the password.
    let invited = run(&[
        "user",
        "invite",
        "--tenant",
        "acme",
        "--email",
        "i@acme.test",
        "--role",
        "manager",
    ]);
    let redeem = |url: &str, password: &str| {
        let token = url.split_once("token=").unwrap().1.to_string();
        let body = json!({ "token": token, "password": password });
        let server = &server;
        async move {
            call(
                server,
                Method::POST,
                "/api/v1/auth/links/redeem",
                None,
                Some(body),
            )
            .await
            .0
        }
    };
    let url = invited["invitation_url"].as_str().unwrap();
    assert!(url.contains("/welcome?token=acme."), "{url}");
    assert_eq!(redeem(url, "invited-manager-pass").await, 200);
    login(&server, "acme", "i@acme.test", "invited-manager-pass").await;
    let reset = run(&[
        "user",
        "reset-link",
        "--tenant",
        "acme",
        "--email",
        "i@acme.test",
    ]);
    assert_eq!(reset["kind"], "reset");
    assert_eq!(
        redeem(reset["url"].as_str().unwrap(), "reset-manager-pass").await,
        200
    );
    login(&server, "acme", "i@acme.test", "reset-manager-pass").await;
    let beta = run(&[
        "tenant",
        "create",
        "--slug",
        "beta",
        "--name",
        "Beta",
        "--admin-email",
        "a@beta.test",
        "--invite",
    ]);
    assert!(beta.get("one_time_password").is_none());
    assert_eq!(
        redeem(
            beta["invitation_url"].as_str().unwrap(),
            "beta-admin-password"
        )
        .await,
        200
    );
    login(&server, "beta", "a@beta.test", "beta-admin-password").await;
    run(&["tenant", "delete", "--slug", "beta", "--confirm", "beta"]);

    login(&server, "acme", "a@acme.test", &password).await;
    let token = login(&server, "acme", "d@acme.test", "a-long-developer-pass").await;
    assert_eq!(
        call(&server, Method::GET, "/api/v1/profile", Some(&token), None)
            .await
            .1["role"],
        "viewer"
    );
    run(&[
        "user",
        "deactivate",
        "--tenant",
        "acme",
        "--email",
        "d@acme.test",
    ]);
    assert_eq!(
        call(&server, Method::GET, "/api/v1/profile", Some(&token), None)
            .await
            .0,
        401
    );
    run(&["tenant", "delete", "--slug", "acme", "--confirm", "acme"]);
    assert!(run(&["tenant", "list"]).as_array().unwrap().is_empty());
    server.shutdown().await;
}
