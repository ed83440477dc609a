//! `cargo bench -p collector --bench hook [-- --quick]`: wall time of one hook run (`devpulse
//! hook`, and `devpulse-hook`, the hook-only binary `devpulse setup` installs),
//! process start included, the way Claude Code runs it (stdin piped, wait for exit), against a
//! baseline measured in the same run: the kind of hook teams run today, a Node.js script that
//! parses the event and appends it to a JSONL file (the peer hooks' published figure is
//! 20.8 ms). Prints p50/p99 and their ratio; asserts nothing about speed.

use std::{
    io::Write,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

const BODY: &str = r#"{"session_id":"9b1f6f0e-3c7a-4f7e-a1d2-6a0c2b9e4d11","transcript_path":"/home/ana/.claude/projects/-home-ana-shop/9b1f6f0e.jsonl","cwd":"/home/ana/shop","permission_mode":"default","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"cargo test","description":"Run tests","timeout":120000,"run_in_background":false},"tool_use_id":"toolu_01Q8w3N1mLkW2x7bYV5cZr4T"}"#;

const NODE_HOOK: &str = r#"
const fs = require('fs');
let data = '';
process.stdin.on('data', c => data += c);
process.stdin.on('end', () => {
  const event = JSON.parse(data);
  event.timestamp = new Date().toISOString();
  fs.appendFileSync(process.env.OUT, JSON.stringify(event) + '\n');
});
"#;

fn time_runs(n: usize, mut command: impl FnMut() -> Command) -> Vec<Duration> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let mut child = command()
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        // A program that does not read its stdin (the floor) closes the pipe early.
        let _ = child.stdin.take().unwrap().write_all(BODY.as_bytes());
        let status = child.wait().unwrap();
        times.push(started.elapsed());
        assert!(status.success());
    }
    times.sort();
    times
}

fn pct(times: &[Duration], p: f64) -> f64 {
    let i = ((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1;
    times[i].as_secs_f64() * 1000.0
}

fn report(name: &str, times: &[Duration]) -> (f64, f64) {
    let (p50, p99) = (pct(times, 0.50), pct(times, 0.99));
    println!(
        "{name:<44} n={:<5} p50 {p50:>7.3} ms  p99 {p99:>7.3} ms  max {:>7.3} ms",
        times.len(),
        pct(times, 1.0)
    );
    (p50, p99)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n = if quick { 200 } else { 2000 };
    let bin = Path::new(env!("CARGO_BIN_EXE_devpulse"));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    // Configured, pointing at a server that is not there: the hook must not care.
    std::fs::write(
        config.join("config.json"),
        r#"{"server":"http://127.0.0.1:9","key":"dp_bench","mode":"remote"}"#,
    )
    .unwrap();
    let env = |c: &mut Command| {
        c.env("HOME", dir.path())
            .env("DEVPULSE_CONFIG_DIR", &config)
            .env("DEVPULSE_DATA_DIR", dir.path().join("data"));
    };
    println!("hook benchmark: {n} runs each, one at a time, process start included");
    // Warm the page cache, and start the background sync that the later runs find running.
    let _ = time_runs(20, || {
        let mut c = Command::new(bin);
        c.arg("hook");
        env(&mut c);
        c
    });
    let ours = time_runs(n, || {
        let mut c = Command::new(bin);
        c.arg("hook");
        env(&mut c);
        c
    });
    report("devpulse hook (spool, sync running)", &ours);
    let small = Path::new(env!("CARGO_BIN_EXE_devpulse-hook"));
    let ours = time_runs(n, || {
        let mut c = Command::new(small);
        env(&mut c);
        c
    });
    let (p50, p99) = report("devpulse-hook (what setup installs)", &ours);
    // The floor on this machine: starting any process at all.
    let floor = time_runs(n, || Command::new("true"));
    report("floor: /bin/true (process start alone)", &floor);

    let node = dir.path().join("legacy-hook.js");
    std::fs::write(&node, NODE_HOOK).unwrap();
    let has_node = Command::new("node").arg("--version").output().is_ok();
    if has_node {
        let base = time_runs(n.min(500), || {
            let mut c = Command::new("node");
            c.arg(&node).env("OUT", dir.path().join("legacy.jsonl"));
            c
        });
        let (b50, b99) = report("baseline: Node.js hook appending JSONL", &base);
        println!(
            "ratio devpulse/baseline: p50 {:.3}, p99 {:.3} (peer hooks' published p50: 20.8 ms, ratio {:.3})",
            p50 / b50,
            p99 / b99,
            p50 / 20.8
        );
    } else {
        println!("node not found: no baseline this run (peer hooks' published figure: 20.8 ms)");
    }
    // Stop the background sync the hooks started.
    if let Ok(pid) = std::fs::read_to_string(dir.path().join("data/sync.lock")) {
        if let Ok(pid) = pid.trim().parse::<i32>() {
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
    }
}
