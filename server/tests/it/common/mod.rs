//! A real server on a free port, over a fresh database of its own.

pub mod fixtures;
pub mod laptop;

use std::net::SocketAddr;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use server::{database::Database, Config};
use store::testing::TestDb;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

static SERVERS: std::sync::LazyLock<tokio::runtime::Runtime> = std::sync::LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("test-servers")
        .enable_all()
        .build()
        .expect("test server runtime")
});

pub const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

pub struct TestServer {
    pub addr: SocketAddr,
    /// Shared by the instances of a multi-instance test (`start_sharing`).
    pub db: std::sync::Arc<TestDb>,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let db = TestDb::new().await;
        let env = db.server_env();
        Self::start_on(std::sync::Arc::new(db), env, tweak).await
    }

    /// Through PgBouncer in transaction mode, whatever `DEVPULSE_TEST_POOLER` says.
    pub async fn start_pooled() -> TestServer {
        let db = TestDb::new().await;
        let env = db.pooled_env();
        Self::start_on(std::sync::Arc::new(db), env, |_| {}).await
    }

    /// A second instance on this one's database, as behind a load balancer.
    pub async fn start_sharing(&self, tweak: impl FnOnce(&mut Config)) -> TestServer {
        Self::start_on(self.db.clone(), self.db.server_env(), tweak).await
    }

    async fn start_on(
        db: std::sync::Arc<TestDb>,
        database: Vec<(&'static str, String)>,
        tweak: impl FnOnce(&mut Config),
    ) -> TestServer {
        let mut config = Config::from_lookup(|k| match k {
            "DATABASE_URL" | "DATABASE_DIRECT_URL" => database
                .iter()
                .find(|(var, _)| *var == k)
                .map(|(_, v)| v.clone()),
            "PORT" => Some("0".into()),
            "DATABASE_MAX_CONNECTIONS" => Some("5".into()),
            "DEVPULSE_JWT_KEYS" => Some(format!("test:{TEST_JWT_SECRET}")),
            // Sealing single sign-on secrets, without a key file in the working directory.
            "DEVPULSE_SECRET_KEY" => Some("5e".repeat(32)),
            // Tests send fast; the rate-limit test sets its own, low limits.
            "DEVPULSE_INGEST_KEY_RPS" => Some("100000".into()),
            // Tests sign in many times a second; the throttling tests set their own ceiling.
            "DEVPULSE_LOGIN_ATTEMPTS_PER_SEC" => Some("1000".into()),
            _ => None,
        })
        .expect("test config");
        tweak(&mut config);
        let (tx, rx) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = oneshot::channel();
        // Every test server runs on one runtime that lives as long as the test process. Each
        // #[tokio::test] has its own runtime, dropped when the test ends; Leptos's rendering
        // spawns through a process-wide executor, so a page rendered by one test's server
        // could otherwise wait on a runtime another, finished test has already dropped.
        // Opening runs migrations, whose future is not Send: drive it on a blocking thread,
        // with the shared runtime's I/O, so the pool's connections belong to that runtime.
        let rt = SERVERS.handle().clone();
        let (config, database) = tokio::task::spawn_blocking(move || {
            let database = rt.block_on(Database::open(&config)).expect("open database");
            (config, database)
        })
        .await
        .expect("open database");
        let handle = SERVERS.spawn(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let _ = ready_tx.send(listener.local_addr().unwrap());
            server::serve(listener, &config, &database, async move {
                let _ = rx.await;
            })
            .await
            .expect("server runs");
            database.close().await;
        });
        let addr = ready_rx.await.expect("test server starts");
        TestServer {
            addr,
            db,
            stop: Some(tx),
            handle: Some(handle),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Graceful shutdown, as on SIGTERM; returns once the server has stopped.
    pub async fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            tokio::time::timeout(std::time::Duration::from_secs(20), h)
                .await
                .expect("server stops within 20s")
                .unwrap();
        }
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // A request the server never answers fails the test in a minute instead of holding
        // the whole run (seen once in a fresh-clone run; not reproduced since).
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Signs in through the API and returns the access token.
pub async fn login(server: &TestServer, tenant: &str, email: &str, password: &str) -> String {
    let r = client()
        .post(server.url("/api/v1/auth/login"))
        .json(&serde_json::json!({ "tenant": tenant, "email": email, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "login {email}: {}",
        r.text().await.unwrap()
    );
    let body: serde_json::Value = r.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

/// The demo tenant (`demo`, four roles) and a second tenant `other` with one user of each role.
pub async fn seed_two_tenants(server: &TestServer) {
    server::tenancy::seed_demo(&server.db.store, Some("demo-superadmin-pass".into()))
        .await
        .unwrap()
        .expect("fresh database");
    let actor = store::audit::Actor::cli();
    let p = server::tenancy::provision(
        &server.db.store,
        &store::Slug::parse("other").unwrap(),
        "Other",
        &store::Email::parse("admin@other.test").unwrap(),
        Some("other-admin-pass".into()),
        &actor,
    )
    .await
    .unwrap();
    for (email, role) in [
        ("manager@other.test", store::Role::Manager),
        ("dev@other.test", store::Role::Developer),
        ("viewer@other.test", store::Role::Viewer),
    ] {
        server::tenancy::create_user(
            &server.db.store,
            &p.tenant,
            &store::Email::parse(email).unwrap(),
            "",
            role,
            Some(format!("{}-pass-12345", role.as_str())),
            &actor,
        )
        .await
        .unwrap();
    }
}

/// One API call; the body comes back as JSON (`Null` when empty or not JSON).
pub async fn call(
    server: &TestServer,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = client().request(method, server.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A server function called as a page calls it: a form post, here with a bearer session.
pub async fn server_fn(
    server: &TestServer,
    token: &str,
    endpoint: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let r = client()
        .post(server.url(&format!("/api/{endpoint}")))
        .bearer_auth(token)
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// The id of the person with this e-mail, as a tenant admin sees them.
pub async fn user_id(server: &TestServer, admin: &str, email: &str) -> String {
    let (_, users) = call(server, Method::GET, "/api/v1/users", Some(admin), None).await;
    users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == email)
        .unwrap_or_else(|| panic!("no {email} in {users}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Resources of tenant `other` (after `seed_two_tenants`) that nobody in `demo` may reach.
pub struct OtherTenant {
    pub admin: String,
    pub user_id: String,
    pub key_id: String,
    pub team_id: String,
    /// A workspace board.
    pub board_id: String,
    /// An import batch of its admin's.
    pub batch_id: String,
}

pub async fn other_tenant(server: &TestServer) -> OtherTenant {
    let admin = login(server, "other", "admin@other.test", "other-admin-pass").await;
    let user_id = user_id(server, &admin, "dev@other.test").await;
    let (_, key) = call(
        server,
        Method::POST,
        "/api/v1/api-keys",
        Some(&admin),
        Some(serde_json::json!({ "name": "theirs", "scopes": ["read"] })),
    )
    .await;
    let (_, team) = call(
        server,
        Method::POST,
        "/api/v1/teams",
        Some(&admin),
        Some(serde_json::json!({ "name": "Theirs" })),
    )
    .await;
    let (_, board) = call(
        server,
        Method::POST,
        "/api/v1/dashboard/config",
        Some(&admin),
        Some(
            serde_json::json!({ "name": "Theirs", "document": { "widgets": [] },
                                 "workspace": true }),
        ),
    )
    .await;
    let (_, ingest) = call(
        server,
        Method::POST,
        "/api/v1/api-keys",
        Some(&admin),
        Some(serde_json::json!({ "name": "importer", "scopes": ["ingest"] })),
    )
    .await;
    let (_, batch) = call(
        server,
        Method::POST,
        "/api/v1/imports",
        ingest["key"].as_str(),
        Some(serde_json::json!({ "source": "devpulse import", "host": "theirs" })),
    )
    .await;
    OtherTenant {
        batch_id: batch["id"].as_str().expect("a batch").to_string(),
        admin,
        user_id,
        key_id: key["api_key"]["id"].as_str().unwrap().to_string(),
        team_id: team["id"].as_str().unwrap().to_string(),
        board_id: board["id"].as_str().expect("a board").to_string(),
    }
}

/// The Python of `.data/venv-py`, where scripts/setup.sh installs the real clients the tests
/// drive (the OpenTelemetry SDK, the MCP client).
/// The server crate's directory in the checkout running the tests. Read at run time (cargo
/// sets it): a test binary reused from the shared target directory by a checkout elsewhere
/// must read that checkout's files, not the path baked in when it was built.
pub fn server_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
        .into()
}

pub fn python() -> std::path::PathBuf {
    let p = server_dir().join("../.data/venv-py/bin/python");
    assert!(
        p.exists(),
        "{} is missing: `make test` (scripts/setup.sh) installs the Python clients there",
        p.display()
    );
    p
}

/// Every action recorded anywhere in the installation (each workspace's log and the
/// registry's) is one the audit viewer offers (`types::audit::ACTIONS`, kept by hand).
pub async fn assert_actions_listed(server: &TestServer) {
    let pool = server.db.store.pool();
    let schemas: Vec<String> = sqlx::query_scalar(
        "SELECT table_schema::text FROM information_schema.tables WHERE table_name = 'audit_log'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for schema in schemas {
        let actions: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT DISTINCT action FROM \"{schema}\".audit_log"
        ))
        .fetch_all(pool)
        .await
        .unwrap();
        for action in actions {
            assert!(
                types::audit::ACTIONS.contains(&action.as_str()),
                "{action} (in {schema}) is missing from types::audit::ACTIONS"
            );
        }
    }
}

/// The real binary on a test database, on a free port, with `tweak`'s environment (and
/// stderr); its base URL once it listens. Its stdout is read to the end, so it never blocks.
pub fn real_server(
    db: &store::testing::TestDb,
    tweak: impl FnOnce(&mut std::process::Command),
) -> (std::process::Child, String) {
    let database = db.server_env();
    real_server_on(db.url(), |c| {
        c.envs(database);
        tweak(c)
    })
}

/// [`real_server`] on the database at `url`.
pub fn real_server_on(
    url: &str,
    tweak: impl FnOnce(&mut std::process::Command),
) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_server"));
    command
        .env("DATABASE_URL", url)
        .env("PORT", "0")
        .stdout(std::process::Stdio::piped());
    tweak(&mut command);
    let mut child = command.spawn().expect("spawn server");
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
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("server prints its URL");
    (child, base)
}

/// A Node program of the tests' (an identity provider, a DNS server: `end2end/<script>`),
/// started with `env` and ready (it printed READY); stopped when dropped.
pub struct NodeHelper(std::process::Child);

impl NodeHelper {
    /// `package`: the npm package it needs, named in the message when `make test` has not
    /// installed it.
    pub fn start(script: &str, package: &str, env: &[(&str, String)]) -> NodeHelper {
        use std::io::BufRead;
        assert!(
            server_dir().join("../node_modules").join(package).exists(),
            "node_modules/{package} is missing: `make test` (scripts/setup.sh) installs it"
        );
        let mut child = std::process::Command::new("node")
            .arg(server_dir().join("../end2end").join(script))
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("node runs");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "READY", "{script} starts");
        NodeHelper(child)
    }
}

impl Drop for NodeHelper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port nothing listens on now, for a helper to take.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
