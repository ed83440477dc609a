//! MCP benchmark: the real server as a child process over a filled tenant, then each MCP tool
//! called one after another (the way an assistant calls them), `--calls` times:
//!
//! - over Streamable HTTP (`POST /mcp`, one keep-alive connection, an API key as bearer);
//! - over stdio through the collector (`devpulse mcp`), which forwards to the server;
//! - over stdio with the server out of reach, where `query_dashboard` answers from the
//!   laptop's own transcripts (a copy of testdata/fixtures/home-ana).
//!
//! Prints p50 and p99 per tool and each p99 against the baseline measured in the same run on
//! the same transport: MCP `ping` (the protocol's round trip with no tool behind it).
//!
//!     cargo run --release -p server --example mcp-bench
//!     cargo run --release -p server --example mcp-bench -- --calls 200 --events 20000
//!
//! Prints figures only; it asserts nothing about speed.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use serde_json::{json, Value};
use server::Config;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

mod common;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn config(data_dir: &str) -> Config {
    common::config(data_dir, &[("DEVPULSE_INGEST_KEY_RPS", "10000000")])
}

/// The calls measured, in the order an assistant would make them; `n` keeps the recorded
/// sessions apart.
fn calls(n: u64) -> Vec<(&'static str, Value)> {
    let sid = format!("mcp-bench-{n}");
    vec![
        (
            "record_session_start",
            json!({ "session_id": sid, "cwd": "/bench" }),
        ),
        (
            "record_tool_usage",
            json!({ "tool_name": "Bash", "session_id": sid, "success": true, "duration_ms": 12 }),
        ),
        (
            "record_session_end",
            json!({ "session_id": sid, "reason": "logout" }),
        ),
        (
            "get_session_metrics",
            json!({ "timeframe": "24h", "limit": 10 }),
        ),
        ("get_tool_metrics", json!({ "timeframe": "7d" })),
        ("query_dashboard", json!({ "timeframe": "7d" })),
    ]
}

fn request(id: u64, name: &str, arguments: &Value) -> Value {
    if name == "ping" {
        return json!({ "jsonrpc": "2.0", "id": id, "method": "ping" });
    }
    json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": { "name": name, "arguments": arguments } })
}

/// An answer that is a result, and for a tool, not a tool error.
fn check(name: &str, answer: &Value) {
    assert!(
        answer.get("result").is_some() && answer["result"]["isError"] != true,
        "{name} failed: {answer}"
    );
}

/// One transport: sends a request, answers its response.
trait Transport {
    async fn call(&mut self, body: &Value) -> Value;
}

struct Http {
    client: reqwest::Client,
    url: String,
    key: String,
}

impl Transport for Http {
    async fn call(&mut self, body: &Value) -> Value {
        let r = self
            .client
            .post(&self.url)
            .bearer_auth(&self.key)
            .header("accept", "application/json, text/event-stream")
            .json(body)
            .send()
            .await
            .expect("POST /mcp");
        assert!(r.status().is_success(), "POST /mcp: {}", r.status());
        r.json().await.expect("a JSON answer")
    }
}

struct StdioMcp {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl StdioMcp {
    /// `devpulse mcp` on a laptop at `home`, initialised.
    async fn start(bin: &Path, home: &Path) -> StdioMcp {
        let mut child = tokio::process::Command::new(bin)
            .arg("mcp")
            .env("HOME", home)
            .env("DEVPULSE_CONFIG_DIR", home.join("config"))
            .env("DEVPULSE_DATA_DIR", home.join("data"))
            .env("TZ", "UTC")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("devpulse mcp");
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut s = StdioMcp {
            child,
            stdin,
            lines,
        };
        let init = s
            .call(
                &json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": { "name": "mcp-bench", "version": "1" } } }),
            )
            .await;
        assert!(init.get("result").is_some(), "initialize: {init}");
        s.send(&json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }))
            .await;
        s
    }

    async fn send(&mut self, body: &Value) {
        let mut line = body.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
    }
}

impl Transport for StdioMcp {
    async fn call(&mut self, body: &Value) -> Value {
        self.send(body).await;
        loop {
            let line = self
                .lines
                .next_line()
                .await
                .unwrap()
                .expect("devpulse mcp answers");
            let v: Value = serde_json::from_str(&line).expect("a JSON-RPC line");
            // Notifications (logging) may come between; the answer carries the id.
            if v.get("id") == body.get("id") {
                return v;
            }
        }
    }
}

/// `names` called `n` times each, round robin after 20 unmeasured rounds; sorted latencies
/// per name.
async fn measure<T: Transport>(t: &mut T, names: &[&str], n: u64) -> Vec<(String, Vec<Duration>)> {
    let mut out: Vec<(String, Vec<Duration>)> =
        names.iter().map(|s| (s.to_string(), Vec::new())).collect();
    let mut id = 1;
    for round in 0..n + 20 {
        let asked = calls(round);
        for (i, name) in names.iter().enumerate() {
            let args = asked
                .iter()
                .find(|(c, _)| c == name)
                .map(|(_, a)| a.clone())
                .unwrap_or(Value::Null);
            id += 1;
            let body = request(id, name, &args);
            let at = Instant::now();
            let answer = t.call(&body).await;
            let took = at.elapsed();
            check(name, &answer);
            if round >= 20 {
                out[i].1.push(took);
            }
        }
    }
    for (_, l) in &mut out {
        l.sort();
    }
    out
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn print(title: &str, rows: &[(String, Vec<Duration>)]) {
    let base = rows
        .iter()
        .find(|(n, _)| n == "ping")
        .map(|(_, l)| common::percentile(l, 0.99))
        .unwrap_or_default();
    println!("\n{title}");
    println!(
        "{:<24} {:>7} {:>9} {:>9} {:>12}",
        "call", "n", "p50 ms", "p99 ms", "p99 / ping"
    );
    for (name, l) in rows {
        let p99 = common::percentile(l, 0.99);
        println!(
            "{:<24} {:>7} {:>9.2} {:>9.2} {:>11.1}×",
            if name == "ping" {
                "ping (baseline)"
            } else {
                name
            },
            l.len(),
            ms(common::percentile(l, 0.5)),
            ms(p99),
            p99.as_secs_f64() / base.as_secs_f64().max(1e-9)
        );
    }
}

/// The collector next to this binary's profile, built first (it is another package).
fn collector() -> PathBuf {
    if let Ok(bin) = std::env::var("DEVPULSE_COLLECTOR_BIN") {
        return bin.into();
    }
    let mut build = std::process::Command::new(env!("CARGO"));
    build.args(["build", "-q", "-p", "collector", "--bin", "devpulse"]);
    if !cfg!(debug_assertions) {
        build.arg("--release");
    }
    assert!(
        build.status().expect("cargo").success(),
        "building the collector"
    );
    // target/<profile>/examples/mcp-bench → target/<profile>/devpulse
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("devpulse")
}

/// A laptop directory: configuration for `server` with `key`, and (`transcripts`) a copy of
/// a fixture developer's Claude Code transcripts.
fn laptop(dir: &Path, server: &str, key: &str, transcripts: bool) {
    std::fs::create_dir_all(dir.join("config")).unwrap();
    std::fs::write(
        dir.join("config/config.json"),
        json!({ "server": server, "key": key, "mode": "remote" }).to_string(),
    )
    .unwrap();
    if transcripts {
        let status = std::process::Command::new("cp")
            .args(["-r", "testdata/fixtures/home-ana/.claude"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(status.success(), "copying the fixture transcripts");
    }
}

#[tokio::main]
async fn main() {
    let data_dir =
        std::env::var("DEVPULSE_BENCH_DATA_DIR").unwrap_or_else(|_| ".data/bench-mcp".into());
    if std::env::args().any(|a| a == "--serve") {
        return common::serve(&config(&data_dir)).await;
    }
    let n = common::flag("--calls", 500);
    let events = common::flag("--events", 100_000);
    let bin = collector();
    common::fresh(&data_dir);
    let db = server::database::Database::open(&config(&data_dir))
        .await
        .expect("database");
    let filled = common::fill::fill(&db, "mcp", events, 20, 30).await;
    let key = server::tenancy::create_api_key(
        &db.store,
        &filled.tenant,
        &store::Email::parse("bench@bench.test").unwrap(),
        "mcp",
        &[store::api_keys::Scope::Ingest, store::api_keys::Scope::Read],
        &store::audit::Actor::cli(),
    )
    .await
    .expect("key");
    db.close().await;
    let (mut child, base, _) = common::spawn_server(&data_dir, &[("RUST_LOG", "error")]).await;
    println!(
        "{} build; {events} events in the tenant; {n} measured calls of each, one at a time",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );

    let mut names = vec!["ping"];
    names.extend(calls(0).iter().map(|(name, _)| *name));
    let mut http = Http {
        client: reqwest::Client::new(),
        url: format!("{base}/mcp"),
        key: key.clone(),
    };
    print(
        "Streamable HTTP (POST /mcp, loopback, one connection)",
        &measure(&mut http, &names, n).await,
    );

    let homes = tempfile::tempdir().unwrap();
    let online = homes.path().join("online");
    laptop(&online, &base, &key, false);
    let mut stdio = StdioMcp::start(&bin, &online).await;
    print(
        "stdio through the collector (devpulse mcp → the server)",
        &measure(&mut stdio, &names, n).await,
    );
    let _ = stdio.child.kill().await;

    // Nothing listens on the port a just-closed listener had.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let offline = homes.path().join("offline");
    laptop(&offline, &closed, &key, true);
    let mut stdio = StdioMcp::start(&bin, &offline).await;
    print(
        "stdio, server out of reach: the dashboard from the laptop's own transcripts",
        &measure(&mut stdio, &["ping", "query_dashboard"], n).await,
    );
    let _ = stdio.child.kill().await;
    let _ = child.kill().await;
}
