//! Two-step verification: setting up an authenticator app, the second step of a password
//! sign-in (a code, or a recovery code), a workspace that requires it, an admin's reset, and
//! the refusals: a wrong or replayed code, a spent recovery code, too many guesses, another
//! workspace's challenge. Codes are computed from the seed the server shows, as an app would.

use futures::{stream, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{call, client, login, seed_two_tenants, user_id, TestServer};

fn now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap()
}

/// The code the app shows `steps` half-minutes from now (the server accepts one step either
/// side, so tests can use the next one instead of waiting 30 s).
fn code(secret: &str, steps: i64) -> String {
    store::mfa::code_at(secret, (now() as i64 + steps * 30) as u64)
}

async fn password(server: &TestServer, tenant: &str, email: &str, pass: &str) -> Value {
    let r = client()
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({ "tenant": tenant, "email": email, "password": pass }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn second(server: &TestServer, token: &str, code: &str) -> (StatusCode, Value) {
    call(
        server,
        Method::POST,
        "/api/v1/auth/mfa",
        None,
        Some(json!({ "mfa_token": token, "code": code })),
    )
    .await
}

fn pointer(problem: &Value) -> &str {
    problem["errors"][0]["pointer"].as_str().unwrap_or_default()
}

/// Sets up an app for the signed-in `token`'s person; the seed and the recovery codes.
async fn enrol(server: &TestServer, token: &str) -> (String, Vec<String>) {
    let (s, e) = call(
        server,
        Method::POST,
        "/api/v1/profile/mfa/totp",
        Some(token),
        None,
    )
    .await;
    assert_eq!(s, 200, "{e}");
    let secret = e["secret"].as_str().unwrap().to_string();
    assert!(e["qr_svg"].as_str().unwrap().starts_with("<svg"));
    assert!(e["otpauth_url"]
        .as_str()
        .unwrap()
        .contains("issuer=devpulse"));
    // A reload shows the same seed: nobody is halfway through scanning a stale one.
    let (_, again) = call(
        server,
        Method::POST,
        "/api/v1/profile/mfa/totp",
        Some(token),
        None,
    )
    .await;
    assert_eq!(again["secret"], e["secret"]);

    let (s, p) = call(
        server,
        Method::POST,
        "/api/v1/profile/mfa/totp/confirm",
        Some(token),
        Some(json!({ "code": "000000" })),
    )
    .await;
    assert_eq!(s, 422, "{p}");
    assert_eq!(pointer(&p), "/code");
    let (s, done) = call(
        server,
        Method::POST,
        "/api/v1/profile/mfa/totp/confirm",
        Some(token),
        Some(json!({ "code": code(&secret, 0) })),
    )
    .await;
    assert_eq!(s, 200, "{done}");
    let codes: Vec<String> = serde_json::from_value(done["recovery_codes"].clone()).unwrap();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

#[tokio::test]
async fn an_app_set_up_makes_sign_in_ask_for_a_code_each_good_once() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let (secret, recovery) = enrol(&server, &dev).await;
    let (_, status) = call(
        &server,
        Method::GET,
        "/api/v1/profile/mfa",
        Some(&dev),
        None,
    )
    .await;
    assert_eq!(status["enrolled"], true);
    assert_eq!(status["recovery_codes_left"], 10);

    // The password alone no longer signs in.
    let owed = password(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    assert_eq!(owed["mfa_required"], true, "{owed}");
    assert_eq!(owed["enrol"], false);
    assert!(owed.get("access_token").is_none());
    let token = owed["mfa_token"].as_str().unwrap();
    assert!(token.starts_with("demo."));

    let (s, p) = second(&server, token, "123456").await;
    assert_eq!(
        (s, pointer(&p)),
        (StatusCode::UNPROCESSABLE_ENTITY, "/code")
    );
    // The code that confirmed the app was accepted once; the same half minute is refused.
    let (s, _) = second(&server, token, &code(&secret, 0)).await;
    assert_eq!(s, 422, "a code is good once");
    let (s, ok) = second(&server, token, &code(&secret, 1)).await;
    assert_eq!(s, 200, "{ok}");
    assert!(ok["access_token"].is_string());
    assert!(ok.get("recovery_codes").is_none());
    // The challenge is spent.
    let (s, p) = second(&server, token, &code(&secret, 1)).await;
    assert_eq!(
        (s, pointer(&p)),
        (StatusCode::UNPROCESSABLE_ENTITY, "/mfa_token")
    );

    // A recovery code, typed as people do (upper case, no dash), works once.
    let typed = recovery[3].to_uppercase().replace('-', " ");
    let owed = password(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let (s, ok) = second(&server, owed["mfa_token"].as_str().unwrap(), &typed).await;
    assert_eq!(s, 200, "{ok}");
    let owed = password(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let (s, _) = second(&server, owed["mfa_token"].as_str().unwrap(), &recovery[3]).await;
    assert_eq!(s, 422, "a recovery code is good once");
    let session = ok["access_token"].as_str().unwrap();
    let (_, status) = call(
        &server,
        Method::GET,
        "/api/v1/profile/mfa",
        Some(session),
        None,
    )
    .await;
    assert_eq!(status["recovery_codes_left"], 9);

    // New recovery codes need a current code; the old ones stop working.
    let (s, _) = call(
        &server,
        Method::POST,
        "/api/v1/profile/mfa/recovery-codes",
        Some(session),
        Some(json!({ "code": "999999" })),
    )
    .await;
    assert_eq!(s, 422);
    let (s, renewed) = call(
        &server,
        Method::POST,
        "/api/v1/profile/mfa/recovery-codes",
        Some(session),
        Some(json!({ "code": recovery[5] })),
    )
    .await;
    assert_eq!(s, 200, "{renewed}");
    let owed = password(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let (s, _) = second(&server, owed["mfa_token"].as_str().unwrap(), &recovery[6]).await;
    assert_eq!(s, 422, "renewing voids the old codes");
    let fresh = renewed["recovery_codes"][0].as_str().unwrap();
    let (s, _) = second(&server, owed["mfa_token"].as_str().unwrap(), fresh).await;
    assert_eq!(s, 200);

    // Turning it off takes a current code; then the password alone signs in again.
    let (s, _) = call(
        &server,
        Method::DELETE,
        "/api/v1/profile/mfa",
        Some(session),
        Some(json!({ "code": renewed["recovery_codes"][1] })),
    )
    .await;
    assert_eq!(s, 204);
    login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;

    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let (_, log) = call(
        &server,
        Method::GET,
        "/api/v1/audit?limit=100",
        Some(&admin),
        None,
    )
    .await;
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .or(log.as_array())
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in [
        "mfa.enrolled",
        "mfa.verified",
        "mfa.failed",
        "mfa.recovery_codes_renewed",
        "mfa.disabled",
    ] {
        assert!(actions.contains(&a), "{a} not in {actions:?}");
    }

    // Every change reached the person by e-mail: set up, four recovery codes used (one at
    // sign-in, one to renew, one after renewing, one to turn it off), renewed, turned off.
    let (_, emails) = call(&server, Method::GET, "/api/v1/emails", Some(&admin), None).await;
    let notices: Vec<&Value> = emails
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["template"] == "second_factor_changed")
        .collect();
    assert_eq!(notices.len(), 7, "{emails:#}");
    assert!(notices.iter().all(|e| e["to"] == "dev@demo.test"));
    server.shutdown().await;
}

#[tokio::test]
async fn guesses_are_capped_per_challenge_and_throttled_like_passwords() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let (secret, _) = enrol(&server, &dev).await;
    let owed = password(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let token = owed["mfa_token"].as_str().unwrap().to_string();
    // Thirty guesses at once: at most five reach a code check.
    let statuses: Vec<(StatusCode, String)> = stream::iter(0..30)
        .map(|i| {
            let (server, token) = (&server, token.clone());
            async move {
                let (s, p) = second(server, &token, &format!("{:06}", 100_000 + i)).await;
                (s, pointer(&p).to_string())
            }
        })
        .buffer_unordered(30)
        .collect()
        .await;
    let checked = statuses.iter().filter(|(_, p)| p == "/code").count();
    assert!(checked <= 5, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|(s, p)| p == "/code" || p == "/mfa_token" || *s == 429),
        "{statuses:?}"
    );
    // The right code cannot rescue a challenge that has had its guesses.
    let (s, p) = second(&server, &token, &code(&secret, 1)).await;
    assert!(pointer(&p) == "/mfa_token" || s == 429, "{s} {p}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_challenge_belongs_to_its_workspace() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let (secret, _) = enrol(&server, &dev).await;
    let owed = password(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let token = owed["mfa_token"].as_str().unwrap();
    let (_, secret_part) = token.split_once('.').unwrap();
    for forged in [
        format!("other.{secret_part}"),
        format!("_.{secret_part}"),
        format!("demo.{}", "0".repeat(64)),
        secret_part.to_string(),
    ] {
        let (s, p) = second(&server, &forged, &code(&secret, 1)).await;
        assert_eq!(
            (s, pointer(&p)),
            (StatusCode::UNPROCESSABLE_ENTITY, "/mfa_token"),
            "{forged}"
        );
    }
    let (s, _) = second(&server, token, &code(&secret, 1)).await;
    assert_eq!(s, 200, "the real one still works");
    server.shutdown().await;
}

#[tokio::test]
async fn a_workspace_that_requires_it_has_people_set_it_up_at_sign_in() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let (s, _) = call(
        &server,
        Method::PUT,
        "/api/v1/settings/mfa",
        Some(&dev),
        Some(json!({ "required": "everyone" })),
    )
    .await;
    assert_eq!(s, 403, "only those who manage people decide");
    let (s, p) = call(
        &server,
        Method::PUT,
        "/api/v1/settings/mfa",
        Some(&admin),
        Some(json!({ "required": "sometimes" })),
    )
    .await;
    assert_eq!(s, 422, "{p}");
    let (s, _) = call(
        &server,
        Method::PUT,
        "/api/v1/settings/mfa",
        Some(&admin),
        Some(json!({ "required": "everyone" })),
    )
    .await;
    assert_eq!(s, 200);

    let owed = password(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    assert_eq!(owed["enrol"], true, "{owed}");
    let token = owed["mfa_token"].as_str().unwrap();
    let (s, e) = call(
        &server,
        Method::POST,
        "/api/v1/auth/mfa/enrol",
        None,
        Some(json!({ "mfa_token": token })),
    )
    .await;
    assert_eq!(s, 200, "{e}");
    let secret = e["secret"].as_str().unwrap();
    let (s, p) = second(&server, token, "000000").await;
    assert_eq!(
        (s, pointer(&p)),
        (StatusCode::UNPROCESSABLE_ENTITY, "/code")
    );
    let (s, done) = second(&server, token, &code(secret, 0)).await;
    assert_eq!(s, 200, "{done}");
    assert_eq!(done["recovery_codes"].as_array().unwrap().len(), 10);
    let session = done["access_token"].as_str().unwrap().to_string();

    // Required of them, so they cannot turn it off.
    let (s, p) = call(
        &server,
        Method::DELETE,
        "/api/v1/profile/mfa",
        Some(&session),
        Some(json!({ "code": code(secret, 1) })),
    )
    .await;
    assert_eq!((s, pointer(&p)), (StatusCode::UNPROCESSABLE_ENTITY, "/mfa"));

    // A lost phone: the admin resets it, the person's sessions end, and the next sign-in
    // sets up a new app.
    let id = user_id(&server, &admin, "dev@demo.test").await;
    let (s, _) = call(
        &server,
        Method::DELETE,
        &format!("/api/v1/users/{id}/mfa"),
        Some(&dev),
        None,
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = call(
        &server,
        Method::DELETE,
        &format!("/api/v1/users/{id}/mfa"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (s, _) = call(
        &server,
        Method::GET,
        "/api/v1/profile",
        Some(&session),
        None,
    )
    .await;
    assert_eq!(s, 401, "sessions end with the reset");
    let owed = password(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    assert_eq!(owed["enrol"], true);
    // The person hears who reset it.
    let (_, emails) = call(&server, Method::GET, "/api/v1/emails", Some(&admin), None).await;
    let reset = emails
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["template"] == "second_factor_changed" && e["to"] == "dev@demo.test");
    assert!(reset.is_some(), "{emails:#}");

    // The rule reaches only this workspace.
    let (_, other) = call(
        &server,
        Method::GET,
        "/api/v1/settings/mfa",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(other["required"], "everyone");
    login(&server, "other", "dev@other.test", "developer-pass-12345").await;

    let (_, log) = call(
        &server,
        Method::GET,
        "/api/v1/audit?limit=100",
        Some(&admin),
        None,
    )
    .await;
    let text = log.to_string();
    for a in ["settings.mfa_required", "mfa.enrolled", "mfa.reset"] {
        assert!(text.contains(a), "{a} not audited");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn the_sign_in_form_sets_the_session_only_after_the_code() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let (secret, _) = enrol(&server, &dev).await;
    let r = client()
        .post(server.url("/auth/login"))
        .header("origin", server.url(""))
        .form(&[
            ("tenant", "demo"),
            ("email", "dev@demo.test"),
            ("password", "demo-developer-pass"),
            ("next", "/profile"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login/mfa?next=%2Fprofile");
    let cookies: Vec<&str> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(
        cookies.iter().all(|c| !c.starts_with("devpulse_access")),
        "{cookies:?}"
    );
    let challenge = cookies
        .iter()
        .find(|c| c.starts_with("devpulse_mfa="))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    assert!(cookies
        .iter()
        .any(|c| c.contains("HttpOnly") && c.starts_with("devpulse_mfa=")));

    // The page asks for a code (rendered on the server, before any WASM).
    let page = client()
        .get(server.url("/login/mfa?next=%2Fprofile"))
        .header("cookie", &challenge)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"mfa-form\""), "{page}");
    assert!(page.contains("Two-step verification"));

    let post = |code: String| {
        client()
            .post(server.url("/auth/mfa"))
            .header("origin", server.url(""))
            .header("cookie", challenge.clone())
            .form(&[("code", code.as_str()), ("next", "/profile")])
            .send()
    };
    let wrong = post("111111".into()).await.unwrap();
    assert_eq!(wrong.status(), 303);
    assert_eq!(
        wrong.headers()["location"],
        "/login/mfa?error=code&next=%2Fprofile"
    );
    let right = post(code(&secret, 1)).await.unwrap();
    assert_eq!(right.status(), 303);
    assert_eq!(right.headers()["location"], "/profile");
    let set: Vec<&str> = right
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(set
        .iter()
        .any(|c| c.starts_with("devpulse_access=") && !c.contains("Max-Age=0")));
    assert!(
        set.iter().any(|c| c.starts_with("devpulse_mfa=;")),
        "{set:?}"
    );
    // Spent: the same cookie again goes back to the password.
    let again = post(code(&secret, 1)).await.unwrap();
    assert_eq!(again.headers()["location"], "/login?error=mfa_expired");
    server.shutdown().await;
}

#[tokio::test]
async fn wrong_codes_lock_the_person_out_and_a_password_change_ends_open_challenges() {
    let mut server = TestServer::start().await;
    seed_two_tenants(&server).await;
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let (secret, recovery) = enrol(&server, &dev).await;

    // A session left open cannot guess its way to new recovery codes: after ten wrong codes
    // even the right one is refused, here and at sign-in, whatever the source.
    for i in 0..10 {
        let (s, _) = call(
            &server,
            Method::POST,
            "/api/v1/profile/mfa/recovery-codes",
            Some(&dev),
            Some(json!({ "code": format!("{:06}", 200_000 + i) })),
        )
        .await;
        assert_eq!(s, 422);
    }
    let (s, _) = call(
        &server,
        Method::POST,
        "/api/v1/profile/mfa/recovery-codes",
        Some(&dev),
        Some(json!({ "code": recovery[0] })),
    )
    .await;
    assert_eq!(s, 429, "locked");
    let owed = password(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let (s, _) = second(
        &server,
        owed["mfa_token"].as_str().unwrap(),
        &code(&secret, 1),
    )
    .await;
    assert_eq!(s, 429, "locked at sign-in too");

    // A challenge begun before a role (or password) change ends with it, as sessions do.
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let id = user_id(&server, &admin, "dev@demo.test").await;
    let (s, _) = call(
        &server,
        Method::PUT,
        &format!("/api/v1/users/{id}/role"),
        Some(&admin),
        Some(json!({ "role": "viewer" })),
    )
    .await;
    assert_eq!(s, 200);
    let (s, p) = second(&server, owed["mfa_token"].as_str().unwrap(), &recovery[1]).await;
    assert_eq!(
        (s, pointer(&p)),
        (StatusCode::UNPROCESSABLE_ENTITY, "/mfa_token")
    );

    // An admin clears other people's, never their own (that takes a code, on the profile).
    let me = user_id(&server, &admin, "admin@demo.test").await;
    let (s, p) = call(
        &server,
        Method::DELETE,
        &format!("/api/v1/users/{me}/mfa"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 422, "{p}");
    let (_, log) = call(
        &server,
        Method::GET,
        "/api/v1/audit?limit=200",
        Some(&admin),
        None,
    )
    .await;
    let text = log.to_string();
    assert!(
        text.contains("too many wrong codes"),
        "the lockout is audited"
    );
    assert!(text.contains("mfa.challenged"), "challenges are audited");
    server.shutdown().await;
}
