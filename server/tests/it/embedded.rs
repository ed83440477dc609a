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
}

fn start(data_dir: &Path) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .env_remove("DATABASE_URL")
        .env("DEVPULSE_DATA_DIR", data_dir)
        .env("PORT", "0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn server");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("devpulse listening on ") {
                let _ = tx.send(url.to_string());
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("server prints its URL");
    Running { child, base }
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
    // ...and finds the data of the previous run.
    // The demo tenant (seeded on first start) and ours.
    assert!(html.contains(r#"id="status-tenants">2<"#), "{html}");
    assert!(html.contains("devpulse (embedded)"));
    sigterm(server);
    // SIGTERM stopped PostgreSQL cleanly: no postmaster left, shut down in the control file.
    assert!(!data_dir.join("postgres/postmaster.pid").exists());
    let pg = EmbeddedPostgres::start(&cluster).unwrap();
    assert!(pg.started_here());
    pg.stop().unwrap();
}
