//! `devpulse sync`: ships the spool to the server.
//!
//! One sync runs at a time (the lock file). It seals the live spool file into a segment, sends
//! each segment in gzip NDJSON batches of event bodies that carry their `_id` (so the server
//! stores each event once however often it is sent), and only when every line of a segment is
//! acknowledged does it delete the segment (remote mode) or move it into the local copy
//! (hybrid mode). Progress inside a segment is saved after each acknowledged batch, so a sync
//! killed midway resends at most one batch. Unreachable server, 429 and 5xx: exponential
//! back-off with jitter, honouring `Retry-After`.

use std::{
    fs,
    io::Write,
    path::Path,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};

use crate::{
    client::{Client, ClientError},
    config::{private_dir, write_private, Config, Mode, Paths},
    hook::log_error,
    spool,
};

/// Items per request: well under the server's batch limit, small enough to retry cheaply.
pub const CHUNK: usize = 1000;
/// Bytes per request at most (uncompressed), well under the server's body limits.
const CHUNK_BYTES: usize = 8 * 1024 * 1024;
/// How long a background sync waits for more hooks once the spool is empty.
const LINGER: Duration = Duration::from_secs(30);
/// How long a background sync keeps trying an unreachable server before leaving it to the
/// next hook.
const DAEMON_PATIENCE: Duration = Duration::from_secs(15 * 60);

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub last_success_at: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    pub delivered: u64,
    pub rejected: u64,
    /// The segment being sent and how many of its good lines the server has.
    pub segment: Option<String>,
    pub acked: usize,
}

impl State {
    pub fn load(paths: &Paths) -> State {
        fs::read(paths.sync_state())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    fn save(&self, paths: &Paths) {
        let tmp = paths.data_dir.join(".sync-state.json.tmp");
        let ok = write_private(
            &tmp,
            serde_json::to_vec_pretty(self).expect("state serialises"),
        )
        .and_then(|()| fs::rename(&tmp, paths.sync_state()));
        if let Err(e) = ok {
            log_error(paths, &format!("cannot save sync state: {e}"));
        }
    }

    fn failed(&mut self, paths: &Paths, why: &str) {
        self.last_error = Some(why.to_string());
        self.last_error_at = Some(now());
        self.save(paths);
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub struct Options {
    /// Started by a hook: linger for more, give up on an unreachable server only after a while.
    pub daemon: bool,
    /// Foreground: how long to keep retrying an unreachable server.
    pub wait: Duration,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub delivered: u64,
    pub rejected: u64,
    pub already_running: bool,
}

pub async fn run(paths: &Paths, opts: &Options) -> Result<Summary, String> {
    let Some(mut lock) = spool::try_lock(&paths.sync_lock())
        .map_err(|e| format!("cannot open {}: {e}", paths.sync_lock().display()))?
    else {
        return Ok(Summary {
            already_running: true,
            ..Summary::default()
        });
    };
    // Who holds the lock, for `devpulse status`.
    let _ = lock.set_len(0);
    let _ = write!(lock, "{}", std::process::id());
    // An older version's spool directory was readable by everyone.
    private_dir(&paths.spool_dir())
        .map_err(|e| format!("cannot secure {}: {e}", paths.spool_dir().display()))?;
    let mut state = State::load(paths);
    let mut summary = Summary::default();
    let mut idle_since = Instant::now();
    loop {
        let segments =
            spool::rotate(&paths.spool_dir()).map_err(|e| format!("cannot read the spool: {e}"))?;
        if segments.is_empty() {
            if !opts.daemon || idle_since.elapsed() > LINGER {
                return Ok(summary);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        for segment in segments {
            deliver(paths, &segment, &mut state, &mut summary, opts).await?;
        }
        idle_since = Instant::now();
    }
}

async fn deliver(
    paths: &Paths,
    segment: &Path,
    state: &mut State,
    summary: &mut Summary,
    opts: &Options,
) -> Result<(), String> {
    let name = segment
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lines = spool::read_segment(segment)
        .map_err(|e| format!("cannot read {}: {e}", segment.display()))?;
    for n in &lines.bad {
        log_error(
            paths,
            &format!("{name}:{n}: torn or corrupt spool line, skipped"),
        );
    }
    if state.segment.as_deref() != Some(name.as_str()) {
        state.segment = Some(name.clone());
        state.acked = 0;
    }
    let good: Vec<&serde_json::Value> = lines.good.iter().map(|(_, v)| v).collect();
    while state.acked < good.len() {
        // At most CHUNK items and about CHUNK_BYTES, always at least one item.
        let mut body = Vec::with_capacity(CHUNK_BYTES.min(1 << 20));
        let mut n = 0;
        for item in &good[state.acked..] {
            let before = body.len();
            serde_json::to_writer(&mut body, item).expect("JSON value serialises");
            body.push(b'\n');
            if n > 0 && (n == CHUNK || body.len() > CHUNK_BYTES) {
                body.truncate(before);
                break;
            }
            n += 1;
        }
        let chunk = &good[state.acked..state.acked + n];
        let key = format!("sync:{}", crate::digest(&body));
        let answer = send_with_retry(paths, &key, &body, state, opts).await?;
        let rejected = answer["rejected"].as_u64().unwrap_or(0);
        if rejected > 0 {
            for item in answer["items"].as_array().into_iter().flatten() {
                if item["status"] == "rejected" {
                    log_error(
                        paths,
                        &format!("the server refused a spooled event: {item}"),
                    );
                }
            }
        }
        state.acked += chunk.len();
        state.delivered += chunk.len() as u64 - rejected;
        state.rejected += rejected;
        state.last_success_at = Some(now());
        state.last_error = None;
        state.save(paths);
        summary.delivered += chunk.len() as u64 - rejected;
        summary.rejected += rejected;
    }
    // Everything in it is on the server now.
    let mode = Config::load(paths).map(|c| c.mode).unwrap_or_default();
    retire(paths, segment, mode)
        .map_err(|e| format!("cannot retire {}: {e}", segment.display()))?;
    state.segment = None;
    state.acked = 0;
    state.save(paths);
    Ok(())
}

/// Deletes a delivered segment, or in hybrid mode moves it into the local copy.
fn retire(paths: &Paths, segment: &Path, mode: Mode) -> std::io::Result<()> {
    match mode {
        Mode::Remote => fs::remove_file(segment),
        Mode::Hybrid => {
            let name = segment.file_name().unwrap_or_default();
            private_dir(&paths.local_dir())
                .and_then(|()| fs::rename(segment, paths.local_dir().join(name)))
        }
    }
}

async fn send_with_retry(
    paths: &Paths,
    key: &str,
    body: &[u8],
    state: &mut State,
    opts: &Options,
) -> Result<serde_json::Value, String> {
    let started = Instant::now();
    let patience = if opts.daemon {
        DAEMON_PATIENCE
    } else {
        opts.wait
    };
    for attempt in 0u32.. {
        // Read every time: `devpulse setup` may have pointed us elsewhere meanwhile.
        let config = Config::load(paths).map_err(|e| e.to_string())?;
        match Client::new(&config).send_batch(body, key, None).await {
            // Only the server's own answer acknowledges: a proxy's or portal's 200 does not.
            Ok(answer) if answers_for(&answer, body) => return Ok(answer),
            Ok(other) => {
                let why = format!("not a devpulse answer: {other:.200}");
                state.failed(paths, &why);
                if started.elapsed() > patience {
                    return Err(why);
                }
                tokio::time::sleep(backoff(attempt, None)).await;
            }
            Err(ClientError::Fatal(why)) => {
                state.failed(paths, &why);
                return Err(why);
            }
            Err(ClientError::Retry { why, after }) => {
                state.failed(paths, &why);
                let pause = backoff(attempt, after);
                if started.elapsed() + pause > patience {
                    return Err(format!("{why} (gave up after {:?})", started.elapsed()));
                }
                tokio::time::sleep(pause).await;
            }
        }
    }
    unreachable!("the retry loop returns")
}

/// Whether a batch answer accounts for every line sent.
pub fn answers_for(answer: &serde_json::Value, body: &[u8]) -> bool {
    let sent = body.iter().filter(|b| **b == b'\n').count() as u64;
    let n = |k: &str| answer[k].as_u64();
    matches!((n("accepted"), n("duplicates"), n("rejected")), (Some(a), Some(d), Some(r)) if a + d + r == sent)
}

/// 0.5 s doubling up to a minute, each pause drawn between half and all of it (jitter, so
/// many laptops coming back online do not retry in step); at least what `Retry-After` asks.
pub fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    let ceiling = Duration::from_millis(500)
        .saturating_mul(1 << attempt.min(7))
        .min(Duration::from_secs(60));
    let unit = (uuid::Uuid::new_v4().as_u128() >> 64) as f64 / u64::MAX as f64;
    let pause = ceiling.mul_f64(0.5 + unit / 2.0);
    retry_after.map_or(pause, |r| pause.max(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_honours_retry_after() {
        for attempt in 0..12 {
            let b = backoff(attempt, None);
            let ceiling =
                Duration::from_millis(500 * (1u64 << attempt.min(7))).min(Duration::from_secs(60));
            assert!(b <= ceiling && b >= ceiling / 2, "{attempt}: {b:?}");
        }
        assert!(backoff(0, Some(Duration::from_secs(7))) >= Duration::from_secs(7));
    }

    #[test]
    fn the_local_copy_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            config_dir: dir.path().join("config"),
            data_dir: dir.path().join("data"),
        };
        spool::append(&paths.spool_dir(), br#"{"a":1}"#).unwrap();
        let segment = spool::rotate(&paths.spool_dir()).unwrap().remove(0);
        retire(&paths, &segment, Mode::Hybrid).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&paths.local_dir()), 0o700);
        let kept = paths.local_dir().join(segment.file_name().unwrap());
        assert_eq!(mode(&kept), 0o600);
    }
}
