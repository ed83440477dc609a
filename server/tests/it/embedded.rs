//! The real binary with no DATABASE_URL: it starts its own PostgreSQL, survives the database
//! going away, stops it on SIGTERM, and reuses the data on the next start.

use std::{
    io::{BufRead, BufReader},
    os::unix::fs::PermissionsExt,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use store::embedded::{EmbeddedConfig, EmbeddedPostgres};

struct Running {
    child: Child,
    base: String,
    /// Everything the server printed on stdout, as it arrives.
    printed: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

fn start(data_dir: &Path) -> Running {
    start_with(data_dir, &[])
}

fn start_with(data_dir: &Path, env: &[(&str, &str)]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .env_remove("DATABASE_URL")
        .env("DEVPULSE_DATA_DIR", data_dir)
        .env("PORT", "0")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn server");
    let stdout = child.stdout.take().unwrap();
    let printed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let lines = printed.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("devpulse listening on ") {
                let _ = tx.send(url.to_string());
            }
            lines.lock().unwrap().push(line);
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("server prints its URL");
    Running {
        child,
        base,
        printed,
    }
}

fn sigterm(mut running: Running) {
    unsafe { libc::kill(running.child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = running.child.try_wait().unwrap() {
            assert!(
                status.success(),
                "server exits cleanly on SIGTERM: {status}"
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "server stops within 60s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn status_of(base: &str, path: &str) -> u16 {
    reqwest::get(format!("{base}{path}"))
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

async fn wait_for_status(base: &str, path: &str, want: u16, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let got = status_of(base, path).await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{path} answered {got}, wanted {want}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn embedded_database_lifecycle() {
    let tmp = tempfile::Builder::new()
        .prefix("devpulse-embedded-")
        .tempdir()
        .unwrap();
    // PostgreSQL runs as the `postgres` user when we are root: it must reach the directory.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data_dir = tmp.path().join("data");
    let cluster = EmbeddedConfig {
        data_dir: data_dir.join("postgres"),
        ephemeral: false,
    };

    let server = start(&data_dir);
    wait_for_status(&server.base, "/readyz", 200, Duration::from_secs(30)).await;

    // Leave a mark in the database to find after a restart.
    let pg = EmbeddedPostgres::start(&cluster).unwrap();
    assert!(
        !pg.started_here(),
        "the server's cluster is reused, not started twice"
    );
    let pool = sqlx::PgPool::connect_with(pg.connect_options("devpulse"))
        .await
        .unwrap();
    store::tenants::create(
        &pool,
        &store::audit::Actor::cli(),
        &store::Slug::parse("keepme").unwrap(),
        "Keep me",
    )
    .await
    .unwrap();
    pool.close().await;

    // The database goes away under a running server: not ready, but alive...
    pg.stop().unwrap();
    wait_for_status(&server.base, "/readyz", 503, Duration::from_secs(15)).await;
    assert_eq!(status_of(&server.base, "/healthz").await, 200);
    // ...and ready again when it is back, without a restart.
    let pg = EmbeddedPostgres::start(&cluster).unwrap();
    assert!(pg.started_here());
    wait_for_status(&server.base, "/readyz", 200, Duration::from_secs(30)).await;
    // The server did not start this cluster instance, so it must leave it running.
    pg.stop().unwrap();
    wait_for_status(&server.base, "/readyz", 503, Duration::from_secs(15)).await;
    sigterm(server);
    assert!(!data_dir.join("postgres/postmaster.pid").exists());

    // A fresh start starts the cluster itself...
    let server = start(&data_dir);
    wait_for_status(&server.base, "/readyz", 200, Duration::from_secs(30)).await;
    let html = reqwest::get(format!("{}/status", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"id="status-database">reachable<"#),
        "{html}"
    );
    // ...and finds the data of the previous run: the demo tenant (seeded on first start, the
    // server listening on loopback) and ours.
    let pg = EmbeddedPostgres::start(&cluster).unwrap();
    assert!(!pg.started_here());
    let pool = sqlx::PgPool::connect_with(pg.connect_options("devpulse"))
        .await
        .unwrap();
    let slugs: Vec<String> = sqlx::query_scalar("SELECT slug FROM tenants ORDER BY slug")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(slugs, ["demo", "keepme"]);
    pool.close().await;
    sigterm(server);
    // SIGTERM stopped PostgreSQL cleanly: no postmaster left, shut down in the control file.
    assert!(!data_dir.join("postgres/postmaster.pid").exists());
    let pg = EmbeddedPostgres::start(&cluster).unwrap();
    assert!(pg.started_here());
    pg.stop().unwrap();
}

/// The demo workspace's passwords are in the README: a server other hosts can reach must not
/// have them, and no install ever has a super admin whose password is published.
#[tokio::test(flavor = "multi_thread")]
async fn demo_accounts_only_on_loopback_and_the_super_admin_password_is_generated() {
    let tmp = tempfile::Builder::new()
        .prefix("devpulse-exposed-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let exposed = tmp.path().join("exposed");
    let server = start_with(&exposed, &[("HOST", "0.0.0.0")]);
    wait_for_status(&server.base, "/readyz", 200, Duration::from_secs(30)).await;
    let printed = server.printed.lock().unwrap().join("\n");
    assert!(!printed.contains("Demo workspace"), "{printed}");
    let login = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&serde_json::json!({ "tenant": "demo", "email": "admin@demo.test", "password": "demo-admin-pass" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 401);
    sigterm(server);
    let users = count_rows(&exposed, "SELECT count(*) FROM users").await;
    let tenants = count_rows(&exposed, "SELECT count(*) FROM tenants").await;
    assert_eq!((users, tenants), (0, 0));

    // On loopback the demo is there, and the super admin's password is the one printed.
    let local = tmp.path().join("local");
    let server = start(&local);
    wait_for_status(&server.base, "/readyz", 200, Duration::from_secs(30)).await;
    let printed = server.printed.lock().unwrap().clone();
    let root_line = printed
        .iter()
        .find(|l| l.contains("root@devpulse.test"))
        .unwrap_or_else(|| panic!("{printed:?}"));
    let password = root_line.split_whitespace().last().unwrap().to_string();
    assert_ne!(password, "demo-superadmin-pass");
    assert!(password.len() >= 12, "{password}");
    for (tenant, email, password, want) in [
        ("", "root@devpulse.test", password.as_str(), 200),
        ("", "root@devpulse.test", "demo-superadmin-pass", 401),
        ("demo", "admin@demo.test", "demo-admin-pass", 200),
    ] {
        let r = reqwest::Client::new()
            .post(format!("{}/api/v1/auth/login", server.base))
            .json(&serde_json::json!({ "tenant": tenant, "email": email, "password": password }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), want, "{email} with {password}");
    }
    sigterm(server);
}

/// Starts the stopped cluster under `data_dir` just long enough to count.
async fn count_rows(data_dir: &Path, sql: &str) -> i64 {
    let pg = EmbeddedPostgres::start(&EmbeddedConfig {
        data_dir: data_dir.join("postgres"),
        ephemeral: false,
    })
    .unwrap();
    let pool = sqlx::PgPool::connect_with(pg.connect_options("devpulse"))
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
    pool.close().await;
    pg.stop().unwrap();
    n
}
