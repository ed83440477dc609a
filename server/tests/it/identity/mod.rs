//! Sign-in, sessions, tokens, roles, API keys and tenant isolation, through the real HTTP API.

use crate::common::{call, client, login, seed_two_tenants, TestServer, TEST_JWT_SECRET};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{json, Value};

mod access;
mod browser;
mod sessions;
mod tenants;
mod throttling;

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

    // Failures and successes are in the tenant's audit log (failures within a second).
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    throttling::wait_for_failed_login(&server, &admin, "dev@demo.test").await;
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
