//! Sessions as a browser holds them: cookies sent by their Path rules, the top bar's sign-out
//! form, requests other sites make the browser send, and the cookies' names and attributes.

use reqwest::{header, StatusCode};

use super::*;

/// A browser-like client: a cookie jar that sends each cookie only where its Path allows.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap()
}

/// `name=value` of each Set-Cookie header, with its attributes.
fn set_cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

fn cookie_value(set: &[String], name: &str) -> String {
    set.iter()
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("no {name} in {set:?}"))
        .to_string()
}

async fn refresh_status(server: &TestServer, token: &str) -> StatusCode {
    call(
        server,
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(json!({ "refresh_token": token })),
    )
    .await
    .0
}

#[tokio::test]
async fn signing_out_from_the_top_bar_revokes_the_refresh_token() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let origin = server.url("");
    let b = browser();
    let r = b
        .post(server.url("/auth/login"))
        .header(header::ORIGIN, &origin)
        .form(&[
            ("tenant", "demo"),
            ("email", "dev@demo.test"),
            ("password", "demo-developer-pass"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let refresh = cookie_value(&set_cookies(&r), "devpulse_refresh");

    // The form as the page renders it, posted the way a browser posts it.
    let page = b.get(server.url("/profile")).send().await.unwrap();
    let page = page.text().await.unwrap();
    let button = page.find(r#"id="sign-out""#).expect("a sign-out button");
    let form = &page[..button];
    let action = form[form.rfind(r#"action=""#).unwrap() + 8..]
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let r = b
        .post(server.url(&action))
        .header(header::ORIGIN, &origin)
        .header("sec-fetch-site", "same-origin")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{action}");
    assert_eq!(r.headers()[header::LOCATION], "/login");
    assert_eq!(
        refresh_status(&server, &refresh).await,
        401,
        "signing out at {action} left the refresh token working"
    );

    // A page from before the form moved still signs out: the old address repeats the POST at
    // the new one.
    let r = b
        .post(server.url("/auth/logout"))
        .header(header::ORIGIN, &origin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 307);
    assert_eq!(r.headers()[header::LOCATION], "/api/v1/auth/logout");

    // A refresh cookie planted beside ours (a sibling subdomain can set one for a longer path,
    // which the browser sends first) does not keep ours alive, and makes refreshing by cookie
    // ambiguous.
    let ours = login_refresh(&server, "dev@demo.test", "demo-developer-pass").await;
    let planted = login_refresh(&server, "viewer@demo.test", "demo-viewer-pass").await;
    let both = format!("devpulse_refresh={planted}; devpulse_refresh={ours}");
    let r = client()
        .post(server.url("/api/v1/auth/refresh"))
        .header(header::COOKIE, &both)
        .header(header::ORIGIN, &origin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "which cookie is ours is unknowable");
    let r = client()
        .post(server.url("/api/v1/auth/logout"))
        .header(header::COOKIE, &both)
        .header(header::ORIGIN, &origin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(refresh_status(&server, &ours).await, 401);
    assert_eq!(refresh_status(&server, &planted).await, 401);
    server.shutdown().await;
}

async fn login_refresh(server: &TestServer, email: &str, password: &str) -> String {
    let (status, body) = call(
        server,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({ "tenant": "demo", "email": email, "password": password })),
    )
    .await;
    assert_eq!(status, 200);
    body["refresh_token"].as_str().unwrap().to_string()
}

/// A POST as a browser sends it with the session cookie, from `site` (`None`: no browser
/// headers at all).
async fn cookie_post(
    server: &TestServer,
    path: &str,
    access: &str,
    site: Option<(&str, &str)>,
    form: Option<&[(&str, &str)]>,
) -> (StatusCode, Value) {
    let mut req = client()
        .post(server.url(path))
        .header(header::COOKIE, format!("devpulse_access={access}"));
    if let Some((name, value)) = site {
        req = req.header(name, value);
    }
    if let Some(form) = form {
        req = req.form(form);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    (
        status,
        serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null),
    )
}

async fn active(server: &TestServer, admin: &str, id: &str) -> bool {
    let (_, users) = call(server, Method::GET, "/api/v1/users", Some(admin), None).await;
    users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == id)
        .unwrap()["active"]
        .as_bool()
        .unwrap()
}

#[tokio::test]
async fn requests_other_sites_make_with_the_session_cookie_are_refused() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let viewer = crate::common::user_id(&server, &admin, "viewer@demo.test").await;
    let deactivate = format!("/api/v1/users/{viewer}/deactivate");
    let ours = server.url("");

    // A sibling subdomain, another port, an opaque origin, no browser headers at all: each is
    // refused, on the body-less REST routes and on server functions alike, and changes nothing.
    let forged: [Option<(&str, &str)>; 5] = [
        Some(("origin", "http://evil.example")),
        Some(("origin", "null")),
        Some(("sec-fetch-site", "same-site")),
        Some(("sec-fetch-site", "cross-site")),
        None,
    ];
    for site in forged {
        let (status, body) = cookie_post(&server, &deactivate, &admin, site, None).await;
        assert_eq!(status, 403, "{site:?}: {body}");
        assert_eq!(body["type"], "https://devpulse.dev/problems/forbidden");
        let form: &[(&str, &str)] = &[("id", &viewer), ("active", "false")];
        let (status, _) =
            cookie_post(&server, "/api/users/set_active", &admin, site, Some(form)).await;
        assert_eq!(status, 403, "server function, {site:?}");
        let (status, _) = cookie_post(&server, "/api/v1/auth/logout-all", &admin, site, None).await;
        assert_eq!(status, 403, "logout-all, {site:?}");
    }
    assert!(active(&server, &admin, &viewer).await, "nothing changed");
    let other_port = format!(
        "http://127.0.0.1:{}",
        server.addr.port().wrapping_add(1).max(1)
    );
    let (status, _) = cookie_post(
        &server,
        &deactivate,
        &admin,
        Some(("origin", &other_port)),
        None,
    )
    .await;
    assert_eq!(
        status, 403,
        "another port on the same host is another origin"
    );
    assert!(active(&server, &admin, &viewer).await);

    // The same requests from our own pages work.
    let form: &[(&str, &str)] = &[("id", &viewer), ("active", "false")];
    let (status, body) = cookie_post(
        &server,
        "/api/users/set_active",
        &admin,
        Some(("sec-fetch-site", "same-origin")),
        Some(form),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(!active(&server, &admin, &viewer).await);
    let (status, body) = cookie_post(
        &server,
        &format!("/api/v1/users/{viewer}/reactivate"),
        &admin,
        Some(("origin", &ours)),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(active(&server, &admin, &viewer).await);

    // Programs send no browser headers and authenticate by header: untouched.
    let (status, key) = call(
        &server,
        Method::POST,
        "/api/v1/api-keys",
        Some(&admin),
        Some(json!({ "name": "collector", "scopes": ["ingest"] })),
    )
    .await;
    assert_eq!(status, 201, "{key}");
    let r = client()
        .post(server.url("/api/v1/hooks/claude-code"))
        .header("x-api-key", key["key"].as_str().unwrap())
        .json(&json!({ "session_id": "s1", "hook_event_name": "Stop", "cwd": "/w" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());

    // Signing someone in from another site (login CSRF) is refused, form and API alike, and
    // sets no cookie.
    for (name, value) in [
        ("origin", "http://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let r = client()
            .post(server.url("/auth/login"))
            .header(name, value)
            .form(&[
                ("tenant", "demo"),
                ("email", "dev@demo.test"),
                ("password", "demo-developer-pass"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{name}: {value}");
        assert!(set_cookies(&r).is_empty());
        let r = client()
            .post(server.url("/api/v1/auth/login"))
            .header(name, value)
            .json(&json!({ "tenant": "demo", "email": "dev@demo.test", "password": "demo-developer-pass" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{name}: {value}");
    }
    let r = client()
        .post(server.url("/auth/login"))
        .header("origin", &ours)
        .form(&[
            ("tenant", "demo"),
            ("email", "dev@demo.test"),
            ("password", "demo-developer-pass"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()[header::LOCATION], "/");
    server.shutdown().await;
}

#[tokio::test]
async fn secure_cookies_are_host_and_secure_prefixed() {
    let mut server = TestServer::start_with(|c| c.secure_cookies = true).await;
    seed_two_tenants(&server).await;
    let r = client()
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({ "tenant": "demo", "email": "dev@demo.test", "password": "demo-developer-pass" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let set = set_cookies(&r);
    let access = set
        .iter()
        .find(|c| c.starts_with("__Host-devpulse_access="))
        .unwrap_or_else(|| panic!("{set:?}"));
    let refresh = set
        .iter()
        .find(|c| c.starts_with("__Secure-devpulse_refresh="))
        .unwrap_or_else(|| panic!("{set:?}"));
    for (cookie, path) in [(access, "/"), (refresh, "/api/v1/auth")] {
        let attrs: Vec<&str> = cookie.split("; ").skip(1).collect();
        assert!(attrs.contains(&"Secure"), "{cookie}");
        assert!(attrs.contains(&"HttpOnly"), "{cookie}");
        assert!(attrs.contains(&format!("Path={path}").as_str()), "{cookie}");
        assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    }
    let token = cookie_value(&set, "__Host-devpulse_access");
    let profile = |cookie: String| {
        client()
            .get(server.url("/api/v1/profile"))
            .header(header::COOKIE, cookie)
            .send()
    };
    assert_eq!(
        profile(format!("__Host-devpulse_access={token}"))
            .await
            .unwrap()
            .status(),
        200
    );
    // The bare name is what a sibling subdomain could set: not read when cookies are secure.
    assert_eq!(
        profile(format!("devpulse_access={token}"))
            .await
            .unwrap()
            .status(),
        401
    );
    server.shutdown().await;
}

/// Signs `b` in through the login form; the answer's cookies.
async fn form_login(
    b: &reqwest::Client,
    server: &TestServer,
    tenant: &str,
    email: &str,
    password: &str,
) -> Vec<String> {
    let r = b
        .post(server.url("/api/v1/auth/form/login"))
        .header(header::ORIGIN, server.url(""))
        .form(&[("tenant", tenant), ("email", email), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    set_cookies(&r)
}

async fn switch(b: &reqwest::Client, server: &TestServer, tenant: &str) -> reqwest::Response {
    b.post(server.url("/api/v1/auth/switch"))
        .header(header::ORIGIN, server.url(""))
        .form(&[("tenant", tenant)])
        .send()
        .await
        .unwrap()
}

async fn workspace_of(b: &reqwest::Client, server: &TestServer) -> Value {
    let me: Value = b
        .get(server.url("/api/v1/profile"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    me["tenant"].clone()
}

async fn workspaces_listed(b: &reqwest::Client, server: &TestServer) -> Value {
    b.get(server.url("/api/v1/auth/workspaces"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Sessions of dev@demo.test's accounts (in both workspaces) that would still refresh.
async fn live_sessions(server: &TestServer) -> i64 {
    sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM tenant_demo.refresh_tokens r JOIN tenant_demo.users u ON u.id = r.user_id
                 WHERE u.email = 'dev@demo.test' AND r.revoked_at IS NULL AND r.rotated_at IS NULL)
              + (SELECT count(*) FROM tenant_other.refresh_tokens r JOIN tenant_other.users u ON u.id = r.user_id
                 WHERE u.email = 'dev@demo.test' AND r.revoked_at IS NULL AND r.rotated_at IS NULL)",
    )
    .fetch_one(server.db.store.pool())
    .await
    .unwrap()
}

/// One browser signed in to two workspaces as the same person: the one left waits (sealed in
/// a cookie), switching back needs no password, a workspace not signed in to asks for its own
/// sign-in, nothing is listed by e-mail address alone, a planted list is not taken, and
/// signing out ends every session the browser holds.
#[tokio::test]
async fn one_browser_stays_signed_in_to_several_workspaces() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let other = store::tenants::find_by_slug(
        server.db.store.pool(),
        &store::Slug::parse("other").unwrap(),
    )
    .await
    .unwrap();
    server::tenancy::create_user(
        &server.db.store,
        &other,
        &store::Email::parse("dev@demo.test").unwrap(),
        "",
        store::Role::Viewer,
        Some("dev-elsewhere-pass".into()),
        &store::audit::Actor::cli(),
    )
    .await
    .unwrap();
    let b = browser();
    form_login(&b, &server, "demo", "dev@demo.test", "demo-developer-pass").await;
    // An account elsewhere with the same address is not listed: an address proves nothing.
    assert_eq!(
        workspaces_listed(&b, &server).await,
        json!([{ "slug": "demo", "name": "Demo", "role": "developer", "current": true }])
    );

    // Not signed in there yet: that workspace's own sign-in, the address filled in, and demo's
    // session waits from now (whichever way the other workspace signs in).
    let r = switch(&b, &server, "other").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()[header::LOCATION],
        "/login?tenant=other&email=dev%40demo.test&next=%2F"
    );
    let sealed = cookie_value(&set_cookies(&r), "devpulse_workspaces");
    assert!(!sealed.contains("demo."), "sealed, not readable: {sealed}");
    assert_eq!(
        workspace_of(&b, &server).await,
        "demo",
        "the page's access lasts"
    );
    form_login(&b, &server, "other", "dev@demo.test", "dev-elsewhere-pass").await;
    assert_eq!(workspace_of(&b, &server).await, "other");
    assert_eq!(
        workspaces_listed(&b, &server).await,
        json!([
            { "slug": "demo", "name": "Demo", "role": "developer", "current": false },
            { "slug": "other", "name": "Other", "role": "viewer", "current": true },
        ])
    );
    // Signing in to another workspace straight from the sign-in page keeps this one waiting.
    form_login(&b, &server, "demo", "dev@demo.test", "demo-developer-pass").await;
    assert_eq!(workspace_of(&b, &server).await, "demo");
    assert_eq!(
        workspaces_listed(&b, &server)
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Back and forth without a password.
    for to in ["other", "demo", "other"] {
        let r = switch(&b, &server, to).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{to}");
        assert_eq!(r.headers()[header::LOCATION], "/");
        assert_eq!(workspace_of(&b, &server).await, to);
    }
    // Each workspace holds one live session of this browser's; the ones let go are ended.
    assert_eq!(live_sessions(&server).await, 2);

    let token = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let (status, problem) = call(
        &server,
        Method::POST,
        "/api/v1/auth/switch",
        Some(&token),
        Some(json!({ "tenant": "nowhere" })),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem.to_string().contains("/tenant"), "{problem}");
    let (status, _) = call(
        &server,
        Method::POST,
        "/api/v1/auth/switch",
        Some(&token),
        Some(json!({ "tenant": "other" })),
    )
    .await;
    assert_eq!(status, 401, "no waiting session in a bearer client");

    // A list written by anyone but this server (a sibling site can set cookies) opens empty:
    // here the other workspace's real refresh token, unsealed.
    let (status, dev_other) = call(
        &server,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({ "tenant": "other", "email": "dev@demo.test", "password": "dev-elsewhere-pass" })),
    )
    .await;
    assert_eq!(status, 200);
    let r = client()
        .post(server.url("/api/v1/auth/switch"))
        .header(header::ORIGIN, server.url(""))
        .header(
            header::COOKIE,
            format!(
                "devpulse_access={token}; devpulse_workspaces={}",
                dev_other["refresh_token"].as_str().unwrap()
            ),
        )
        .form(&[("tenant", "other")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()[header::LOCATION].to_str().unwrap().to_string();
    assert!(to.starts_with("/login?"), "{to}");
    assert!(!set_cookies(&r)
        .iter()
        .any(|c| c.starts_with("devpulse_access=")));

    // Signing out ends every workspace's session this browser holds.
    let r = b
        .post(server.url("/api/v1/auth/logout"))
        .header(header::ORIGIN, server.url(""))
        .form(&[("from", "top bar")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        set_cookies(&r)
            .iter()
            .any(|c| c.starts_with("devpulse_workspaces=;")),
        "{:?}",
        set_cookies(&r)
    );
    // Left: the API sign-ins above (bearer clients), none of the browser's.
    assert_eq!(live_sessions(&server).await, 2);
    server.shutdown().await;
}
