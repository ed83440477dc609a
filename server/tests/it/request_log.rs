//! What the real binary writes to its log while links are issued and used: every request is
//! there, and no link token or password is.

use std::{
    io::{BufRead, BufReader},
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::{json, Value};
use store::testing::TestDb;

#[tokio::test]
async fn link_tokens_and_passwords_stay_out_of_the_request_log() {
    let db = TestDb::new().await;
    server::tenancy::seed_demo(&db.store, Some("demo-superadmin-pass".into()))
        .await
        .unwrap()
        .expect("fresh database");
    let (mut child, base) = crate::common::real_server(&db, |c| {
        // The default filter, with tower-http's per-request debug lines on top.
        c.env("RUST_LOG", "info,sqlx=warn,tower_http=debug")
            .env_remove("LOG_FORMAT")
            .env(
                "DEVPULSE_JWT_KEYS",
                "k1:request-log-test-secret-0123456789abcdef",
            )
            .stderr(Stdio::piped());
    });
    let log = Arc::new(Mutex::new(Vec::new()));
    let stderr = child.stderr.take().unwrap();
    let reader = {
        let log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log.lock().unwrap().push(line);
            }
        })
    };

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(
            &json!({ "tenant": "demo", "email": "admin@demo.test", "password": "demo-admin-pass" }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let admin = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let token_of = |v: &Value| {
        let url = v["url"].as_str().expect("a link url");
        url.split_once("token=").unwrap().1.to_string()
    };
    let invited: Value = http
        .post(format!("{base}/api/v1/users"))
        .bearer_auth(&admin)
        .json(&json!({ "email": "new@demo.test", "role": "viewer" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let invitation = token_of(&invited);
    let new_id = invited["user"]["id"]
        .as_str()
        .expect("the new user")
        .to_string();
    let (password, retried) = ("a-secret-new-pass-42", "short");

    // The link as a person follows it: the page, what it is for, a refused password (the form
    // goes back to the page), then the one that works.
    assert_eq!(
        http.get(format!("{base}/welcome?token={invitation}"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let inspect = http
        .post(format!("{base}/api/v1/auth/links/inspect"))
        .json(&json!({ "token": invitation }))
        .send()
        .await
        .unwrap();
    assert_eq!(inspect.status(), 200);
    let r = http
        .post(format!("{base}/api/links/inspect"))
        .form(&[("token", invitation.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for pw in [retried, password] {
        let r = http
            .post(format!("{base}/auth/welcome"))
            .form(&[("token", invitation.as_str()), ("password", pw)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let to = r.headers()["location"].to_str().unwrap().to_string();
        http.get(format!("{base}{to}")).send().await.unwrap();
    }
    // A reset link, used through the JSON API.
    let reset: Value = http
        .post(format!("{base}/api/v1/users/{new_id}/password-link"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reset = token_of(&reset);
    http.get(format!("{base}/welcome?token={reset}&x=1"))
        .send()
        .await
        .unwrap();
    let r = http
        .post(format!("{base}/api/v1/auth/links/redeem"))
        .json(&json!({ "token": reset, "password": "another-secret-pass-43" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Every answer carries its request's id, and the request's log line names it.
    let request_id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(request_id.len(), 36, "a UUID: {request_id}");

    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "server stops on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap();
    let log = log.lock().unwrap().join("\n");

    for secret in [
        invitation.split_once('.').unwrap().1,
        reset.split_once('.').unwrap().1,
        password,
        "another-secret-pass-43",
    ] {
        assert!(!log.contains(secret), "{secret} is in the log:\n{log}");
    }
    assert!(
        log.contains("/welcome?token=[redacted]"),
        "the requests are logged, their tokens redacted:\n{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains(&request_id) && l.contains("/api/v1/auth/links/redeem")),
        "no log line of request {request_id}:\n{log}"
    );
}
