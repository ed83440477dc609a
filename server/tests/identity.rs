//! Sign-in, sessions, tokens, roles, API keys and tenant isolation, through the real HTTP API.

mod common;

use common::{call, client, login, seed_two_tenants, TestServer, TEST_JWT_SECRET};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn login_profile_and_clear_errors() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;

    let token = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let (status, me) = call(&server, Method::GET, "/api/v1/profile", Some(&token), None).await;
    assert_eq!(status, 200);
    assert_eq!(me["email"], "dev@demo.test");
    assert_eq!(me["role"], "developer");
    assert_eq!(me["tenant"], "demo");
    assert_eq!(
        me["permissions"],
        json!(["metrics.view_own", "dashboard.personal", "profile.edit"])
    );

    // Wrong password, unknown e-mail and unknown workspace look the same.
    for (tenant, email, password) in [
        ("demo", "dev@demo.test", "not-the-password"),
        ("demo", "nobody@demo.test", "demo-developer-pass"),
        ("nosuch", "dev@demo.test", "demo-developer-pass"),
        // The same address in another tenant is another person.
        ("other", "dev@demo.test", "demo-developer-pass"),
    ] {
        let (status, body) = call(
            &server,
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "tenant": tenant, "email": email, "password": password })),
        )
        .await;
        assert_eq!(status, 401, "{tenant}/{email}");
        assert_eq!(
            body["type"],
            "https://devpulse.dev/problems/invalid-credentials"
        );
    }

    // Bad input names the field.
    let (status, body) = call(
        &server,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({ "tenant": "demo", "email": "nope", "password": "x" })),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["pointer"], "/email");
    let (status, body) = call(
        &server,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({ "tenant": "demo", "email": 5, "password": "x" })),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["pointer"], "/email");

    // Failures and successes are in the tenant's audit log.
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let (status, log) = call(
        &server,
        Method::GET,
        "/api/v1/audit?limit=50",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"login.failed"), "{actions:?}");
    assert!(actions.contains(&"login.succeeded"));
    server.shutdown().await;
}

#[tokio::test]
async fn forged_expired_and_confused_tokens_are_refused() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let good = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let (status, _) = call(&server, Method::GET, "/api/v1/profile", Some(&good), None).await;
    assert_eq!(status, 200);

    let claims: Value = {
        let payload = good.split('.').nth(1).unwrap();
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    let now = chrono::Utc::now().timestamp();
    let sign = |claims: &Value, alg: Algorithm, kid: &str, secret: &str| {
        let mut header = Header::new(alg);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(
            &header,
            claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let with = |k: &str, v: Value| {
        let mut c = claims.clone();
        c[k] = v;
        c
    };
    // Control: our own signature over the same claims works.
    assert_eq!(
        call(
            &server,
            Method::GET,
            "/api/v1/profile",
            Some(&sign(&claims, Algorithm::HS256, "test", TEST_JWT_SECRET)),
            None
        )
        .await
        .0,
        200
    );

    let mut forged = vec![
        (
            "expired",
            sign(
                &with("exp", json!(now - 60)),
                Algorithm::HS256,
                "test",
                TEST_JWT_SECRET,
            ),
        ),
        (
            "not yet valid",
            sign(
                &with("nbf", json!(now + 600)),
                Algorithm::HS256,
                "test",
                TEST_JWT_SECRET,
            ),
        ),
        (
            "wrong aud",
            sign(
                &with("aud", json!("someone-else")),
                Algorithm::HS256,
                "test",
                TEST_JWT_SECRET,
            ),
        ),
        (
            "wrong iss",
            sign(
                &with("iss", json!("evil")),
                Algorithm::HS256,
                "test",
                TEST_JWT_SECRET,
            ),
        ),
        (
            "other key",
            sign(
                &claims,
                Algorithm::HS256,
                "test",
                "another-secret-another-secret-0000",
            ),
        ),
        (
            "unknown kid",
            sign(&claims, Algorithm::HS256, "nope", TEST_JWT_SECRET),
        ),
        (
            "HS384",
            sign(&claims, Algorithm::HS384, "test", TEST_JWT_SECRET),
        ),
        (
            "role escalation",
            sign(
                &with("role", json!("tenant_admin")),
                Algorithm::HS256,
                "test",
                TEST_JWT_SECRET,
            ),
        ),
    ];
    // alg: none — header and payload, no signature.
    {
        use base64::Engine;
        let b64 = |v: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
        };
        forged.push((
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({ "alg": "none", "typ": "JWT", "kid": "test" })),
                b64(&claims)
            ),
        ));
        // RS256 header over an HMAC made with our secret (HS/RS confusion).
        let mut parts: Vec<String> = good.split('.').map(String::from).collect();
        parts[0] = b64(&json!({ "alg": "RS256", "typ": "JWT", "kid": "test" }));
        forged.push(("RS256 header", parts.join(".")));
        // Tampered payload, original signature.
        let mut parts: Vec<String> = good.split('.').map(String::from).collect();
        parts[1] = b64(&with("sub", json!(uuid::Uuid::new_v4())));
        forged.push(("tampered", parts.join(".")));
    }
    for (what, token) in forged {
        let (status, body) =
            call(&server, Method::GET, "/api/v1/profile", Some(&token), None).await;
        assert_eq!(status, 401, "{what} must be refused");
        assert_eq!(
            body["type"],
            "https://devpulse.dev/problems/unauthenticated"
        );
    }
    server.shutdown().await;
}

async fn login_full(server: &TestServer, tenant: &str, email: &str, password: &str) -> Value {
    let (status, body) = call(
        server,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({ "tenant": tenant, "email": email, "password": password })),
    )
    .await;
    assert_eq!(status, 200);
    body
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let mut server = TestServer::start_with(|c| c.refresh_reuse_grace_secs = 0).await;
    seed_two_tenants(&server).await;
    let first = login_full(&server, "demo", "viewer@demo.test", "demo-viewer-pass").await;
    let rt1 = first["refresh_token"].as_str().unwrap().to_string();

    let (status, second) = call(
        &server,
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(json!({ "refresh_token": rt1 })),
    )
    .await;
    assert_eq!(status, 200);
    let rt2 = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2);
    let access2 = second["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        call(
            &server,
            Method::GET,
            "/api/v1/profile",
            Some(&access2),
            None
        )
        .await
        .0,
        200
    );

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // The rotated token comes back: someone copied it. The whole family dies.
    let (status, _) = call(
        &server,
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(json!({ "refresh_token": rt1 })),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = call(
        &server,
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(json!({ "refresh_token": rt2 })),
    )
    .await;
    assert_eq!(status, 401, "the legitimate holder's token is revoked too");

    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let (_, log) = call(
        &server,
        Method::GET,
        "/api/v1/audit?action=session.family_revoked",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(log.as_array().unwrap().len(), 1);

    // Garbage and other tenants' scopes are simply invalid.
    for bad in ["", "x", "demo.nothex", "other.abcd", "_.abcd"] {
        let (status, _) = call(
            &server,
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({ "refresh_token": bad })),
        )
        .await;
        assert_eq!(status, 401, "{bad:?}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn two_tabs_refreshing_at_once_both_stay_signed_in() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let first = login_full(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let rt = first["refresh_token"].as_str().unwrap().to_string();
    let a = call(
        &server,
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(json!({ "refresh_token": rt })),
    );
    let b = call(
        &server,
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(json!({ "refresh_token": rt })),
    );
    let ((sa, ba), (sb, bb)) = tokio::join!(a, b);
    assert_eq!((sa.as_u16(), sb.as_u16()), (200, 200));
    for body in [ba, bb] {
        let next = body["refresh_token"].as_str().unwrap();
        let (status, _) = call(
            &server,
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({ "refresh_token": next })),
        )
        .await;
        assert_eq!(status, 200, "each tab keeps a working session");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn role_changes_deactivation_and_logout_end_sessions_at_once() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let dev = login_full(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let dev_token = dev["access_token"].as_str().unwrap().to_string();
    let dev_id = dev["user"]["id"].as_str().unwrap().to_string();

    let (status, _) = call(
        &server,
        Method::PUT,
        &format!("/api/v1/users/{dev_id}/role"),
        Some(&admin),
        Some(json!({ "role": "viewer" })),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        call(
            &server,
            Method::GET,
            "/api/v1/profile",
            Some(&dev_token),
            None
        )
        .await
        .0,
        401
    );
    let (status, _) = call(
        &server,
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(json!({ "refresh_token": dev["refresh_token"] })),
    )
    .await;
    assert_eq!(status, 401, "refresh tokens die with the role change");

    // A fresh login carries the new role.
    let (_, me) = call(
        &server,
        Method::GET,
        "/api/v1/profile",
        Some(&login(&server, "demo", "dev@demo.test", "demo-developer-pass").await),
        None,
    )
    .await;
    assert_eq!(me["role"], "viewer");

    let viewer = login(&server, "demo", "viewer@demo.test", "demo-viewer-pass").await;
    let viewer_id = call(&server, Method::GET, "/api/v1/profile", Some(&viewer), None)
        .await
        .1["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        call(
            &server,
            Method::POST,
            &format!("/api/v1/users/{viewer_id}/deactivate"),
            Some(&admin),
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(&server, Method::GET, "/api/v1/profile", Some(&viewer), None)
            .await
            .0,
        401
    );
    let (status, _) = call(&server, Method::POST, "/api/v1/auth/login", None, Some(json!({ "tenant": "demo", "email": "viewer@demo.test", "password": "demo-viewer-pass" }))).await;
    assert_eq!(status, 401, "deactivated people cannot sign in");

    // Logout everywhere.
    let manager = login(&server, "demo", "manager@demo.test", "demo-manager-pass").await;
    assert_eq!(
        call(
            &server,
            Method::POST,
            "/api/v1/auth/logout-all",
            Some(&manager),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        call(
            &server,
            Method::GET,
            "/api/v1/profile",
            Some(&manager),
            None
        )
        .await
        .0,
        401
    );
    server.shutdown().await;
}

#[tokio::test]
async fn api_keys_are_shown_once_authenticate_and_can_be_revoked() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let (status, created) = call(
        &server,
        Method::POST,
        "/api/v1/api-keys",
        Some(&dev),
        Some(json!({ "name": "laptop", "scopes": ["ingest"] })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("dpk_demo_"));
    let id = created["api_key"]["id"].as_str().unwrap().to_string();

    let (_, list) = call(&server, Method::GET, "/api/v1/api-keys", Some(&dev), None).await;
    let text = list.to_string();
    assert!(text.contains(&created["api_key"]["prefix"].as_str().unwrap().to_string()));
    assert!(!text.contains(&key), "the secret is never shown again");

    // The key authenticates (it is refused on session-only routes with 403, not 401)...
    let with_key = client()
        .get(server.url("/api/v1/profile"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(with_key.status(), 403);
    // ...a made-up one of the same shape does not.
    let fake = format!("{}{}", &key[..key.len() - 4], "0000");
    let r = client()
        .get(server.url("/api/v1/profile"))
        .header("x-api-key", &fake)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Bad scopes name the field.
    let (status, body) = call(
        &server,
        Method::POST,
        "/api/v1/api-keys",
        Some(&dev),
        Some(json!({ "name": "x", "scopes": ["admin"] })),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["pointer"], "/scopes/0");

    assert_eq!(
        call(
            &server,
            Method::DELETE,
            &format!("/api/v1/api-keys/{id}"),
            Some(&dev),
            None
        )
        .await
        .0,
        200
    );
    let r = client()
        .get(server.url("/api/v1/profile"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "revoked keys stop working");
    server.shutdown().await;
}

#[tokio::test]
async fn login_attempts_are_throttled_with_retry_after() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let mut last = None;
    for _ in 0..7 {
        let r = client()
            .post(server.url("/api/v1/auth/login"))
            .json(&json!({ "tenant": "demo", "email": "admin@demo.test", "password": "wrong-password-123" }))
            .send()
            .await
            .unwrap();
        last = Some((r.status(), r.headers().get("retry-after").cloned()));
    }
    let (status, retry) = last.unwrap();
    assert_eq!(status, 429);
    assert!(retry.unwrap().to_str().unwrap().parse::<u64>().unwrap() >= 1);
    server.shutdown().await;
}

/// Every API route, tried anonymously and as every role of tenant `demo` against resources of
/// tenant `other`: nothing gets through that the matrix does not allow.
#[tokio::test]
async fn every_route_refuses_what_the_matrix_does_not_allow() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let other = common::other_tenant(&server).await;
    let (other_admin, other_user_id, other_key_id, other_team_id) =
        (other.admin, other.user_id, other.key_id, other.team_id);
    let (_, other_users) = call(
        &server,
        Method::GET,
        "/api/v1/users",
        Some(&other_admin),
        None,
    )
    .await;

    let table = server::api::route_table();
    assert!(table.len() >= 20, "the table lists every route");
    let roles = [
        ("tenant_admin", "admin@demo.test", "demo-admin-pass"),
        ("manager", "manager@demo.test", "demo-manager-pass"),
        ("developer", "dev@demo.test", "demo-developer-pass"),
        ("viewer", "viewer@demo.test", "demo-viewer-pass"),
    ];

    for route in &table {
        let path = route
            .path
            .replace(
                "{id}",
                if route.path.contains("api-keys") {
                    &other_key_id
                } else if route.path.contains("teams") {
                    &other_team_id
                } else {
                    &other_user_id
                },
            )
            .replace("{user_id}", &other_user_id)
            .replace("{slug}", "other");
        let method = Method::from_bytes(route.method.as_bytes()).unwrap();
        let body = Some(json!({}));
        if route.access != "public" {
            let (status, _) = call(&server, method.clone(), &path, None, body.clone()).await;
            assert_eq!(status, 401, "anonymous {} {}", route.method, route.path);
        }
        for (role, email, password) in roles {
            // A fresh session each time: some routes (logout-all, password) end the caller's.
            let token = login(&server, "demo", email, password).await;
            let (status, _) =
                call(&server, method.clone(), &path, Some(&token), body.clone()).await;
            let role = store::Role::parse(role).unwrap();
            let allowed = match route.access.as_str() {
                "public" | "authenticated" => true,
                perm => server::auth::permissions::role_has(role, perm),
            };
            if !allowed {
                assert_eq!(status, 403, "{role} {} {}", route.method, route.path);
            } else if route.path.contains('{') {
                // Allowed to use the route, but the resource belongs to another tenant.
                assert!(
                    status == 404 || status == 422,
                    "{role} {} {} reached another tenant's resource: {status}",
                    route.method,
                    route.path
                );
            }
        }
    }
    // Tenant `other` is untouched.
    let (_, users_after) = call(
        &server,
        Method::GET,
        "/api/v1/users",
        Some(&other_admin),
        None,
    )
    .await;
    assert_eq!(users_after, other_users);
    let (_, keys) = call(
        &server,
        Method::GET,
        "/api/v1/api-keys",
        Some(&other_admin),
        None,
    )
    .await;
    assert!(keys[0]["revoked_at"].is_null());
    server.shutdown().await;
}

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
