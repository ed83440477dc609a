use super::*;

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

/// Refreshes in flight while the person signs out everywhere: once that has answered, no
/// access or refresh token any of them handed out works (the store's test races every kind
/// of revocation; this one goes through HTTP and the access tokens' check).
#[tokio::test]
async fn nothing_a_refresh_racing_logout_everywhere_hands_out_works_after_it() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let mut leaks = Vec::new();
    for round in 0..20 {
        let first = login_full(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
        let (rt, access) = (
            &first["refresh_token"],
            first["access_token"].as_str().unwrap(),
        );
        let refreshes = futures::future::join_all((0..3).map(|_| {
            call(
                &server,
                Method::POST,
                "/api/v1/auth/refresh",
                None,
                Some(json!({ "refresh_token": rt })),
            )
        }));
        let everywhere = call(
            &server,
            Method::POST,
            "/api/v1/auth/logout-all",
            Some(access),
            None,
        );
        let (refreshed, (status, _)) = tokio::join!(refreshes, everywhere);
        assert_eq!(status, 204);
        for (_, body) in refreshed.into_iter().filter(|(s, _)| *s == 200) {
            let access = body["access_token"].as_str().unwrap();
            if call(&server, Method::GET, "/api/v1/profile", Some(access), None)
                .await
                .0
                != 401
            {
                leaks.push((round, "access token"));
            }
            let (status_next, _) = call(
                &server,
                Method::POST,
                "/api/v1/auth/refresh",
                None,
                Some(json!({ "refresh_token": body["refresh_token"] })),
            )
            .await;
            if status_next != 401 {
                leaks.push((round, "refresh token"));
            }
        }
    }
    assert!(leaks.is_empty(), "{leaks:?}");
    server.shutdown().await;
}

/// Moves every refresh token of the viewer `hours` into the past, as if signed in that long ago.
async fn age_viewer_tokens(server: &TestServer, hours: i32, only_rotated: bool) {
    sqlx::query(
        "UPDATE tenant_demo.refresh_tokens SET created_at = created_at - make_interval(hours => $1)
         WHERE user_id = (SELECT id FROM tenant_demo.users WHERE email = 'viewer@demo.test')
           AND (rotated_at IS NOT NULL OR NOT $2)",
    )
    .bind(hours)
    .bind(only_rotated)
    .execute(server.db.store.pool())
    .await
    .unwrap();
}

async fn refresh(server: &TestServer, token: &Value) -> (u16, Value) {
    let (status, body) = call(
        server,
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(json!({ "refresh_token": token })),
    )
    .await;
    (status.as_u16(), body)
}

/// A workspace decides how long its sign-ins last, unused and in all; a shorter policy ends
/// the sessions already past it at their next refresh. Bad lengths are named.
#[tokio::test]
async fn a_workspace_sets_how_long_sign_ins_last() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let put = |body: Value| {
        let admin = admin.clone();
        let server = &server;
        async move {
            call(
                server,
                Method::PUT,
                "/api/v1/settings/people",
                Some(&admin),
                Some(body),
            )
            .await
        }
    };
    for (body, field) in [
        (json!({ "idle_hours": 0 }), "/idle_hours"),
        (json!({ "max_hours": 24 * 91 }), "/max_hours"),
        (json!({ "idle_hours": 48, "max_hours": 24 }), "/idle_hours"),
        (json!({ "default_role": "tenant_admin" }), "/default_role"),
        (json!({ "default_role": "owner" }), "/default_role"),
        (json!({ "idle_hours": "8" }), "/idle_hours"),
    ] {
        let (status, problem) = put(body.clone()).await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert!(problem.to_string().contains(field), "{body}: {problem}");
    }
    let (status, saved) = put(json!({ "idle_hours": 8, "max_hours": 24 })).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(
        saved,
        json!({ "team_medians": true, "idle_hours": 8, "max_hours": 24, "default_role": "developer" })
    );
    let (_, settings) = call(&server, Method::GET, "/api/v1/settings", Some(&admin), None).await;
    assert_eq!(settings["people"], saved);
    let (_, log) = call(
        &server,
        Method::GET,
        "/api/v1/audit?action=settings.people",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(log[0]["details"]["from"]["idle_hours"], 168, "{log}");
    assert_eq!(log[0]["details"]["to"]["max_hours"], 24, "{log}");

    // The refresh cookie lives as long as the token: eight hours unused.
    let r = client()
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({ "tenant": "demo", "email": "viewer@demo.test", "password": "demo-viewer-pass" }))
        .send()
        .await
        .unwrap();
    let cookie = r
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("devpulse_refresh="))
        .unwrap();
    let max_age: i64 = cookie
        .split("Max-Age=")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!((8 * 3600 - 60..=8 * 3600).contains(&max_age), "{cookie}");
    let first: Value = r.json().await.unwrap();
    let (status, second) = refresh(&server, &first["refresh_token"]).await;
    assert_eq!(status, 200, "{second}");
    // Nine hours unused: past the idle limit.
    age_viewer_tokens(&server, 9, false).await;
    let (status, _) = refresh(&server, &second["refresh_token"]).await;
    assert_eq!(status, 401);

    // A sign-in used all along but begun three hours ago, when the whole length becomes two.
    let fresh = login_full(&server, "demo", "viewer@demo.test", "demo-viewer-pass").await;
    let (status, next) = refresh(&server, &fresh["refresh_token"]).await;
    assert_eq!(status, 200, "{next}");
    age_viewer_tokens(&server, 3, true).await;
    let (status, _) = put(json!({ "idle_hours": 1, "max_hours": 2 })).await;
    assert_eq!(status, 200);
    let (status, _) = refresh(&server, &next["refresh_token"]).await;
    assert_eq!(
        status, 401,
        "the family began before the shorter policy's end"
    );
    // The super admin's sessions keep the installation's defaults.
    let root = login_full(&server, "", "root@devpulse.test", "demo-superadmin-pass").await;
    let (status, _) = refresh(&server, &root["refresh_token"]).await;
    assert_eq!(status, 200);
    server.shutdown().await;
}
