//! `devpulse mcp`: the MCP tools over stdio for Claude Code on this machine. Calls go to the
//! server's REST API with the configured key. When the server cannot be reached, recordings
//! go into the spool (the next sync delivers them; items carry ids, so nothing counts twice)
//! and the summary is answered from local data (transcripts and recorded hooks).

use std::sync::Arc;

use chrono::SecondsFormat;
use mcp::{Backend, BackendError, Cx, Range, SessionQuery};
use serde_json::{json, Value};

use crate::{
    client::{Client, ClientError},
    config::{Config, Paths},
    report, spool,
};

pub struct Remote {
    paths: Paths,
    /// The last daily report built from local data, with what it was built from: an
    /// assistant asks again and again while offline, and the files rarely change between.
    local: std::sync::Mutex<Option<(Vec<Seen>, Value)>>,
}

/// One file a local report read: its path, length and modification time.
type Seen = (std::path::PathBuf, u64, Option<std::time::SystemTime>);

/// Every file under `dirs` (and the files `extra` names), as [`Seen`], in a stable order. A
/// superset of what the report reads, so any change to its inputs changes this.
fn seen(dirs: &[std::path::PathBuf], extra: &[std::path::PathBuf]) -> Vec<Seen> {
    let mut out = Vec::new();
    let mut stack: Vec<std::path::PathBuf> = dirs.to_vec();
    let mut note = |path: std::path::PathBuf, m: &std::fs::Metadata| {
        out.push((path, m.len(), m.modified().ok()));
    };
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            // Through links, as the import reads them.
            match std::fs::metadata(e.path()) {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => note(e.path(), &m),
                Err(_) => {}
            }
        }
    }
    for f in extra {
        if let Ok(m) = std::fs::metadata(f) {
            note(f.clone(), &m);
        }
    }
    out.sort();
    out
}

pub async fn serve(paths: &Paths) -> Result<(), String> {
    Config::load(paths).map_err(|e| e.to_string())?;
    mcp::serve_stdio(Arc::new(Remote {
        paths: paths.clone(),
        local: Default::default(),
    }))
    .await
    .map_err(|e| e.to_string())
}

fn range_query(r: &Range) -> Vec<(&'static str, String)> {
    vec![
        ("from", r.from.to_rfc3339_opts(SecondsFormat::Secs, true)),
        ("to", r.to.to_rfc3339_opts(SecondsFormat::Secs, true)),
    ]
}

fn mcp_error(e: ClientError) -> BackendError {
    match e {
        ClientError::Retry { why, .. } => BackendError::Unavailable(why),
        ClientError::Fatal(why) if why.contains("403") => BackendError::Forbidden(why),
        ClientError::Fatal(why) if why.contains("404") => BackendError::NotFound(why),
        ClientError::Fatal(why) => BackendError::Invalid(why),
    }
}

impl Remote {
    fn client(&self) -> Result<Client, BackendError> {
        Config::load(&self.paths)
            .map(|c| Client::new(&c))
            .map_err(|e| BackendError::Unavailable(e.to_string()))
    }

    /// Offline: the items wait in the spool like hook events do.
    fn spool(&self, items: &[Value]) -> Result<Value, BackendError> {
        for item in items {
            spool::append(&self.paths.spool_dir(), item.to_string().as_bytes())
                .map_err(|e| BackendError::Unavailable(format!("cannot spool: {e}")))?;
        }
        Ok(json!({
            "accepted": items.len(), "duplicates": 0, "rejected": 0, "spooled": true,
            "items": (0..items.len()).map(|i| json!({ "index": i, "status": "accepted" })).collect::<Vec<_>>(),
        }))
    }
}

impl Backend for Remote {
    async fn record(&self, _cx: &Cx, items: Vec<Value>) -> Result<Value, BackendError> {
        let mut body = Vec::new();
        for item in &items {
            serde_json::to_writer(&mut body, item).expect("JSON serialises");
            body.push(b'\n');
        }
        let key = format!("mcp:{}", crate::digest(&body));
        match self.client()?.send_batch(&body, &key, None).await {
            Ok(answer) => Ok(answer),
            Err(ClientError::Retry { .. }) => self.spool(&items),
            Err(e) => Err(mcp_error(e)),
        }
    }

    async fn sessions(&self, _cx: &Cx, q: SessionQuery) -> Result<Value, BackendError> {
        let client = self.client()?;
        let answer = match &q.id {
            Some(id) => {
                client
                    .get(&format!("/api/v1/metrics/sessions/{id}"), &[])
                    .await
            }
            None => {
                let mut query = range_query(&q.range);
                query.push(("limit", q.limit.to_string()));
                client.get("/api/v1/metrics/sessions", &query).await
            }
        };
        answer.map_err(mcp_error)
    }

    async fn tools(&self, _cx: &Cx, range: Range) -> Result<Value, BackendError> {
        self.client()?
            .get("/api/v1/metrics/tools", &range_query(&range))
            .await
            .map_err(mcp_error)
    }

    async fn summary(&self, _cx: &Cx, range: Range) -> Result<Value, BackendError> {
        match self
            .client()?
            .get("/api/v1/dashboard/summary", &range_query(&range))
            .await
        {
            Ok(v) => Ok(v),
            Err(ClientError::Retry { .. }) => Ok(self.local_summary(range)),
            Err(e) => Err(mcp_error(e)),
        }
    }
}

impl Remote {
    /// The summary's shape from local data, for when the server is out of reach.
    fn local_summary(&self, range: Range) -> Value {
        let home = std::env::var_os("HOME")
            .map(std::path::PathBuf::from)
            .unwrap_or_default();
        self.local_summary_in(&home, range)
    }

    fn local_summary_in(&self, home: &std::path::Path, range: Range) -> Value {
        let roots: Vec<_> = [".claude/projects", ".config/claude/projects"]
            .iter()
            .map(|r| home.join(r))
            .filter(|p| p.is_dir())
            .collect();
        let mut spooled = spool::segments(&self.paths.local_dir()).unwrap_or_default();
        spooled.extend(spool::segments(&self.paths.spool_dir()).unwrap_or_default());
        spooled.push(self.paths.spool_dir().join("current.ndjson"));
        let now = seen(&roots, &spooled);
        let kept = self
            .local
            .lock()
            .expect("local report")
            .as_ref()
            .filter(|(was, _)| *was == now)
            .map(|(_, daily)| daily.clone());
        let daily = match kept {
            Some(daily) => daily,
            None => {
                let daily = report::build(report::Period::Daily, &roots, &self.paths);
                *self.local.lock().expect("local report") = Some((now, daily.clone()));
                daily
            }
        };
        let mut t = json!({
            "sessions": 0, "tool_executions": 0, "tool_failures": 0, "api_requests": 0,
            "input_tokens": 0, "output_tokens": 0, "cache_creation_tokens": 0,
            "cache_read_tokens": 0, "cost_usd": 0.0, "by_tool": {}, "by_model": {},
        });
        let (from, to) = (range.from.date_naive(), range.to.date_naive());
        for day in daily["daily"].as_array().into_iter().flatten() {
            let Ok(date) = day["date"]
                .as_str()
                .unwrap_or("")
                .parse::<chrono::NaiveDate>()
            else {
                continue;
            };
            if date < from || date > to {
                continue;
            }
            for (ours, theirs) in [
                ("sessions", "sessions"),
                ("tool_executions", "toolExecutions"),
                ("tool_failures", "toolFailures"),
                ("api_requests", "requests"),
                ("input_tokens", "inputTokens"),
                ("output_tokens", "outputTokens"),
                ("cache_creation_tokens", "cacheCreationTokens"),
                ("cache_read_tokens", "cacheReadTokens"),
            ] {
                t[ours] = json!(t[ours].as_i64().unwrap_or(0) + day[theirs].as_i64().unwrap_or(0));
            }
            t["cost_usd"] = json!(
                t["cost_usd"].as_f64().unwrap_or(0.0) + day["totalCost"].as_f64().unwrap_or(0.0)
            );
            for (tool, n) in day["tools"].as_object().into_iter().flatten() {
                t["by_tool"][tool] =
                    json!(t["by_tool"][tool].as_i64().unwrap_or(0) + n.as_i64().unwrap_or(0));
            }
            for m in day["modelBreakdowns"].as_array().into_iter().flatten() {
                let name = m["modelName"].as_str().unwrap_or("unknown");
                let entry = &mut t["by_model"][name];
                *entry = json!({
                    "requests": entry["requests"].as_i64().unwrap_or(0) + m["requests"].as_i64().unwrap_or(0),
                    "cost_usd": entry["cost_usd"].as_f64().unwrap_or(0.0) + m["cost"].as_f64().unwrap_or(0.0),
                });
            }
        }
        json!({
            "from": range.from, "to": range.to, "total": t, "users": [],
            "source": "local (the server is unreachable)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_project() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/fixtures/home-ana/.claude/projects/-home-ana-infra")
    }

    /// The offline summary is built once and kept, and built again when a transcript is
    /// added.
    #[test]
    fn the_local_summary_is_kept_until_its_files_change() {
        let home = tempfile::tempdir().unwrap();
        let project = home.path().join(".claude/projects/p");
        std::fs::create_dir_all(&project).unwrap();
        let mut transcripts: Vec<_> = std::fs::read_dir(fixture_project())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        transcripts.sort();
        assert!(transcripts.len() >= 2, "the fixture has transcripts");
        std::fs::copy(&transcripts[0], project.join("a.jsonl")).unwrap();
        let remote = Remote {
            paths: Paths {
                config_dir: home.path().join("config"),
                data_dir: home.path().join("data"),
            },
            local: Default::default(),
        };
        let all = Range {
            from: chrono::DateTime::UNIX_EPOCH,
            to: chrono::Utc::now() + chrono::TimeDelta::days(1),
        };
        let requests = |v: &Value| v["total"]["api_requests"].as_i64().unwrap();
        let first = remote.local_summary_in(home.path(), all);
        assert!(requests(&first) > 0, "{first}");
        assert!(remote.local.lock().unwrap().is_some(), "kept");
        assert_eq!(remote.local_summary_in(home.path(), all), first);

        std::fs::copy(&transcripts[1], project.join("b.jsonl")).unwrap();
        let second = remote.local_summary_in(home.path(), all);
        assert!(requests(&second) > requests(&first), "{second}");
    }
}
