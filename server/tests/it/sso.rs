//! Single sign-on against a real OpenID Connect provider (npm `oidc-provider`, run by the test
//! as a subprocess; `end2end/idp/oidc.mjs`), driven without a browser: its development login
//! form takes any login name. A first sign-in makes the account just in time with the mapped
//! role, a second finds the same account; every tampered or stale callback is refused by name
//! and audited.

use reqwest::{header::LOCATION, StatusCode};
use serde_json::{json, Value};

use crate::common::*;

/// The provider, stopped when dropped.
struct Idp {
    _process: NodeHelper,
    url: String,
}

/// Starts the provider with one client, `devpulse`, sending people back to `server`.
fn idp(server: &TestServer) -> Idp {
    idp_on(server, free_port(), &[])
}

/// The provider on `port`, with extra settings (`FRESH_KEYS`, `CLOCK_SKEW_SECONDS`).
fn idp_on(server: &TestServer, port: u16, env: &[(&str, &str)]) -> Idp {
    let clients = json!([
        { "client_id": "devpulse", "client_secret": "s3cret",
          "redirect_uris": [server.url("/auth/sso/callback"), server.url("/api/v1/auth/sso/callback")] },
        { "client_id": "someone-else", "client_secret": "other",
          "redirect_uris": [server.url("/auth/sso/callback")] },
    ]);
    let mut vars = vec![("PORT", port.to_string()), ("CLIENTS", clients.to_string())];
    vars.extend(env.iter().map(|(k, v)| (*k, v.to_string())));
    Idp {
        _process: NodeHelper::start("idp/oidc.mjs", "oidc-provider", &vars),
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// A browser of its own: cookies kept, redirects followed by hand.
pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub(crate) fn location(r: &reqwest::Response, base: &str) -> String {
    let l = r
        .headers()
        .get(LOCATION)
        .unwrap_or_else(|| panic!("{} redirects", r.url()))
        .to_str()
        .unwrap();
    if l.starts_with('/') {
        format!("{base}{l}")
    } else {
        l.to_string()
    }
}

/// From "Continue with SSO" to the provider's answer: the callback URL it sends the browser
/// to (not yet followed), after signing in there as `login`.
async fn to_callback(b: &reqwest::Client, server: &TestServer, idp: &Idp, login: &str) -> String {
    let r = b
        .get(server.url("/auth/sso/start?workspace=demo&next=%2Fsessions"))
        .send()
        .await
        .unwrap();
    onward_to_callback(b, r, server, idp, login).await
}

/// From the page that leaves for the provider (`r`) to the callback URL it answers.
async fn onward_to_callback(
    b: &reqwest::Client,
    r: reqwest::Response,
    server: &TestServer,
    idp: &Idp,
    login: &str,
) -> String {
    // A page that moves on at once (a redirect would break the sign-in form's policy).
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    let to_idp = page
        .split("href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("a link onwards in {page}"))
        .replace("&amp;", "&");
    assert!(to_idp.starts_with(&idp.url), "{to_idp}");
    assert!(to_idp.contains("code_challenge_method=S256") && to_idp.contains("nonce="));
    let r = b.get(&to_idp).send().await.unwrap();
    let mut next = location(&r, &idp.url);
    if next.contains("/interaction/") {
        let r = b
            .post(&next)
            .form(&[("prompt", "login"), ("login", login), ("password", "any")])
            .send()
            .await
            .unwrap();
        let resume = location(&r, &idp.url);
        let r = b.get(&resume).send().await.unwrap();
        next = location(&r, &idp.url);
    }
    assert!(
        next.starts_with(&server.url("/auth/sso/callback")),
        "{next}"
    );
    next
}

/// Follows the callback: where it sends the browser.
async fn callback(b: &reqwest::Client, url: &str, server: &TestServer) -> String {
    let r = b.get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    location(&r, &server.url(""))
}

pub(crate) async fn profile(b: &reqwest::Client, server: &TestServer) -> Value {
    let r = b.get(server.url("/api/v1/profile")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

pub(crate) fn refused(to: &str, why: &str) {
    let url = reqwest::Url::parse("http://x").unwrap().join(to).unwrap();
    assert_eq!(url.path(), "/login", "{to}");
    let detail: String = url
        .query_pairs()
        .find(|(k, _)| k == "detail")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    assert!(detail.contains(why), "expected “{why}” in “{detail}”");
}

async fn configure(server: &TestServer, admin: &str, idp: &Idp, client: (&str, &str)) {
    let (status, body) = call(
        server,
        reqwest::Method::PUT,
        "/api/v1/sso",
        Some(admin),
        Some(json!({
            "issuer": idp.url, "client_id": client.0, "client_secret": client.1,
            "group_roles": { "admins": "tenant_admin" },
        })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.get("client_secret").is_none(),
        "the secret is never read back"
    );
}

#[tokio::test]
async fn a_workspace_signs_people_in_through_its_provider_and_refuses_what_does_not_check_out() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let idp = idp(&server);
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;

    // Not set up yet: said so on the sign-in page.
    let b = browser();
    let r = b
        .get(server.url("/auth/sso/start?workspace=demo"))
        .send()
        .await
        .unwrap();
    refused(&location(&r, ""), "has no single sign-on");

    // Bad configuration is refused by field.
    let (status, problem) = call(
        &server,
        reqwest::Method::PUT,
        "/api/v1/sso",
        Some(&admin),
        Some(json!({ "issuer": "ftp://idp", "client_id": "x", "client_secret": "y" })),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/issuer");
    // Only user.manage holders configure it.
    let manager = login(&server, "demo", "manager@demo.test", "demo-manager-pass").await;
    let (status, _) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/sso",
        Some(&manager),
        None,
    )
    .await;
    assert_eq!(status, 403);
    configure(&server, &admin, &idp, ("devpulse", "s3cret")).await;

    // A first sign-in makes the account just in time, with the role its group maps to, and
    // lands where it began.
    let b = browser();
    let back = to_callback(&b, &server, &idp, "admin.ada@demo.test").await;
    assert_eq!(callback(&b, &back, &server).await, server.url("/sessions"));
    let me = profile(&b, &server).await;
    assert_eq!(me["email"], "admin.ada@demo.test");
    assert_eq!(me["role"], "tenant_admin");
    let id = me["id"].clone();

    // The callback replayed (the same code and state) finds nothing to finish.
    refused(
        &callback(&b, &back, &server).await,
        "expired or was already used",
    );

    // A callback link begun in one browser and opened in another (someone luring a victim
    // into their own account) finds nothing; the browser that began it still finishes.
    let attacker = browser();
    let lure = to_callback(&attacker, &server, &idp, "bob@demo.test").await;
    let victim = browser();
    refused(
        &callback(&victim, &lure, &server).await,
        "expired or was already used",
    );
    assert_eq!(
        callback(&attacker, &lure, &server).await,
        server.url("/sessions")
    );

    // A second sign-in, from another browser, is the same account.
    let b2 = browser();
    let back2 = to_callback(&b2, &server, &idp, "admin.ada@demo.test").await;
    callback(&b2, &back2, &server).await;
    assert_eq!(profile(&b2, &server).await["id"], id);

    // Someone in no mapped group gets the default role.
    let b3 = browser();
    let back3 = to_callback(&b3, &server, &idp, "bob@demo.test").await;
    callback(&b3, &back3, &server).await;
    assert_eq!(profile(&b3, &server).await["role"], "developer");

    // A state nobody began.
    let forged = back3.replace("state=", "state=forged");
    refused(
        &callback(&browser(), &forged, &server).await,
        "expired or was already used",
    );

    // An e-mail the provider has not verified.
    let b4 = browser();
    let back4 = to_callback(&b4, &server, &idp, "unverified.carl@demo.test").await;
    refused(&callback(&b4, &back4, &server).await, "has not verified");

    // An existing password account is never taken over by an identity with its e-mail.
    let b5 = browser();
    let back5 = to_callback(&b5, &server, &idp, "dev@demo.test").await;
    refused(&callback(&b5, &back5, &server).await, "already exists");

    // A nonce that does not match the one the sign-in began with.
    let pool = sqlx::PgPool::connect(server.db.url()).await.unwrap();
    let b6 = browser();
    let back6 = to_callback(&b6, &server, &idp, "admin.ada@demo.test").await;
    sqlx::query("UPDATE sso_pending SET nonce = 'not-the-one'")
        .execute(&pool)
        .await
        .unwrap();
    refused(&callback(&b6, &back6, &server).await, "nonce");

    // A sign-in that took longer than ten minutes.
    let b7 = browser();
    let back7 = to_callback(&b7, &server, &idp, "admin.ada@demo.test").await;
    sqlx::query("UPDATE sso_pending SET expires_at = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();
    refused(
        &callback(&b7, &back7, &server).await,
        "expired or was already used",
    );

    // The provider's configuration changed while someone was signing in: begin again.
    let b8 = browser();
    let back8 = to_callback(&b8, &server, &idp, "admin.ada@demo.test").await;
    configure(&server, &admin, &idp, ("someone-else", "other")).await;
    refused(
        &callback(&b8, &back8, &server).await,
        "expired or was already used",
    );

    // A code issued to another client is not exchanged for this one's tokens (the sign-in
    // made to look as if it began with that client).
    configure(&server, &admin, &idp, ("devpulse", "s3cret")).await;
    let b10 = browser();
    let back10 = to_callback(&b10, &server, &idp, "admin.ada@demo.test").await;
    configure(&server, &admin, &idp, ("someone-else", "other")).await;
    sqlx::query("UPDATE sso_pending SET client_id = 'someone-else'")
        .execute(&pool)
        .await
        .unwrap();
    refused(&callback(&b10, &back10, &server).await, "did not check out");
    configure(&server, &admin, &idp, ("devpulse", "s3cret")).await;

    // Every refusal is in the workspace's audit log, with its reason.
    let (_, audit) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/audit?action=sso.failed",
        Some(&admin),
        None,
    )
    .await;
    let reasons: Vec<String> = audit["entries"]
        .as_array()
        .or_else(|| audit.as_array())
        .map(|a| {
            a.iter()
                .filter(|e| e["action"] == "sso.failed")
                .map(|e| {
                    e["details"]["reason"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default();
    for why in [
        "has not verified",
        "already exists",
        "nonce",
        "did not check out",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(why)),
            "{why} audited: {audit}"
        );
    }

    // The other workspace has no provider: its people cannot come in through demo's.
    let b9 = browser();
    let r = b9
        .get(server.url("/auth/sso/start?workspace=other"))
        .send()
        .await
        .unwrap();
    refused(&location(&r, ""), "has no single sign-on");
    pool.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_provider_that_rotates_its_keys_is_followed_and_an_expired_token_is_refused() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let port = free_port();
    let first = idp_on(&server, port, &[("FRESH_KEYS", "1")]);
    configure(&server, &admin, &first, ("devpulse", "s3cret")).await;
    let b = browser();
    let back = to_callback(&b, &server, &first, "ada@demo.test").await;
    assert_eq!(callback(&b, &back, &server).await, server.url("/sessions"));
    let id = profile(&b, &server).await["id"].clone();

    // The provider comes back on the same address signing with a new key. The cached keys
    // (trusted for 10 minutes) do not know it: one fresh discovery, and the sign-in works.
    drop(first);
    let rotated = idp_on(&server, port, &[("FRESH_KEYS", "1")]);
    let b2 = browser();
    let back = to_callback(&b2, &server, &rotated, "ada@demo.test").await;
    assert_eq!(callback(&b2, &back, &server).await, server.url("/sessions"));
    assert_eq!(profile(&b2, &server).await["id"], id, "the same account");

    // A provider whose clock is two hours behind signs tokens that expired an hour ago.
    drop(rotated);
    let behind = idp_on(
        &server,
        port,
        &[("FRESH_KEYS", "1"), ("CLOCK_SKEW_SECONDS", "-7200")],
    );
    let b3 = browser();
    let back = to_callback(&b3, &server, &behind, "ada@demo.test").await;
    let to = callback(&b3, &back, &server).await;
    refused(&to, "did not check out");
    assert!(to.contains("expired"), "{to}");
    let r = b3.get(server.url("/api/v1/profile")).send().await.unwrap();
    assert_eq!(r.status(), 401, "no session from an expired token");
    server.shutdown().await;
}

#[tokio::test]
async fn a_single_sign_on_only_workspace_refuses_passwords_but_its_break_glass_admin() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let idp = idp(&server);
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let put = |extra: Value| {
        let mut body = json!({
            "issuer": idp.url, "client_id": "devpulse", "client_secret": "s3cret",
        });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        call(
            &server,
            reqwest::Method::PUT,
            "/api/v1/sso",
            Some(&admin),
            Some(body),
        )
    };
    // Nobody named to get in when the provider is down: refused, and so is someone who is not
    // a tenant admin, or nobody at all.
    for (extra, why) in [
        (json!({ "sso_only": true }), "name the tenant admin"),
        (
            json!({ "sso_only": true, "break_glass": "dev@demo.test" }),
            "tenant admin",
        ),
        (
            json!({ "sso_only": true, "break_glass": "admin@other.test" }),
            "nobody in this workspace",
        ),
    ] {
        let (status, problem) = put(extra).await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["errors"][0]["pointer"], "/break_glass");
        assert!(problem.to_string().contains(why), "{problem}");
    }
    let (status, saved) = put(json!({
        "sso_only": true, "break_glass": "Admin@Demo.test", "email_domains": ["demo.test"],
    }))
    .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["sso_only"], true);
    assert_eq!(saved["break_glass"], "admin@demo.test");

    let password = |tenant: &'static str, email: &'static str, pass: &'static str| {
        call(
            &server,
            reqwest::Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "tenant": tenant, "email": email, "password": pass })),
        )
    };
    let (status, problem) = password("demo", "dev@demo.test", "demo-developer-pass").await;
    assert_eq!(status, 403, "{problem}");
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("Continue with SSO"));
    // The same answer for an e-mail nobody has: it tells about the workspace, not accounts.
    let (status, _) = password("demo", "nobody@demo.test", "whatever-password").await;
    assert_eq!(status, 403);
    // The break-glass admin, and other workspaces, sign in as before.
    login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    login(&server, "other", "dev@other.test", "developer-pass-12345").await;
    // People who had passwords come in through the provider instead: the workspace names its
    // domain, so their verified address links their existing account (audited).
    let dev_id = user_id(&server, &admin, "dev@demo.test").await;
    let b = browser();
    let back = to_callback(&b, &server, &idp, "dev@demo.test").await;
    assert_eq!(callback(&b, &back, &server).await, server.url("/sessions"));
    assert_eq!(profile(&b, &server).await["id"], dev_id.as_str());

    // The sign-in form says what to do instead.
    let r = client()
        .post(server.url("/auth/login"))
        .header("origin", server.url(""))
        .form(&[
            ("tenant", "demo"),
            ("email", "manager@demo.test"),
            ("password", "demo-manager-pass"),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .contains("error=sso_only"));

    // Turned off, passwords work again; the change is audited.
    let (status, _) = put(json!({ "sso_only": false })).await;
    assert_eq!(status, 200);
    login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let (_, log) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/audit?limit=100&action=sso.configured",
        Some(&admin),
        None,
    )
    .await;
    assert!(log.to_string().contains("\"sso_only\":true"), "{log}");
    let (_, linked) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/audit?limit=100&action=sso.linked",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(linked.as_array().unwrap().len(), 1, "{linked}");
    server.shutdown().await;
}

#[tokio::test]
async fn starting_sign_ins_is_rate_limited_per_address() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let mut limited = 0;
    for i in 0..45 {
        let r = browser()
            .get(server.url("/auth/sso/start?workspace=demo"))
            .send()
            .await
            .unwrap();
        let to = location(&r, "");
        if to.contains("too+many") {
            limited += 1;
        } else {
            // Within the burst the request goes on (here to "no single sign-on").
            assert!(i < 35, "request {i} was let through: {to}");
        }
    }
    assert!(limited >= 5, "{limited} refused");
    server.shutdown().await;
}

#[tokio::test]
async fn a_work_address_finds_the_one_workspace_whose_provider_names_its_domain() {
    let dns = crate::domains::Dns::start();
    let addr = dns.addr;
    let mut server = TestServer::start_with(|c| c.dns_server = Some(addr)).await;
    seed_two_tenants(&server).await;
    let idp = idp(&server);
    let demo = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let other = login(&server, "other", "admin@other.test", "other-admin-pass").await;
    let provider = |domains: Value, enabled: bool| {
        json!({
            "issuer": idp.url, "client_id": "devpulse", "client_secret": "s3cret",
            "email_domains": domains, "enabled": enabled,
        })
    };
    let put = |admin: String, body: Value| {
        let server = &server;
        async move {
            let (status, body) = call(
                server,
                reqwest::Method::PUT,
                "/api/v1/sso",
                Some(&admin),
                Some(body),
            )
            .await;
            assert_eq!(status, 200, "{body}");
            body
        }
    };
    let b = browser();
    let start = |typed: &str| {
        let url = server.url(&format!(
            "/auth/sso/start?{}",
            serde_urlencoded::to_string([("workspace", typed)]).unwrap()
        ));
        let b = b.clone();
        async move { b.get(url).send().await.unwrap() }
    };

    let demo_settings = put(demo.clone(), provider(json!(["demo.test"]), true)).await;
    // Named but not proven: nobody is sent anywhere by it.
    refused(
        &location(&start("ada@demo.test").await, ""),
        "no workspace signs in demo.test addresses",
    );
    dns.publish_all(&demo_settings, &[]);
    let (status, proof) = crate::domains::verify(&server, &demo, "demo.test").await;
    assert_eq!(status, 200, "{proof}");
    assert!(proof["verified_at"].is_string(), "{proof}");
    // Found by its domain, whatever the case; the address goes along as the provider's hint.
    let r = start("Ada@Demo.test").await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains(&idp.url), "{page}");
    assert!(page.contains("login_hint=ada%40demo.test"), "{page}");
    // Typing the workspace still works, without a hint.
    let page = start("demo").await.text().await.unwrap();
    assert!(
        page.contains(&idp.url) && !page.contains("login_hint"),
        "{page}"
    );

    // A domain nobody names is explained.
    refused(
        &location(&start("ada@nowhere.test").await, ""),
        "no workspace signs in nowhere.test addresses",
    );

    // A second workspace naming the same domain, without proof, changes nothing; with proof
    // (the domain's owner published both tokens), it captures nobody: both are asked for by
    // name.
    let other_settings = put(other.clone(), provider(json!(["demo.test"]), true)).await;
    assert_eq!(start("ada@demo.test").await.status(), StatusCode::OK);
    let demo_value = demo_settings["domains"][0]["record_value"]
        .as_str()
        .unwrap();
    dns.publish_all(&other_settings, &[demo_value]);
    crate::domains::verify(&server, &other, "demo.test").await;
    refused(
        &location(&start("ada@demo.test").await, ""),
        "more than one workspace names demo.test",
    );
    // Turned off, it no longer counts.
    put(other.clone(), provider(json!(["demo.test"]), false)).await;
    assert_eq!(start("ada@demo.test").await.status(), StatusCode::OK);
    // Removed, neither does demo's.
    let (status, _) = call(
        &server,
        reqwest::Method::DELETE,
        "/api/v1/sso",
        Some(&demo),
        None,
    )
    .await;
    assert_eq!(status, 204);
    refused(
        &location(&start("ada@demo.test").await, ""),
        "no workspace signs in demo.test addresses",
    );
    server.shutdown().await;
}

/// An admin's try sign-in, signing in at the provider as `login` (from a browser of its own,
/// as the provider remembers who signed in last): the report, as the admin reads it, and its id.
async fn try_as(
    server: &TestServer,
    idp: &Idp,
    admin: &str,
    login: &str,
) -> (StatusCode, Value, String) {
    let b = browser();
    let r = b
        .get(server.url("/auth/sso/try"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    let back = onward_to_callback(&b, r, server, idp, login).await;
    let r = b.get(&back).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookies: Vec<_> = r
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(
        !cookies
            .iter()
            .any(|c| c.contains("devpulse_access") || c.contains("devpulse_refresh")),
        "a try starts no session: {cookies:?}"
    );
    let to = location(&r, "");
    assert!(to.starts_with("/sso/try?id="), "{to}");
    let id = to.trim_start_matches("/sso/try?id=").to_string();
    let (status, report) = call(
        server,
        reqwest::Method::GET,
        &format!("/api/v1/sso/trials/{id}"),
        Some(admin),
        None,
    )
    .await;
    (status, report, id)
}

#[tokio::test]
async fn an_admin_tries_sign_in_and_reads_the_claims_with_nothing_saved() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let idp = idp(&server);
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    configure(&server, &admin, &idp, ("devpulse", "s3cret")).await;

    // Only an admin may try.
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let b = browser();
    let r = b
        .get(server.url("/auth/sso/try"))
        .bearer_auth(&dev)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let (status, trial, id) = try_as(&server, &idp, &admin, "tried.tom@demo.test").await;
    assert_eq!(status, 200, "{trial}");
    assert_eq!(trial["admitted"], true, "{trial}");
    assert_eq!(trial["claims"]["email"], "tried.tom@demo.test");
    assert_eq!(trial["claims"]["email_verified"], true);
    assert_eq!(trial["claims"]["issuer"], idp.url.as_str());
    let outcome = trial["outcome"].as_str().unwrap();
    assert!(
        outcome.contains("would create an account for tried.tom@demo.test with the role developer"),
        "{outcome}"
    );
    // Nobody was made.
    let (_, users) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/users",
        Some(&admin),
        None,
    )
    .await;
    assert!(
        !users.to_string().contains("tried.tom@demo.test"),
        "a try makes no account: {users}"
    );
    // The report is the trying admin's alone; other workspaces find nothing.
    let other = login(&server, "other", "admin@other.test", "other-admin-pass").await;
    let (status, _) = call(
        &server,
        reqwest::Method::GET,
        &format!("/api/v1/sso/trials/{id}"),
        Some(&other),
        None,
    )
    .await;
    assert_eq!(status, 404);
    // The try is in the audit log, and only as a try.
    let (_, tried) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/audit?action=sso.tried",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(tried.as_array().unwrap().len(), 1, "{tried}");
    let (_, created) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/audit?action=user.created",
        Some(&admin),
        None,
    )
    .await;
    assert!(!created.to_string().contains("tried.tom"), "{created}");

    // A refusal is reported in words.
    let (_, trial, _) = try_as(&server, &idp, &admin, "unverified.una@demo.test").await;
    assert_eq!(trial["admitted"], false, "{trial}");
    assert!(
        trial["outcome"]
            .as_str()
            .unwrap()
            .contains("has not verified unverified.una@demo.test"),
        "{trial}"
    );
    server.shutdown().await;
}

/// The hidden fields of the first form in `page` and where it posts.
fn form_of(page: &str) -> (String, Vec<(String, String)>) {
    let unescape = |s: &str| {
        s.replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    let attr = |tag: &str, name: &str| {
        tag.split(&format!("{name}=\"")[..])
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .map(unescape)
    };
    let form = page.split("<form").nth(1).expect("a form");
    let action = attr(form, "action").expect("an action");
    let fields = form
        .split("<input")
        .skip(1)
        .filter_map(|tag| Some((attr(tag, "name")?, attr(tag, "value")?)))
        .collect();
    (action, fields)
}

/// From "Continue with SSO" to the provider's form-post page, after signing in there as
/// `login`: where its form posts, and its fields.
async fn to_form_post(
    b: &reqwest::Client,
    server: &TestServer,
    idp: &Idp,
    login: &str,
) -> (String, Vec<(String, String)>) {
    let page = b
        .get(server.url("/auth/sso/start?workspace=demo&next=%2Fsessions"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let to_idp = page
        .split("href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .replace("&amp;", "&");
    assert!(to_idp.contains("response_mode=form_post"), "{to_idp}");
    let r = b.get(&to_idp).send().await.unwrap();
    let interaction = location(&r, &idp.url);
    let r = b
        .post(&interaction)
        .form(&[("prompt", "login"), ("login", login), ("password", "any")])
        .send()
        .await
        .unwrap();
    let mut r = b.get(location(&r, &idp.url)).send().await.unwrap();
    while r.status().is_redirection() {
        r = b.get(location(&r, &idp.url)).send().await.unwrap();
    }
    assert_eq!(r.status(), StatusCode::OK);
    form_of(&r.text().await.unwrap())
}

#[tokio::test]
async fn a_provider_that_answers_by_form_post_signs_people_in_through_the_relay_page() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let idp = idp(&server);
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let (status, body) = call(
        &server,
        reqwest::Method::PUT,
        "/api/v1/sso",
        Some(&admin),
        Some(json!({
            "issuer": idp.url, "client_id": "devpulse", "client_secret": "s3cret",
            "response_mode": "form_post",
        })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["response_mode"], "form_post");
    assert_eq!(
        body["redirect_uri"],
        server.url("/api/v1/auth/sso/callback"),
        "the address to register follows the mode"
    );
    let (status, problem) = call(
        &server,
        reqwest::Method::PUT,
        "/api/v1/sso",
        Some(&admin),
        Some(json!({
            "issuer": idp.url, "client_id": "devpulse", "response_mode": "fragment",
        })),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem.to_string().contains("response_mode"), "{problem}");
    // A client that does not know the field keeps the saved choice.
    let (status, body) = call(
        &server,
        reqwest::Method::PUT,
        "/api/v1/sso",
        Some(&admin),
        Some(json!({ "issuer": idp.url, "client_id": "devpulse" })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["response_mode"], "form_post");

    // The provider is asked to post its answer, and does: a page of its own whose form posts
    // to our callback.
    let b = browser();
    let (action, answer) = to_form_post(&b, &server, &idp, "poster").await;
    assert_eq!(action, server.url("/api/v1/auth/sso/callback"));
    assert!(answer.iter().any(|(k, _)| k == "code"), "{answer:?}");

    // The browser posts it from the provider's site, without the SameSite cookie: the answer
    // is a page that posts the same fields again from ours, and nothing is signed in yet.
    let cross_site = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = cross_site
        .post(&action)
        .header("sec-fetch-site", "cross-site")
        .header("origin", &idp.url)
        .form(&answer)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "the cross-site post is let through"
    );
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("form-action 'self'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(
        r.headers().get("set-cookie").is_none(),
        "no session from the first post"
    );
    let (again, relayed) = form_of(&r.text().await.unwrap());
    assert_eq!(again, "/api/v1/auth/sso/callback");
    for (k, v) in &answer {
        if k != "iss" {
            assert!(relayed.contains(&(k.clone(), v.clone())), "{k} is relayed");
        }
    }
    assert!(relayed.contains(&("relayed".into(), "1".into())));

    // Relayed by someone else's browser (no binding cookie): a stale sign-in, as for a
    // callback link handed to a victim.
    let r = cross_site
        .post(server.url(&again))
        .header("sec-fetch-site", "same-origin")
        .form(&relayed)
        .send()
        .await
        .unwrap();
    refused(&location(&r, ""), "expired or was already used");

    // Relayed by the browser that began it: signed in, where it began.
    let b2 = browser();
    let (action, answer) = to_form_post(&b2, &server, &idp, "poster").await;
    let r = cross_site
        .post(&action)
        .header("sec-fetch-site", "cross-site")
        .form(&answer)
        .send()
        .await
        .unwrap();
    let (again, relayed) = form_of(&r.text().await.unwrap());
    let r = b2
        .post(server.url(&again))
        .header("sec-fetch-site", "same-origin")
        .form(&relayed)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r, &server.url("")), server.url("/sessions"));
    let me = profile(&b2, &server).await;
    assert_eq!(me["email"], "poster@example.test");

    // The same answer twice: the sign-in is spent.
    let r = b2
        .post(server.url(&again))
        .header("sec-fetch-site", "same-origin")
        .form(&relayed)
        .send()
        .await
        .unwrap();
    refused(&location(&r, ""), "expired or was already used");
    server.shutdown().await;
}

#[tokio::test]
async fn a_google_workspace_admits_only_accounts_its_domain_manages() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let idp = idp(&server);
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let put = |body: Value| {
        call(
            &server,
            reqwest::Method::PUT,
            "/api/v1/sso",
            Some(&admin),
            Some(body),
        )
    };

    // Entra's shared endpoints cannot name one directory: refused, with the way out named.
    let (status, problem) = put(json!({
        "preset": "entra", "issuer": "https://login.microsoftonline.com/common/v2.0",
        "client_id": "x", "client_secret": "y", "email_domains": ["demo.test"],
    }))
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/issuer");
    assert!(problem.to_string().contains("directory"), "{problem}");
    // So is the directory of personal Microsoft accounts, by its id.
    let (status, problem) = put(json!({
        "preset": "entra",
        "issuer": "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0",
        "client_id": "x", "client_secret": "y", "email_domains": ["demo.test"],
    }))
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/issuer");
    // Google's issuer only under the Google preset, whose `hd` check it needs.
    let (status, problem) = put(json!({
        "preset": "generic", "issuer": "https://accounts.google.com",
        "client_id": "x", "client_secret": "y", "email_domains": ["demo.test"],
    }))
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/preset");

    let (status, body) = put(json!({
        "preset": "google", "issuer": idp.url, "client_id": "devpulse",
        "client_secret": "s3cret", "email_domains": ["demo.test"],
    }))
    .await;
    assert_eq!(status, 200, "{body}");

    // Google's account chooser is told the domain, and an account the domain's Workspace
    // manages (`hd`) comes in.
    let b = browser();
    let r = b
        .get(server.url("/auth/sso/start?workspace=demo"))
        .send()
        .await
        .unwrap();
    let page = r.text().await.unwrap();
    assert!(page.contains("hd=demo.test"), "{page}");
    let r = b
        .get(server.url("/auth/sso/start?workspace=demo&next=%2Fsessions"))
        .send()
        .await
        .unwrap();
    let back = onward_to_callback(&b, r, &server, &idp, "gina@demo.test").await;
    assert_eq!(callback(&b, &back, &server).await, server.url("/sessions"));
    assert_eq!(profile(&b, &server).await["email"], "gina@demo.test");

    // A personal Google account at the same address carries no `hd`: refused, though its
    // e-mail is verified and in the workspace's domain.
    let b = browser();
    let back = to_callback(&b, &server, &idp, "personal.pat@demo.test").await;
    refused(
        &callback(&b, &back, &server).await,
        "not managed by the workspace's Google Workspace",
    );
    let (_, users) = call(
        &server,
        reqwest::Method::GET,
        "/api/v1/users",
        Some(&admin),
        None,
    )
    .await;
    assert!(!users.to_string().contains("personal.pat"), "{users}");
    server.shutdown().await;
}
