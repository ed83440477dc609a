//! `devpulse import`: sends what [`crate::import::scan`] planned as one import batch on the
//! server, in gzip NDJSON requests filed under the batch (`Devpulse-Import-Batch`).
//!
//! Resuming: the batch id and the number of acknowledged items are saved after each one
//! (`import-state.json`). A run that finds an unfinished state for the same paths continues
//! that batch after the last acknowledged request; items are sorted the same way every time
//! and carry stable ids, so even a request sent twice stores nothing twice.

use std::{fs, path::PathBuf, time::Duration};

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::{
    client::{Client, ClientError},
    config::{private_dir, write_private, Paths},
    import::{self, Plan},
};

/// Items per request; `DEVPULSE_IMPORT_CHUNK` changes it (smaller for a slow link).
fn chunk_size() -> usize {
    std::env::var("DEVPULSE_IMPORT_CHUNK")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| (1..=10_000).contains(n))
        .unwrap_or(2000)
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    batch: String,
    paths: Vec<PathBuf>,
    items: usize,
    /// Items the server has acknowledged, in plan order.
    sent_items: usize,
    accepted: u64,
    duplicates: u64,
    rejected: u64,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub batch: String,
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub resumed: bool,
}

/// Reads the files, with a progress bar on stderr when it is a terminal.
pub fn plan(paths: &[PathBuf], quiet: bool) -> Plan {
    let bar = bar(quiet, 0, "{spinner} scanning {pos}/{len} files, {msg}");
    let started = std::time::Instant::now();
    let plan = import::scan(paths, &mut |p| {
        bar.set_length(p.files_total as u64);
        bar.set_position(p.files_done as u64);
        let rate = p.lines as f64 / started.elapsed().as_secs_f64().max(1e-3);
        bar.set_message(format!("{} lines ({rate:.0} lines/s)", p.lines));
    });
    bar.finish_and_clear();
    plan
}

fn bar(quiet: bool, len: u64, template: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Sends the plan as one batch (or continues the interrupted one for the same paths).
pub async fn send(
    paths: &Paths,
    client: &Client,
    sources: &[PathBuf],
    mut plan: Plan,
    quiet: bool,
) -> Result<Outcome, String> {
    // Sessions first: a session's start is its earliest moment, and the server files each
    // session's count under the time it first saw it.
    plan.items.sort_by(|a, b| {
        let rank = |v: &Value| (v["type"] != "session_start") as u8;
        (rank(a), a["timestamp"].as_str(), a["id"].as_str()).cmp(&(
            rank(b),
            b["timestamp"].as_str(),
            b["id"].as_str(),
        ))
    });
    let saved: Option<State> = fs::read(paths.import_state())
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(|s: &State| s.paths == sources && s.items == plan.items.len());
    // A batch rolled back (or gone) since: start afresh.
    let saved = match saved {
        Some(s) => match client
            .get(&format!("/api/v1/imports/{}", s.batch), &[])
            .await
        {
            Ok(b) if b["rolled_back_at"].is_null() && b["id"] == s.batch.as_str() => Some(s),
            _ => None,
        },
        None => None,
    };
    let resumed = saved.is_some();
    let mut state = match saved {
        Some(s) => s,
        None => {
            let host = std::env::var("HOSTNAME").ok();
            let batch = client
                .post(
                    "/api/v1/imports",
                    &json!({ "source": concat!("devpulse import ", env!("CARGO_PKG_VERSION")),
                             "host": host }),
                )
                .await
                .map_err(|e| format!("cannot open an import batch: {e}"))?;
            let Some(id) = batch["id"].as_str() else {
                return Err(format!(
                    "the server did not open an import batch: {batch:.200}"
                ));
            };
            State {
                batch: id.to_string(),
                paths: sources.to_vec(),
                items: plan.items.len(),
                ..State::default()
            }
        }
    };
    save(paths, &state)?;
    let size = chunk_size();
    let bar = bar(
        quiet,
        plan.items.len() as u64,
        "{spinner} sending {pos}/{len} items [{bar:30}] {per_sec}",
    );
    bar.set_position(state.sent_items as u64);
    while state.sent_items < plan.items.len() {
        let chunk = &plan.items[state.sent_items..(state.sent_items + size).min(plan.items.len())];
        let mut body = Vec::with_capacity(chunk.len() * 300);
        for item in chunk {
            serde_json::to_writer(&mut body, item).expect("JSON serialises");
            body.push(b'\n');
        }
        let key = format!("import:{}:{}", state.batch, crate::digest(&body));
        let answer = send_chunk(client, &body, &key, &state.batch).await?;
        state.accepted += answer["accepted"].as_u64().unwrap_or(0);
        state.duplicates += answer["duplicates"].as_u64().unwrap_or(0);
        state.rejected += answer["rejected"].as_u64().unwrap_or(0);
        for item in answer["items"].as_array().into_iter().flatten() {
            if item["status"] == "rejected" {
                let index = item["index"].as_u64().unwrap_or(0) as usize;
                bar.println(format!(
                    "refused: {} {}",
                    chunk.get(index).map_or(Value::Null, |v| v["id"].clone()),
                    item["errors"]
                ));
            }
        }
        state.sent_items += chunk.len();
        save(paths, &state)?;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let report = &plan.report;
    client
        .post(
            &format!("/api/v1/imports/{}/finish", state.batch),
            &json!({
                "files": report.files,
                "lines": report.lines,
                "items": report.items,
                "accepted": state.accepted,
                "duplicates": state.duplicates,
                "rejected": state.rejected,
                "skipped_lines": report.skipped.len(),
                "duplicate_lines": report.duplicates.len(),
            }),
        )
        .await
        .map_err(|e| format!("cannot finish import batch {}: {e}", state.batch))?;
    let _ = fs::remove_file(paths.import_state());
    Ok(Outcome {
        batch: state.batch,
        accepted: state.accepted,
        duplicates: state.duplicates,
        rejected: state.rejected,
        resumed,
    })
}

async fn send_chunk(client: &Client, body: &[u8], key: &str, batch: &str) -> Result<Value, String> {
    let mut attempt = 0;
    loop {
        match client.send_batch(body, key, Some(batch)).await {
            Ok(answer) if crate::sync::answers_for(&answer, body) => return Ok(answer),
            Ok(other) => return Err(format!("not a devpulse answer: {other:.200}")),
            Err(ClientError::Retry { why, after }) if attempt < 8 => {
                let pause = crate::sync::backoff(attempt, after);
                eprintln!("{why}; retrying in {pause:.1?}");
                tokio::time::sleep(pause).await;
                attempt += 1;
            }
            Err(e) => {
                return Err(format!(
                    "{e}\nthe import stopped; run the same command again to resume batch {batch}"
                ))
            }
        }
    }
}

fn save(paths: &Paths, state: &State) -> Result<(), String> {
    private_dir(&paths.data_dir)
        .and_then(|()| {
            write_private(
                &paths.import_state(),
                serde_json::to_vec_pretty(state).expect("state serialises"),
            )
        })
        .map_err(|e| format!("cannot save import progress: {e}"))
}

/// What the run printed about the files: counts, every skipped line and every duplicate
/// except the extra lines of streamed responses (several per request, by design of the format).
pub fn summary(plan_report: &import::Report) -> String {
    let streamed = plan_report
        .duplicates
        .iter()
        .filter(|d| d.reason.starts_with("same message"))
        .count();
    let mut shown = plan_report.clone();
    shown
        .duplicates
        .retain(|d| !d.reason.starts_with("same message"));
    let mut out = shown.render();
    if streamed > 0 {
        out.push_str(&format!(
            "({streamed} further lines repeat a response already counted, one per content block; \
             --dry-run lists them)\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_saved_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            config_dir: dir.path().join("config"),
            data_dir: dir.path().join("data"),
        };
        save(&paths, &State::default()).unwrap();
        let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&paths.data_dir), 0o700);
        assert_eq!(mode(&paths.import_state()), 0o600);
    }
}
