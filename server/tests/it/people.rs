//! Invitations, password-reset links and teams, through the real HTTP API.

use crate::common::{call, client, login, seed_two_tenants, user_id, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

fn token_of(link: &Value) -> String {
    let url = link["url"].as_str().expect("a link url");
    url.split_once("token=").unwrap().1.to_string()
}

async fn login_status(server: &TestServer, email: &str, password: &str) -> u16 {
    call(
        server,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({ "tenant": "demo", "email": email, "password": password })),
    )
    .await
    .0
    .as_u16()
}

#[tokio::test]
async fn an_invitation_sets_the_first_password_once() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;

    let (status, created) = call(
        &server,
        Method::POST,
        "/api/v1/users",
        Some(&admin),
        Some(json!({ "email": "New@Demo.test", "name": "New Person", "role": "developer" })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["kind"], "invite");
    assert_eq!(created["user"]["email"], "new@demo.test");
    let token = token_of(&created);
    assert!(token.starts_with("demo."), "{token}");
    let expires: chrono::DateTime<chrono::Utc> =
        created["expires_at"].as_str().unwrap().parse().unwrap();
    let hours = (expires - chrono::Utc::now()).num_minutes() as f64 / 60.0;
    assert!((71.9..=72.0).contains(&hours), "expires in {hours} h");

    // No password yet: nothing signs in as them.
    assert_eq!(
        login_status(&server, "new@demo.test", "any-password-at-all").await,
        401
    );

    let (status, info) = call(
        &server,
        Method::POST,
        "/api/v1/auth/links/inspect",
        None,
        Some(json!({ "token": token })),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (&info["kind"], &info["email"], &info["tenant"]),
        (&json!("invite"), &json!("new@demo.test"), &json!("demo"))
    );

    // The policy applies, and a refused password does not use the link up.
    let (status, body) = call(
        &server,
        Method::POST,
        "/api/v1/auth/links/redeem",
        None,
        Some(json!({ "token": token, "password": "short" })),
    )
    .await;
    assert_eq!(
        (status.as_u16(), body["errors"][0]["pointer"].as_str()),
        (422, Some("/password"))
    );
    let (status, _) = call(
        &server,
        Method::POST,
        "/api/v1/auth/links/redeem",
        None,
        Some(json!({ "token": token, "password": "my-own-password-1" })),
    )
    .await;
    assert_eq!(status, 200);
    login(&server, "demo", "new@demo.test", "my-own-password-1").await;

    // Single use.
    let (status, body) = call(
        &server,
        Method::POST,
        "/api/v1/auth/links/redeem",
        None,
        Some(json!({ "token": token, "password": "another-password-2" })),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        login_status(&server, "new@demo.test", "another-password-2").await,
        401
    );

    // A token for the same secret under another workspace, or a mangled one, is just unknown.
    let secret = token.split_once('.').unwrap().1;
    for bad in [
        format!("other.{secret}"),
        "demo.zz".into(),
        "nonsense".into(),
    ] {
        let (status, _) = call(
            &server,
            Method::POST,
            "/api/v1/auth/links/inspect",
            None,
            Some(json!({ "token": bad })),
        )
        .await;
        assert_eq!(status, 404, "{bad}");
    }

    let (_, audit) = call(&server, Method::GET, "/api/v1/audit", Some(&admin), None).await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"user.invited"), "{actions:?}");
    assert!(actions.contains(&"user.invitation_accepted"), "{actions:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_reset_link_replaces_the_password_and_ends_sessions() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let dev_id = user_id(&server, &admin, "dev@demo.test").await;

    let path = format!("/api/v1/users/{dev_id}/password-link");
    let (status, first) = call(&server, Method::POST, &path, Some(&admin), None).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["kind"], "reset");
    // A second link voids the first.
    let (_, second) = call(&server, Method::POST, &path, Some(&admin), None).await;
    let redeem = |token: String, password: &'static str| {
        let server = &server;
        async move {
            call(
                server,
                Method::POST,
                "/api/v1/auth/links/redeem",
                None,
                Some(json!({ "token": token, "password": password })),
            )
            .await
            .0
            .as_u16()
        }
    };
    assert_eq!(redeem(token_of(&first), "first-link-password").await, 404);
    // The old password still works until the link is used.
    assert_eq!(
        login_status(&server, "dev@demo.test", "demo-developer-pass").await,
        200
    );
    assert_eq!(redeem(token_of(&second), "reset-password-123").await, 200);
    assert_eq!(
        login_status(&server, "dev@demo.test", "demo-developer-pass").await,
        401
    );
    assert_eq!(
        login_status(&server, "dev@demo.test", "reset-password-123").await,
        200
    );
    // The session from before the reset is over.
    assert_eq!(
        call(&server, Method::GET, "/api/v1/profile", Some(&dev), None)
            .await
            .0,
        401
    );

    // Expired links and links of deactivated people do not work.
    let (_, third) = call(&server, Method::POST, &path, Some(&admin), None).await;
    let tenant =
        store::tenants::find_by_slug(server.db.store.pool(), &store::Slug::parse("demo").unwrap())
            .await
            .unwrap();
    let mut tx = server.db.store.tenant_tx(tenant.scope()).await.unwrap();
    sqlx::query("UPDATE user_tokens SET expires_at = now() - interval '1 second'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(redeem(token_of(&third), "expired-link-pass").await, 404);

    let (_, fourth) = call(&server, Method::POST, &path, Some(&admin), None).await;
    let (status, _) = call(
        &server,
        Method::POST,
        &format!("/api/v1/users/{dev_id}/deactivate"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(redeem(token_of(&fourth), "deactivated-pass-1").await, 404);
    let (status, body) = call(&server, Method::POST, &path, Some(&admin), None).await;
    assert_eq!(status, 422, "no links for deactivated people: {body}");

    // Only tenant admins issue links.
    let manager = login(&server, "demo", "manager@demo.test", "demo-manager-pass").await;
    let (status, _) = call(&server, Method::POST, &path, Some(&manager), None).await;
    assert_eq!(status, 403);
    server.shutdown().await;
}

/// The form behind `/welcome` works without JavaScript: errors go back to the page, success
/// goes to the sign-in page with the workspace and e-mail filled in.
#[tokio::test]
async fn the_welcome_form_sets_the_password_without_javascript() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let (_, created) = call(
        &server,
        Method::POST,
        "/api/v1/users",
        Some(&admin),
        Some(json!({ "email": "form@demo.test", "role": "viewer" })),
    )
    .await;
    let token = token_of(&created);

    let page = client()
        .get(server.url(&format!("/welcome?token={token}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Set the password for form@demo.test"),
        "{page}"
    );

    let post = |password: &'static str| {
        let form = [("token", token.as_str()), ("password", password)];
        client()
            .post(server.url("/auth/welcome"))
            .form(&form)
            .send()
    };
    let r = post("password").await.unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with("/welcome?"), "{location}");
    assert!(location.contains("error=invalid"), "{location}");

    let r = post("a-fine-password-9").await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        "/login?notice=password_set&tenant=demo&email=form%40demo.test"
    );
    login(&server, "demo", "form@demo.test", "a-fine-password-9").await;

    let used = client()
        .get(server.url(&format!("/welcome?token={token}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(used.contains("This link does not work"), "{used}");
    server.shutdown().await;
}

#[tokio::test]
async fn managers_see_the_teams_they_manage_and_members_see_their_own() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let manager = login(&server, "demo", "manager@demo.test", "demo-manager-pass").await;
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let viewer = login(&server, "demo", "viewer@demo.test", "demo-viewer-pass").await;
    let names = |teams: &Value| -> Vec<String> {
        teams
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    };

    let (status, mobile) = call(
        &server,
        Method::POST,
        "/api/v1/teams",
        Some(&admin),
        Some(json!({ "name": "Mobile" })),
    )
    .await;
    assert_eq!(status, 201);
    let mobile_id = mobile["id"].as_str().unwrap().to_string();
    let viewer_id = user_id(&server, &admin, "viewer@demo.test").await;
    let (status, team) = call(
        &server,
        Method::PUT,
        &format!("/api/v1/teams/{mobile_id}/members/{viewer_id}"),
        Some(&admin),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{team}");
    assert_eq!(team["members"][0]["email"], "viewer@demo.test");

    // The demo seed puts manager@ (managing) and dev@ into Platform.
    let list = |token: String| {
        let server = &server;
        async move {
            call(server, Method::GET, "/api/v1/teams", Some(&token), None)
                .await
                .1
        }
    };
    assert_eq!(names(&list(admin.clone()).await), ["Mobile", "Platform"]);
    assert_eq!(names(&list(manager.clone()).await), ["Platform"]);
    assert_eq!(names(&list(dev.clone()).await), ["Platform"]);
    assert_eq!(names(&list(viewer.clone()).await), ["Mobile"]);
    // A team one may not see is not found, not forbidden.
    let (status, _) = call(
        &server,
        Method::GET,
        &format!("/api/v1/teams/{mobile_id}"),
        Some(&manager),
        None,
    )
    .await;
    assert_eq!(status, 404);

    // Only tenant admins shape teams.
    let (status, _) = call(
        &server,
        Method::POST,
        "/api/v1/teams",
        Some(&manager),
        Some(json!({ "name": "Mine" })),
    )
    .await;
    assert_eq!(status, 403);
    let (status, body) = call(
        &server,
        Method::POST,
        "/api/v1/teams",
        Some(&admin),
        Some(json!({ "name": "Mobile" })),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = call(
        &server,
        Method::POST,
        "/api/v1/teams",
        Some(&admin),
        Some(json!({ "name": "  " })),
    )
    .await;
    assert_eq!(
        (status.as_u16(), body["errors"][0]["pointer"].as_str()),
        (422, Some("/name")),
        "{body}"
    );

    // Leaving the team hides it; deleting it removes it for everyone.
    let (status, _) = call(
        &server,
        Method::DELETE,
        &format!("/api/v1/teams/{mobile_id}/members/{viewer_id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(names(&list(viewer.clone()).await).is_empty());
    let (status, _) = call(
        &server,
        Method::DELETE,
        &format!("/api/v1/teams/{mobile_id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(names(&list(admin.clone()).await), ["Platform"]);
    server.shutdown().await;
}

/// The TRD's paths answer as the routes they stand for: the profile, the people list, and one
/// change of role and active state at once (both audited, both in force at once).
#[tokio::test]
async fn the_trd_paths_are_the_same_resources() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;

    let (_, profile) = call(&server, Method::GET, "/api/v1/profile", Some(&dev), None).await;
    let (status, alias) = call(
        &server,
        Method::GET,
        "/api/v1/auth/profile",
        Some(&dev),
        None,
    )
    .await;
    assert_eq!((status.as_u16(), &alias), (200, &profile));
    let (status, renamed) = call(
        &server,
        Method::PUT,
        "/api/v1/auth/profile",
        Some(&dev),
        Some(json!({ "name": "Dev Eloper" })),
    )
    .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["name"], "Dev Eloper");

    let (_, users) = call(&server, Method::GET, "/api/v1/users", Some(&admin), None).await;
    let (status, admin_users) = call(
        &server,
        Method::GET,
        "/api/v1/admin/users",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!((status.as_u16(), &admin_users), (200, &users));

    // An admin cannot demote (or deactivate) themselves, alone or in a list.
    let own = user_id(&server, &admin, "admin@demo.test").await;
    let (status, problem) = call(
        &server,
        Method::PUT,
        &format!("/api/v1/admin/users/{own}"),
        Some(&admin),
        Some(json!({ "role": "developer" })),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/role");
    let (status, _) = call(
        &server,
        Method::POST,
        "/api/v1/users/bulk",
        Some(&admin),
        Some(json!({ "ids": [own], "action": "deactivate" })),
    )
    .await;
    assert_eq!(status, 422);

    let id = user_id(&server, &admin, "dev@demo.test").await;
    let path = format!("/api/v1/admin/users/{id}");
    for (body, pointer) in [
        (json!({}), "/role"),
        (json!({ "role": "super_admin" }), "/role"),
    ] {
        let (status, problem) = call(&server, Method::PUT, &path, Some(&admin), Some(body)).await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["errors"][0]["pointer"], pointer);
    }
    let (status, changed) = call(
        &server,
        Method::PUT,
        &path,
        Some(&admin),
        Some(json!({ "role": "viewer", "active": false })),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        (changed["role"].as_str(), changed["active"].as_bool()),
        (Some("viewer"), Some(false))
    );
    let (status, _) = call(&server, Method::GET, "/api/v1/profile", Some(&dev), None).await;
    assert_eq!(status, 401, "their session ended with the change");
    for action in ["user.role_changed", "user.deactivated"] {
        let (_, entries) = call(
            &server,
            Method::GET,
            &format!("/api/v1/audit?action={action}&target={id}"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(entries.as_array().unwrap().len(), 1, "{action}: {entries}");
    }
    // Only what changes is changed (and audited): the same role again is no entry.
    let (status, _) = call(
        &server,
        Method::PUT,
        &path,
        Some(&admin),
        Some(json!({ "role": "viewer", "active": true })),
    )
    .await;
    assert_eq!(status, 200);
    let (_, entries) = call(
        &server,
        Method::GET,
        &format!("/api/v1/audit?action=user.&target={id}"),
        Some(&admin),
        None,
    )
    .await;
    let actions: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    // (The demo seeding created them.)
    assert_eq!(
        actions,
        [
            "user.reactivated",
            "user.deactivated",
            "user.role_changed",
            "user.created"
        ]
    );
    server.shutdown().await;
}
