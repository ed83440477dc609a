//! E-mail and the job runner: invitations and password links reach a real SMTP server
//! (Python's aiosmtpd, writing a Maildir), the outbox stands in when there is none, a job
//! left behind by a vanished instance is taken up again and sends once, failures wait longer
//! each time and end dead, and two schedulers queue each fire time once.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use chrono::TimeDelta;
use reqwest::Method;
use serde_json::{json, Value};
use server::{
    jobs::{self, Options, Runner, Schedule},
    mail::Mailer,
};
use store::testing::TestDb;

use crate::common::{call, client, free_port, login, python, seed_two_tenants, TestServer};

/// A real SMTP server for the test: aiosmtpd's Mailbox handler files each message it accepts
/// into a Maildir.
pub(crate) struct SmtpSink {
    port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl SmtpSink {
    pub(crate) async fn start() -> SmtpSink {
        let dir = tempfile::tempdir().unwrap();
        for d in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        let port = free_port();
        let mut child = Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return SmtpSink { port, dir, child };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("aiosmtpd did not listen on {port}");
    }

    pub(crate) fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn messages(&self) -> Vec<String> {
        files(&self.dir.path().join("new"), "")
    }

    /// Waits for the `n`th message, then a little longer to see that no more arrive.
    pub(crate) async fn wait_for(&self, n: usize) -> Vec<String> {
        wait_for(|| self.messages(), n).await
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The contents of the files in `dir` whose names end with `suffix`, oldest name first.
fn files(dir: &Path, suffix: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return vec![];
    };
    let mut names: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            !name.starts_with('.') && name.ends_with(suffix)
        })
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

async fn wait_for(read: impl Fn() -> Vec<String>, n: usize) -> Vec<String> {
    for _ in 0..300 {
        if read().len() >= n {
            // Anything that would arrive twice arrives within the runner's poll.
            tokio::time::sleep(Duration::from_millis(2500)).await;
            return read();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("expected {n} messages, have {}", read().len());
}

/// The password link in a message's text, whatever transfer encoding carried it.
fn link_in(message: &str) -> String {
    let unfolded = message
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let start = unfolded
        .find("/welcome?token=")
        .expect("a link in the message");
    let token: String = unfolded[start + "/welcome?token=".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
        .collect();
    token
}

pub(crate) fn header<'a>(message: &'a str, name: &str) -> &'a str {
    message
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} header in {message}"))
        .trim()
}

#[tokio::test]
async fn an_invitation_goes_out_by_smtp_and_its_link_lets_the_person_in() {
    let sink = SmtpSink::start().await;
    let data = tempfile::tempdir().unwrap();
    let smtp = sink.url();
    let server = TestServer::start_with(|c| {
        c.smtp_url = Some(smtp);
        c.data_dir = data.path().into();
    })
    .await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;

    let (status, created) = call(
        &server,
        Method::POST,
        "/api/v1/users",
        Some(&admin),
        Some(json!({ "email": "new.person@demo.test", "name": "New Person", "role": "developer" })),
    )
    .await;
    assert_eq!(status, 201, "{created}");

    let mail = sink.wait_for(1).await;
    assert_eq!(mail.len(), 1, "one invitation, sent once");
    let m = &mail[0];
    assert_eq!(header(m, "To"), "new.person@demo.test");
    assert!(header(m, "Subject").contains("You are invited to"), "{m}");
    assert!(m.contains("admin@demo.test has invited you"), "{m}");
    // The e-mailed link is the one the admin was shown.
    let token = link_in(m);
    assert!(created["url"].as_str().unwrap().ends_with(&token));

    let (status, _) = call(
        &server,
        Method::POST,
        "/api/v1/auth/links/redeem",
        None,
        Some(json!({ "token": token, "password": "a-brand-new-password-1" })),
    )
    .await;
    assert_eq!(status, 200);
    login(
        &server,
        "demo",
        "new.person@demo.test",
        "a-brand-new-password-1",
    )
    .await;

    // The record: sent over SMTP, and the sealed values (the link) forgotten.
    let (status, emails) = call(&server, Method::GET, "/api/v1/emails", Some(&admin), None).await;
    assert_eq!(status, 200);
    let e = &emails[0];
    assert_eq!(e["to"], "new.person@demo.test");
    assert_eq!(e["template"], "invitation");
    assert_eq!(e["status"], "sent");
    assert_eq!(e["delivered_via"], "smtp");
    assert_eq!(e["attempts"], 1);
    let tenant =
        store::tenants::find_by_slug(server.db.store.pool(), &store::Slug::parse("demo").unwrap())
            .await
            .unwrap();
    let mut tx = server.db.store.tenant_tx(tenant.scope()).await.unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM emails WHERE sealed IS NOT NULL")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(left, 0);

    // A developer may not read the workspace's e-mail.
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let (status, _) = call(&server, Method::GET, "/api/v1/emails", Some(&dev), None).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn forgot_password_answers_alike_and_mails_only_an_existing_account_once() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_path_buf();
    let server = TestServer::start_with(|c| c.data_dir = dir).await;
    seed_two_tenants(&server).await;
    let outbox = data.path().join("outbox");
    let ask = |email: &str| {
        let body = json!({ "tenant": "demo", "email": email });
        let url = server.url("/api/v1/auth/password/forgot");
        async move {
            let r = client().post(url).json(&body).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let known = ask("dev@demo.test").await;
    let unknown = ask("nobody@demo.test").await;
    let wrong_workspace = ask("admin@other.test").await;
    assert_eq!(known.0, 202);
    assert_eq!(known, unknown, "the answer says nothing about the address");
    assert_eq!(known, wrong_workspace);

    let mail = wait_for(|| files(&outbox, ".eml"), 1).await;
    assert_eq!(mail.len(), 1, "only the existing account gets a message");
    assert_eq!(header(&mail[0], "To"), "dev@demo.test");
    assert!(mail[0].contains("hopefully you"));

    // Asking again at once sends nothing more (and still answers the same).
    assert_eq!(ask("dev@demo.test").await, known);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(files(&outbox, ".eml").len(), 1);

    let token = link_in(&mail[0]);
    let (status, _) = call(
        &server,
        Method::POST,
        "/api/v1/auth/links/redeem",
        None,
        Some(json!({ "token": token, "password": "my-new-dev-password-7" })),
    )
    .await;
    assert_eq!(status, 200);
    login(&server, "demo", "dev@demo.test", "my-new-dev-password-7").await;
    let (status, _) = call(
        &server,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({ "tenant": "demo", "email": "dev@demo.test", "password": "demo-developer-pass" })),
    )
    .await;
    assert_eq!(status, 401, "the old password no longer works");

    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let (_, audit) = call(
        &server,
        Method::GET,
        "/api/v1/audit?action=user.password_link_requested",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(audit.as_array().unwrap().len(), 1, "{audit}");
    let (_, emails) = call(&server, Method::GET, "/api/v1/emails", Some(&admin), None).await;
    assert!(emails[0]["delivered_via"]
        .as_str()
        .unwrap()
        .starts_with("outbox:"));

    // Bad input is named by field.
    let (status, problem) = call(
        &server,
        Method::POST,
        "/api/v1/auth/password/forgot",
        None,
        Some(json!({ "tenant": "demo", "email": "not-an-address" })),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["pointer"], "/email", "{problem}");
}

/// Queues an invitation for `email` in the demo workspace, as the users page does.
async fn invite(db: &TestDb, sealer: &store::sealing::Sealer, email: &str) {
    let tenant =
        store::tenants::find_by_slug(db.store.pool(), &store::Slug::parse("demo").unwrap())
            .await
            .unwrap();
    let mut tx = db.store.tenant_tx(tenant.scope()).await.unwrap();
    let post = store::invitations::Post {
        sealer,
        public_url: "http://devpulse.test",
    };
    store::invitations::invite(
        &mut tx,
        &store::audit::Actor::cli(),
        &tenant.slug,
        &store::Email::parse(email).unwrap(),
        "",
        store::Role::Developer,
        Some(&post),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn seeded_db() -> TestDb {
    let db = TestDb::new().await;
    server::tenancy::seed_demo(&db.store, Some("demo-superadmin-pass".into()))
        .await
        .unwrap();
    db
}

fn quick(schedules: Vec<Schedule>) -> Options {
    Options {
        workers: 2,
        lease: TimeDelta::seconds(30),
        poll: Duration::from_millis(100),
        tick: Duration::from_millis(100),
        schedules,
    }
}

async fn job_rows(db: &TestDb, kind: &str) -> Vec<(String, i32, Option<String>)> {
    sqlx::query_as("SELECT state, attempts, last_error FROM jobs WHERE kind = $1 ORDER BY id")
        .bind(kind)
        .fetch_all(db.store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_job_whose_instance_died_is_taken_up_again_and_its_email_sent_once() {
    let sink = SmtpSink::start().await;
    let db = seeded_db().await;
    let sealer =
        std::sync::Arc::new(store::sealing::Sealer::new(Some(&"5e".repeat(32)), None).unwrap());
    invite(&db, &sealer, "late@demo.test").await;

    // An instance claimed the job and died: its lease (one second) is all that is left.
    let kinds = jobs::kinds();
    let claimed = store::jobs::claim(db.store.pool(), "gone/0", &kinds, TimeDelta::seconds(1))
        .await
        .unwrap()
        .expect("the e-mail job");
    assert_eq!(claimed.kind, store::mail::SEND);

    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mailer = Mailer::new(
        Some(&sink.url()),
        "devpulse <devpulse@localhost>",
        Path::new("/nonexistent"),
        false,
    )
    .unwrap();
    let runner = Runner::start(
        jobs::Context {
            store: db.store.clone(),
            mailer,
            alerts: evaluator(&db, &sealer),
            reports: reporter(&db, &sealer),
            outbound: OUTBOUND,
            http: OUTBOUND.client().unwrap(),
            sealer,
        },
        quick(vec![]),
        stop,
    );
    let mail = sink.wait_for(1).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(header(&mail[0], "To"), "late@demo.test");
    let rows = job_rows(&db, store::mail::SEND).await;
    assert_eq!(
        rows,
        vec![("done".to_string(), 2, None)],
        "the second attempt finished it"
    );
    stop_tx.send(true).unwrap();
    runner.stopped().await;
}

#[tokio::test]
async fn an_email_whose_instance_died_on_its_last_attempt_shows_as_failed() {
    let db = seeded_db().await;
    let sealer =
        std::sync::Arc::new(store::sealing::Sealer::new(Some(&"5e".repeat(32)), None).unwrap());
    invite(&db, &sealer, "lost@demo.test").await;
    sqlx::query("UPDATE jobs SET max_attempts = 1 WHERE kind = $1")
        .bind(store::mail::SEND)
        .execute(db.store.pool())
        .await
        .unwrap();
    let kinds = jobs::kinds();
    store::jobs::claim(db.store.pool(), "gone/0", &kinds, TimeDelta::seconds(1))
        .await
        .unwrap()
        .expect("the e-mail job");

    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    // Nothing is sent: the job is dead before a worker takes it.
    let outbox = std::env::temp_dir();
    let mailer = Mailer::new(None, "devpulse <devpulse@localhost>", &outbox, false).unwrap();
    let runner = Runner::start(
        jobs::Context {
            store: db.store.clone(),
            mailer,
            alerts: evaluator(&db, &sealer),
            reports: reporter(&db, &sealer),
            outbound: OUTBOUND,
            http: OUTBOUND.client().unwrap(),
            sealer,
        },
        quick(vec![]),
        stop,
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let email = loop {
        let row: (String, Option<String>) = sqlx::query_as(
            "SELECT status, last_error FROM tenant_demo.emails WHERE to_address = 'lost@demo.test'",
        )
        .fetch_one(db.store.pool())
        .await
        .unwrap();
        if row.0 != "queued" || tokio::time::Instant::now() > deadline {
            break row;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        email,
        (
            "failed".to_string(),
            Some(store::jobs::ABANDONED.to_string())
        )
    );
    let rows = job_rows(&db, store::mail::SEND).await;
    assert_eq!(
        rows,
        vec![(
            "dead".to_string(),
            1,
            Some(store::jobs::ABANDONED.to_string())
        )]
    );
    stop_tx.send(true).unwrap();
    runner.stopped().await;
}

#[tokio::test]
async fn a_failing_delivery_waits_longer_each_time_then_is_dead_until_retried() {
    let db = seeded_db().await;
    let sealer =
        std::sync::Arc::new(store::sealing::Sealer::new(Some(&"5e".repeat(32)), None).unwrap());
    invite(&db, &sealer, "unlucky@demo.test").await;
    // Nothing listens here: every attempt fails to connect, which may get better later.
    let mailer = Mailer::new(
        Some(&format!("smtp://127.0.0.1:{}", free_port())),
        "devpulse <devpulse@localhost>",
        Path::new("/nonexistent"),
        false,
    )
    .unwrap();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let runner = Runner::start(
        jobs::Context {
            store: db.store.clone(),
            mailer,
            alerts: evaluator(&db, &sealer),
            reports: reporter(&db, &sealer),
            outbound: OUTBOUND,
            http: OUTBOUND.client().unwrap(),
            sealer,
        },
        quick(vec![]),
        stop,
    );
    let pool = db.store.pool();
    let mut waited = None;
    for _ in 0..100 {
        waited = sqlx::query_as::<_, (String, i32, f64)>(
            "SELECT state, attempts, extract(epoch FROM run_at - now())::float8 FROM jobs
             WHERE kind = 'email.send' AND attempts = 1 AND state = 'queued'",
        )
        .fetch_optional(pool)
        .await
        .unwrap();
        if waited.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, _, wait) = waited.expect("the first attempt failed and the job waits");
    assert!(
        (5.0..=10.5).contains(&wait),
        "the first wait is ten seconds: {wait}"
    );

    // Its last attempt now: the failure makes it dead, and the e-mail failed.
    sqlx::query("UPDATE jobs SET max_attempts = 2, run_at = now() WHERE kind = 'email.send'")
        .execute(pool)
        .await
        .unwrap();
    let mut rows = vec![];
    for _ in 0..100 {
        rows = job_rows(&db, store::mail::SEND).await;
        if rows[0].0 == "dead" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(rows[0].0, "dead");
    assert_eq!(rows[0].1, 2);
    assert!(rows[0].2.as_deref().unwrap().contains("SMTP"), "{rows:?}");
    let counts = store::jobs::counts(pool).await.unwrap();
    assert_eq!(counts.dead, 1);
    let tenant = store::tenants::find_by_slug(pool, &store::Slug::parse("demo").unwrap())
        .await
        .unwrap();
    let mut tx = db.store.tenant_tx(tenant.scope()).await.unwrap();
    let sent = store::mail::list(&mut tx, 10).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(sent[0].status, "failed");
    assert_eq!(sent[0].attempts, 2);

    stop_tx.send(true).unwrap();
    runner.stopped().await;
    let dead = store::jobs::list(pool, Some("dead"), 10).await.unwrap();
    store::jobs::revive(pool, dead[0].id).await.unwrap();
    assert_eq!(job_rows(&db, store::mail::SEND).await[0].0, "queued");
    assert!(
        store::jobs::revive(pool, dead[0].id).await.is_err(),
        "only a dead job revives"
    );
}

#[tokio::test]
async fn two_instances_queue_and_run_each_scheduled_fire_time_once() {
    let db = TestDb::new().await;
    let every = vec![Schedule::new("prune-jobs", "jobs.prune", "* * * * * *").unwrap()];
    let sealer =
        std::sync::Arc::new(store::sealing::Sealer::new(Some(&"5e".repeat(32)), None).unwrap());
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let runners: Vec<Runner> = (0..2)
        .map(|_| {
            let mailer = Mailer::new(
                None,
                "devpulse <devpulse@localhost>",
                Path::new("/nonexistent"),
                false,
            )
            .unwrap();
            Runner::start(
                jobs::Context {
                    store: db.store.clone(),
                    mailer,
                    alerts: evaluator(&db, &sealer),
                    reports: reporter(&db, &sealer),
                    outbound: OUTBOUND,
                    http: OUTBOUND.client().unwrap(),
                    sealer: sealer.clone(),
                },
                quick(every.clone()),
                stop.clone(),
            )
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let leaders = runners
        .iter()
        .filter(|r| r.scheduling.load(std::sync::atomic::Ordering::Relaxed))
        .count();
    assert_eq!(leaders, 1, "one scheduler at a time");
    stop_tx.send(true).unwrap();
    for r in runners {
        r.stopped().await;
    }
    let rows: Vec<(String, String, i32)> = sqlx::query_as(
        "SELECT dedupe_key, state, attempts FROM jobs WHERE kind = 'jobs.prune' ORDER BY id",
    )
    .fetch_all(db.store.pool())
    .await
    .unwrap();
    // One a second over 3.5 s; the last may have been queued just before the stop.
    assert!((3..=5).contains(&rows.len()), "one per second: {rows:?}");
    let done = rows.iter().filter(|r| r.1 == "done").count();
    assert!(done >= 3, "{rows:?}");
    for (key, state, attempts) in &rows {
        assert!(key.starts_with("prune-jobs@"));
        match state.as_str() {
            "done" => assert_eq!(*attempts, 1, "{key} ran once"),
            "queued" => assert_eq!(*attempts, 0, "{key} not yet run"),
            other => panic!("{key} is {other}"),
        }
    }
}

#[tokio::test]
async fn a_list_with_bad_lines_invites_nobody_until_fixed_then_everyone_by_email() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_path_buf();
    let server = TestServer::start_with(|c| c.data_dir = dir).await;
    seed_two_tenants(&server).await;
    let admin = login(&server, "demo", "admin@demo.test", "demo-admin-pass").await;
    let outbox = data.path().join("outbox");
    let (status, team) = call(
        &server,
        Method::POST,
        "/api/v1/teams",
        Some(&admin),
        Some(json!({ "name": "Guild" })),
    )
    .await;
    assert_eq!(status, 201, "{team}");

    let bad = "email,name,role,team\n\
               ann@demo.test,Ann,manager,Guild\n\
               dev@demo.test,Already Here,developer,\n\
               cy@demo.test,Cy,wizard,\n\
               dee@demo.test,Dee,,Nowhere\n";
    let (status, checked) = call(
        &server,
        Method::POST,
        "/api/v1/users/bulk-invite",
        Some(&admin),
        Some(json!({ "csv": bad, "send": true })),
    )
    .await;
    assert_eq!(status, 200, "{checked}");
    assert_eq!(checked["invited"], 0);
    let problems: Vec<(i64, String)> = checked["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["problems"].as_array().unwrap().is_empty())
        .map(|r| {
            (
                r["line"].as_i64().unwrap(),
                r["problems"][0].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert_eq!(
        problems[0],
        (3, "dev@demo.test already has an account here".into())
    );
    assert!(problems[1].1.starts_with("role \"wizard\""));
    assert_eq!(problems[2], (5, "there is no team \"Nowhere\"".into()));
    let (_, users) = call(&server, Method::GET, "/api/v1/users", Some(&admin), None).await;
    assert!(
        !users.to_string().contains("ann@demo.test"),
        "nobody was invited"
    );

    // A row without a role takes the workspace's default.
    let (status, body) = call(
        &server,
        Method::PUT,
        "/api/v1/settings/people",
        Some(&admin),
        Some(json!({ "default_role": "viewer" })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let good = "email,name,role,team\n\
                ann@demo.test,Ann,manager,Guild\n\
                cy@demo.test,Cy,viewer,\n\
                dee@demo.test,Dee,,guild\n";
    let (status, done) = call(
        &server,
        Method::POST,
        "/api/v1/users/bulk-invite",
        Some(&admin),
        Some(json!({ "csv": good, "send": true })),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["invited"], 3);
    let mail = wait_for(|| files(&outbox, ".eml"), 3).await;
    let mut to: Vec<&str> = mail.iter().map(|m| header(m, "To")).collect();
    to.sort();
    assert_eq!(to, ["ann@demo.test", "cy@demo.test", "dee@demo.test"]);
    let (_, team) = call(
        &server,
        Method::GET,
        &format!("/api/v1/teams/{}", team["id"].as_str().unwrap()),
        Some(&admin),
        None,
    )
    .await;
    let members: Vec<&str> = team["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(members.len(), 2, "{team}");
    let (_, users) = call(&server, Method::GET, "/api/v1/users", Some(&admin), None).await;
    let role_of = |users: &Value, email: &str| {
        users
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == email)
            .map(|u| u["role"].clone())
    };
    assert_eq!(role_of(&users, "dee@demo.test"), Some(json!("viewer")));
    assert_eq!(role_of(&users, "ann@demo.test"), Some(json!("manager")));
    // So does one invited through the API without a role.
    let (status, made) = call(
        &server,
        Method::POST,
        "/api/v1/users",
        Some(&admin),
        Some(json!({ "email": "eve@demo.test" })),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["user"]["role"], "viewer");

    // One change for several people: all in force at once, sessions ended.
    let dev = login(&server, "demo", "dev@demo.test", "demo-developer-pass").await;
    let viewer = login(&server, "demo", "viewer@demo.test", "demo-viewer-pass").await;
    let ids = vec![
        crate::common::user_id(&server, &admin, "dev@demo.test").await,
        crate::common::user_id(&server, &admin, "viewer@demo.test").await,
    ];
    let (status, changed) = call(
        &server,
        Method::POST,
        "/api/v1/users/bulk",
        Some(&admin),
        Some(json!({ "ids": ids, "action": "role", "role": "manager" })),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert!(changed
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["role"] == "manager"));
    for token in [&dev, &viewer] {
        let (status, _) = call(&server, Method::GET, "/api/v1/profile", Some(token), None).await;
        assert_eq!(status, 401);
    }
    let (status, changed) = call(
        &server,
        Method::POST,
        "/api/v1/users/bulk",
        Some(&admin),
        Some(json!({ "ids": ids, "action": "deactivate" })),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert!(changed
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["active"] == false));
    let (status, _) = call(
        &server,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({ "tenant": "demo", "email": "dev@demo.test", "password": "demo-developer-pass" })),
    )
    .await;
    assert_eq!(status, 401);
    // Someone of another workspace in the list: nothing changes for anyone.
    let other = crate::common::other_tenant(&server).await;
    let (status, _) = call(
        &server,
        Method::POST,
        "/api/v1/users/bulk",
        Some(&admin),
        Some(json!({ "ids": [ids[0], other.user_id], "action": "reactivate" })),
    )
    .await;
    assert_eq!(status, 404);
    let (_, users) = call(&server, Method::GET, "/api/v1/users", Some(&admin), None).await;
    let dev_row = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "dev@demo.test")
        .unwrap();
    assert_eq!(dev_row["active"], false, "all or none");
}

/// What the job runner evaluates alert rules with, on a bus of its own.
fn evaluator(
    db: &TestDb,
    sealer: &std::sync::Arc<store::sealing::Sealer>,
) -> server::alerts::Evaluator {
    let bus = server::bus::Bus::start(None, db.store.answers().clone());
    server::alerts::Evaluator::new(db.store.clone(), sealer.clone(), bus, "http://localhost")
}

fn reporter(
    db: &TestDb,
    sealer: &std::sync::Arc<store::sealing::Sealer>,
) -> server::reports::Reporter {
    server::reports::Reporter::new(
        db.store.clone(),
        sealer.clone(),
        server::reports::pdf::Printer::new(None, std::path::Path::new("target/site")),
        "http://localhost",
    )
}

/// Webhooks go where the tests' receivers are: on loopback.
const OUTBOUND: server::outbound::Policy = server::outbound::Policy {
    allow_private: true,
};
