//! Token totals from transcripts against the real `ccusage` (npm, pinned in package.json):
//! `devpulse report daily --json` and `ccusage daily --json --offline` on the same transcripts.
//!
//! ccusage counts every (message id, request id) pair once, keeping the first line, and knows
//! nothing of sidechains; devpulse counts each message once, main-chain copy first, keeping its
//! largest line (the streamed lines of one response grow). On transcripts where the two rules
//! cannot differ (each response written once, no replays) both must agree exactly, per day and
//! per model; on the raw fixtures devpulse must give the same numbers as on that clean copy,
//! which is what its rules are for.

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("..")
}

fn ccusage() -> PathBuf {
    let p = repo().join("node_modules/.bin/ccusage");
    assert!(
        p.exists(),
        "{} is missing: `make test` (npm ci) installs ccusage",
        p.display()
    );
    p
}

/// Every transcript file under `dir`.
fn transcripts(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            transcripts(&p, out);
        } else if p.extension().is_some_and(|x| x == "jsonl") {
            out.push(p);
        }
    }
}

fn tokens(u: &Value) -> i64 {
    [
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ]
    .iter()
    .map(|k| u[k].as_i64().unwrap_or(0))
    .sum()
}

/// A copy of `projects` where each response is written once: its largest main-chain line.
fn clean_copy(projects: &Path, to: &Path) {
    let mut files = Vec::new();
    transcripts(projects, &mut files);
    files.sort();
    // message id -> (is sidechain, tokens, file, line)
    let mut best: HashMap<String, (bool, i64, PathBuf, usize)> = HashMap::new();
    for f in &files {
        for (n, line) in std::fs::read_to_string(f).unwrap().lines().enumerate() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let Some(id) = v["message"]["id"]
                .as_str()
                .filter(|_| v["type"] == "assistant")
            else {
                continue;
            };
            let candidate = (
                v["isSidechain"] == true,
                tokens(&v["message"]["usage"]),
                f.clone(),
                n,
            );
            let keep = match best.get(id) {
                None => true,
                Some(b) => (!candidate.0 && b.0) || (candidate.0 == b.0 && candidate.1 > b.1),
            };
            if keep {
                best.insert(id.to_string(), candidate);
            }
        }
    }
    for f in &files {
        let rel = f.strip_prefix(projects).unwrap();
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        let text = std::fs::read_to_string(f).unwrap();
        let kept: Vec<&str> = text
            .lines()
            .enumerate()
            .filter(|(n, line)| {
                let Ok(v) = serde_json::from_str::<Value>(line) else {
                    return false;
                };
                match v["message"]["id"]
                    .as_str()
                    .filter(|_| v["type"] == "assistant")
                {
                    Some(id) => best.get(id).is_some_and(|b| &b.2 == f && b.3 == *n),
                    None => true,
                }
            })
            .map(|(_, l)| l)
            .collect();
        std::fs::write(dest, kept.join("\n") + "\n").unwrap();
    }
}

/// date -> model -> [input, output, cache write, cache read, cost in cents]
type Days = BTreeMap<String, BTreeMap<String, [i64; 5]>>;

fn days(report: &Value, name: &str, cost: &str) -> Days {
    report["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let models = d["modelBreakdowns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    (
                        m[name].as_str().unwrap().to_string(),
                        [
                            m["inputTokens"].as_i64().unwrap(),
                            m["outputTokens"].as_i64().unwrap(),
                            m["cacheCreationTokens"].as_i64().unwrap(),
                            m["cacheReadTokens"].as_i64().unwrap(),
                            (m[cost].as_f64().unwrap() * 100.0).round() as i64,
                        ],
                    )
                })
                .collect();
            (d["date"].as_str().unwrap().to_string(), models)
        })
        .collect()
}

fn devpulse_daily(projects: &Path, home: &Path) -> Days {
    let out = Command::new(env!("CARGO_BIN_EXE_devpulse"))
        .args(["report", "daily", "--json", "--path"])
        .arg(projects)
        .env("HOME", home)
        .env("DEVPULSE_DATA_DIR", home.join("data"))
        .env("DEVPULSE_CONFIG_DIR", home.join("config"))
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    days(
        &serde_json::from_slice(&out.stdout).unwrap(),
        "modelName",
        "cost",
    )
}

fn ccusage_daily(claude_dir: &Path) -> Days {
    let out = Command::new(ccusage())
        .args(["daily", "--json", "--offline", "--breakdown"])
        .env("CLAUDE_CONFIG_DIR", claude_dir)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    days(
        &serde_json::from_slice(&out.stdout).unwrap(),
        "modelName",
        "cost",
    )
}

#[test]
fn token_totals_agree_with_ccusage() {
    for user in ["ana", "bo", "chen"] {
        let projects = repo().join(format!("testdata/fixtures/home-{user}/.claude/projects"));
        let scratch = tempfile::tempdir().unwrap();
        let clean = scratch.path().join("claude/projects");
        clean_copy(&projects, &clean);

        let theirs = ccusage_daily(&scratch.path().join("claude"));
        let ours_clean = devpulse_daily(&clean, scratch.path());
        let ours_raw = devpulse_daily(&projects, scratch.path());
        assert!(!theirs.is_empty(), "ccusage found nothing for {user}");
        assert_eq!(ours_clean, theirs, "{user}: devpulse and ccusage disagree");
        assert_eq!(
            ours_raw, ours_clean,
            "{user}: duplicates changed devpulse's totals"
        );
    }
}
