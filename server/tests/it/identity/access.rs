use super::*;

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

/// Every API route, tried anonymously and as every role of tenant `demo` against resources of
/// tenant `other`: nothing gets through that the matrix does not allow.
#[tokio::test]
async fn every_route_refuses_what_the_matrix_does_not_allow() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let other = crate::common::other_tenant(&server).await;
    let (other_admin, other_user_id, other_key_id, other_team_id, other_batch_id) = (
        other.admin,
        other.user_id,
        other.key_id,
        other.team_id,
        other.batch_id,
    );
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
                } else if route.path.contains("import") {
                    &other_batch_id
                } else {
                    &other_user_id
                },
            )
            .replace("{user_id}", &other_user_id)
            .replace("{run}", &other_user_id)
            .replace("{file}", "report.pdf")
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

/// Deactivating someone revokes their API keys for good: reactivating them gives back the
/// ability to sign in, not the keys (which may have leaked with the reason for deactivating).
#[tokio::test]
async fn deactivation_revokes_api_keys_and_reactivation_does_not_revive_them() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let dev_id = crate::common::user_id(&server, &admin, "dev@demo.test").await;
    let (status, created) = call(
        &server,
        Method::POST,
        "/api/v1/api-keys",
        Some(&dev),
        Some(json!({ "name": "laptop", "scopes": ["read"] })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_string();
    let key_id = created["api_key"]["id"].as_str().unwrap().to_string();
    let summary = |key: String| {
        let url = server.url("/api/v1/dashboard/summary");
        async move {
            client()
                .get(url)
                .header("x-api-key", key)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(summary(key.clone()).await, 200);

    let path = format!("/api/v1/users/{dev_id}/deactivate");
    let (status, _) = call(&server, Method::POST, &path, Some(&admin), None).await;
    assert_eq!(status, 200);
    assert_eq!(summary(key.clone()).await, 401, "deactivated: key refused");
    let (_, keys) = call(
        &server,
        Method::GET,
        "/api/v1/api-keys?all=true",
        Some(&admin),
        None,
    )
    .await;
    let row = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == key_id.as_str())
        .unwrap();
    assert!(!row["revoked_at"].is_null(), "shown as revoked: {row}");
    let (_, log) = call(
        &server,
        Method::GET,
        "/api/v1/audit?action=user.deactivated",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        log[0]["details"]["api_keys_revoked"],
        json!([created["api_key"]["prefix"]]),
        "the deactivation's audit entry names the keys it revoked: {log}"
    );

    let path = format!("/api/v1/users/{dev_id}/reactivate");
    let (status, _) = call(&server, Method::POST, &path, Some(&admin), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        summary(key).await,
        401,
        "reactivated: the key stays revoked"
    );
    server.shutdown().await;
}
