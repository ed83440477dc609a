//! What the benchmark programs share: a fresh tenant with an ingest key to measure through,
//! and (`fill`) one full of activity.

#[allow(dead_code)]
pub mod fill;
#[allow(dead_code)]
pub mod heap;

/// A benchmark server's configuration: the embedded cluster under `data_dir` (or
/// `DATABASE_URL`), no demo, and `extra` over the defaults.
#[allow(dead_code)]
pub fn config(data_dir: &str, extra: &[(&str, &str)]) -> server::Config {
    let data_dir = data_dir.to_string();
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    server::Config::from_lookup(|k| {
        if let Some((_, v)) = extra.iter().find(|(name, _)| name == k) {
            return Some(v.clone());
        }
        match k {
            "DEVPULSE_DATA_DIR" => Some(data_dir.clone()),
            "DATABASE_URL" => std::env::var("DATABASE_URL").ok(),
            "DEVPULSE_DEMO" => Some("0".into()),
            _ => None,
        }
    })
    .expect("config")
}

/// The whole number after `name` on the command line, or `default`.
#[allow(dead_code)]
pub fn flag(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        None => default,
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.replace('_', "").parse().ok())
            .unwrap_or_else(|| panic!("{name} takes a whole number")),
    }
}

/// The password of everyone the benches make (bench@bench.test and the others).
#[allow(dead_code)]
pub const PASSWORD: &str = "bench-password-123";

/// An access token for `email` in workspace `slug`, signed in through the API.
#[allow(dead_code)]
pub async fn sign_in(http: &reqwest::Client, base: &str, slug: &str, email: &str) -> String {
    let r: serde_json::Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({ "tenant": slug, "email": email, "password": PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{email}: {r}"))
        .to_string()
}

/// A tenant named `<prefix><now in ms>` (so runs against one database do not collide) whose
/// admin holds an ingest key; returns the tenant, its slug and the key.
pub async fn tenant_with_key(
    db: &server::database::Database,
    prefix: &str,
) -> (store::Tenant, String, String) {
    let slug = format!("{prefix}{}", chrono::Utc::now().timestamp_millis());
    let actor = store::audit::Actor::cli();
    let email = store::Email::parse("bench@bench.test").unwrap();
    let p = server::tenancy::provision(
        &db.store,
        &store::Slug::parse(&slug).unwrap(),
        "Bench",
        &email,
        Some(PASSWORD.into()),
        &actor,
    )
    .await
    .expect("tenant");
    let key = server::tenancy::create_api_key(
        &db.store,
        &p.tenant,
        &email,
        "bench",
        &[store::api_keys::Scope::Ingest],
        &actor,
    )
    .await
    .expect("key");
    (p.tenant, slug, key)
}

/// The nearest-rank `p` quantile (0.5, 0.99) of sorted durations; zero for none.
#[allow(dead_code)]
pub fn percentile(sorted: &[std::time::Duration], p: f64) -> std::time::Duration {
    if sorted.is_empty() {
        return std::time::Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// A process's resident memory in KiB (Linux), 0 when it cannot be read.
#[allow(dead_code)]
pub fn rss_kib(pid: u32) -> i64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The child side of a benchmark that runs the server in a process of its own (the
/// benchmark's binary started with `--serve`): serves `config` on a free port, printing
/// `listening <addr>` for the parent.
#[allow(dead_code)]
pub async fn serve(config: &server::Config) {
    server::no_huge_pages().expect("transparent huge pages off, as in the server's main");
    let db = server::database::Database::open(config)
        .await
        .expect("database");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("listening {}", listener.local_addr().unwrap());
    server::serve(listener, config, &db, std::future::pending())
        .await
        .expect("serve");
}

/// The parent side: this binary again with `--serve` on `data_dir` (and `env`), killed when
/// dropped; its base URL and pid once it listens.
#[allow(dead_code)]
pub async fn spawn_server(
    data_dir: &str,
    env: &[(&str, &str)],
) -> (tokio::process::Child, String, u32) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .arg("--serve")
        .env("DEVPULSE_BENCH_DATA_DIR", data_dir)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("server");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next_line().await.unwrap().expect("server output");
        if let Some(a) = line.strip_prefix("listening ") {
            break a.to_string();
        }
    };
    // The child writes on: its stdout stays read, or its next line would break the pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let pid = child.id().expect("pid");
    (child, format!("http://{addr}"), pid)
}

/// An empty data directory: a cluster an interrupted run left running on it is stopped
/// first (deleting a live cluster's directory makes it remove the next one's socket).
#[allow(dead_code)]
pub fn fresh(data_dir: &str) {
    let _ = std::process::Command::new("scripts/pg.sh")
        .args(["stop", &format!("{data_dir}/postgres")])
        .status();
    let _ = std::fs::remove_dir_all(data_dir);
}

/// An ingest key of the filled tenant's admin (bench@bench.test).
#[allow(dead_code)]
pub async fn ingest_key(
    db: &server::database::Database,
    tenant: &store::Tenant,
    name: &str,
) -> String {
    server::tenancy::create_api_key(
        &db.store,
        tenant,
        &store::Email::parse("bench@bench.test").unwrap(),
        name,
        &[store::api_keys::Scope::Ingest],
        &store::audit::Actor::cli(),
    )
    .await
    .expect("key")
}
