//! One made-up Claude Code session: prompts, the model's requests (tokens as Claude Code
//! reports them, a failed attempt now and then), tool runs with their durations and
//! failures, edits accepted or rejected, lines changed, commits and pull requests. It comes
//! out as what Claude Code's hooks and OpenTelemetry exporter would have sent: batch items
//! (typed items and hook bodies) for everything the batch API carries, OTLP data points and
//! log records for the counters and errors only OTLP carries.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{json, Value};

use super::{
    activity::{Person, Project},
    random::Random,
};

pub const SONNET: &str = "claude-sonnet-4-5-20250929";
pub const OPUS: &str = "claude-opus-4-1-20250805";
pub const HAIKU: &str = "claude-haiku-4-5-20251001";

const PROMPTS: &[&str] = &[
    "The integration tests fail on CI but pass locally, can you find out why?",
    "Add pagination to the list endpoint, same style as the others",
    "Refactor this module so the retry logic lives in one place",
    "Write tests for the edge cases in the parser",
    "Why is this query slow? Look at the plan and suggest an index",
    "Update the README with the new configuration options",
    "Rename the field everywhere and keep the old name as an alias",
    "Fix the flaky test, it times out about one run in ten",
    "Review my last commit and tell me what you would change",
    "Bump the dependency and fix whatever breaks",
    "Explain how the authentication flow works in this repo",
    "Add structured logging to the request handler",
    "Implement the feature described in the issue I pasted",
    "The build warns about unused imports, clean them up",
    "Make the error messages say which field is wrong",
];

const FILES: &[&str] = &[
    "src/handlers",
    "src/models",
    "src/db",
    "src/api/routes",
    "src/lib",
    "tests/integration",
    "src/config",
    "src/utils/retry",
    "src/services/billing",
    "src/components/Button",
];

const SUBAGENTS: &[&str] = &[
    "general-purpose",
    "Explore",
    "Plan",
    "code-reviewer",
    "test-runner",
];

/// One of the tools Claude Code runs, with how long a run takes (log-normal: median and
/// spread) and how often it fails.
struct Tool {
    name: &'static str,
    weight: f64,
    median_ms: f64,
    spread: f64,
    fails: f64,
}

const fn tool(name: &'static str, weight: f64, median_ms: f64, spread: f64, fails: f64) -> Tool {
    Tool {
        name,
        weight,
        median_ms,
        spread,
        fails,
    }
}

const TOOLS: &[Tool] = &[
    tool("Read", 28.0, 35.0, 0.7, 0.04),
    tool("Edit", 14.0, 60.0, 0.5, 0.08),
    tool("Bash", 15.0, 2500.0, 1.3, 0.18),
    tool("Grep", 12.0, 120.0, 0.7, 0.03),
    tool("Glob", 6.0, 40.0, 0.6, 0.01),
    tool("Write", 3.0, 70.0, 0.5, 0.02),
    tool("TodoWrite", 6.0, 15.0, 0.4, 0.005),
    tool("Task", 3.0, 75_000.0, 0.8, 0.04),
    tool("WebFetch", 2.0, 2200.0, 0.7, 0.15),
    tool("MultiEdit", 3.0, 110.0, 0.5, 0.08),
];

/// One thing a session sends.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// An item of `POST /api/v1/ingest/batch`: a typed item, or a hook body.
    Batch(Value),
    /// A data point of one of Claude Code's OTLP counters (commits, pull requests, edit
    /// decisions, active time), which no batch item carries.
    Metric {
        name: &'static str,
        value: f64,
        attributes: Vec<(&'static str, String)>,
    },
    /// An OTLP log record: Claude Code's `api_error` event.
    Log {
        name: &'static str,
        attributes: Vec<(&'static str, String)>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Timed {
    pub at: DateTime<Utc>,
    pub item: Item,
}

/// A session's items and whose they are. Items come in the order they were made: by time,
/// except that parallel tool runs end in any order and a subagent's requests come before its
/// tool run ends.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// The person's index in the list the session was generated for.
    pub person: usize,
    pub id: String,
    pub items: Vec<Timed>,
}

/// How fast people are: live activity shortens the pauses in which they read and type, so
/// that a chart moves within seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pace {
    pub thinking: f64,
}

impl Pace {
    pub const REAL: Pace = Pace { thinking: 1.0 };
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn ms(ms: f64) -> TimeDelta {
    TimeDelta::milliseconds(ms.max(1.0) as i64)
}

/// A session being made up: its clock and what it has sent so far.
struct Builder<'a> {
    rng: &'a mut Random,
    id: String,
    cwd: String,
    transcript: String,
    project: &'a Project,
    model: &'static str,
    t: DateTime<Utc>,
    until: DateTime<Utc>,
    items: Vec<Timed>,
    /// Tokens the conversation holds, read from the cache by each request.
    context: i64,
}

impl Builder<'_> {
    fn push(&mut self, at: DateTime<Utc>, item: Item) {
        if at < self.until {
            self.items.push(Timed { at, item });
        }
    }

    fn batch(&mut self, at: DateTime<Utc>, item: Value) {
        self.push(at, Item::Batch(item));
    }

    fn metric(
        &mut self,
        at: DateTime<Utc>,
        name: &'static str,
        value: f64,
        more: &[(&'static str, &str)],
    ) {
        let mut attributes = vec![("session.id", self.id.clone())];
        attributes.extend(more.iter().map(|(k, v)| (*k, v.to_string())));
        self.push(
            at,
            Item::Metric {
                name,
                value,
                attributes,
            },
        );
    }

    fn file(&mut self) -> String {
        let dir = self.rng.pick(FILES);
        format!("{}/{dir}.{}", self.cwd, self.project.extension)
    }

    /// One request to the model, ending now; a subagent's requests run on the session's model.
    fn request(&mut self, model: &'static str, small: bool) {
        let (ttft, tokens_per_sec) = match model {
            OPUS => (2.5, 35.0),
            HAIKU => (0.6, 150.0),
            _ => (1.5, 60.0),
        };
        let rng = &mut *self.rng;
        let (input, output, created, read) = if small {
            // Claude Code's own quick calls (titles, summaries) on Haiku: no cache.
            (
                rng.around(600.0, 0.5) as i64,
                rng.around(40.0, 0.6) as i64 + 1,
                0,
                0,
            )
        } else {
            let created = rng.around(2500.0, 0.9).min(60_000.0) as i64;
            (
                rng.around(900.0, 0.8).clamp(5.0, 50_000.0) as i64,
                rng.around(450.0, 0.9).clamp(1.0, 32_000.0) as i64,
                created,
                self.context,
            )
        };
        let duration = (ttft * rng.around(1.0, 0.4) + output as f64 / tokens_per_sec) * 1000.0;
        let request_id = rng.token("req_011C", 22);
        if !small {
            self.context += created + output;
        }
        let at = self.t + ms(duration);
        let item = json!({
            "type": "api_request", "session_id": self.id, "request_id": request_id,
            "model": model, "input_tokens": input, "output_tokens": output,
            "cache_creation_tokens": created, "cache_read_tokens": read,
            "duration_ms": duration as i64, "timestamp": ts(at),
        });
        self.batch(at, item);
        if !small {
            self.t = at;
        }
    }

    /// The API refused a request (overloaded, rate limited) and Claude Code tries again.
    fn api_error(&mut self) {
        let (status, error) = *self.rng.pick(&[
            ("529", "Overloaded"),
            ("429", "Rate limited"),
            ("500", "Internal server error"),
        ]);
        let duration = self.rng.around(1200.0, 0.6);
        self.t += ms(duration);
        let attributes = vec![
            ("session.id", self.id.clone()),
            ("model", self.model.to_string()),
            ("error", error.to_string()),
            ("status_code", status.to_string()),
            ("duration_ms", (duration as i64).to_string()),
            ("attempt", "1".to_string()),
            ("request_id", self.rng.token("req_011C", 22)),
        ];
        self.push(
            self.t,
            Item::Log {
                name: "api_error",
                attributes,
            },
        );
    }

    /// One tool run starting now; returns how long it took.
    fn tool(&mut self, tool: &Tool, edits: &mut u32) -> TimeDelta {
        let started = self.t;
        let id = self.rng.token("toolu_01", 22);
        let mut took = ms(self.rng.around(tool.median_ms, tool.spread).min(600_000.0));
        let mut success = !self.rng.chance(tool.fails);
        let mut item = json!({
            "type": "tool_use", "session_id": self.id, "tool_name": tool.name,
            "tool_use_id": id, "cwd": self.cwd,
        });
        match tool.name {
            "Bash" => {
                let command = if self.rng.chance(0.5) {
                    self.project.test_command.to_string()
                } else {
                    self.rng
                        .pick(&["git status", "git diff --stat", "ls -la", "make lint"])
                        .to_string()
                };
                item["attributes"] = json!({ "command": command });
            }
            "Read" | "Write" | "Edit" | "MultiEdit" => {
                item["attributes"] = json!({ "file_path": self.file() });
            }
            "Task" => {
                let agent = *self.rng.pick(SUBAGENTS);
                item["agent"] = json!(agent);
                // The subagent's own requests, while the tool runs, in a conversation of its
                // own.
                let (t, context, model) = (self.t, self.context, self.model);
                self.context = self.rng.between(8_000, 15_000);
                for _ in 0..self.rng.between(2, 5) {
                    self.request(model, false);
                }
                took = took.max(self.t - t + ms(500.0));
                (self.t, self.context) = (t, context);
            }
            _ => {}
        }
        let end = started + took;
        if matches!(tool.name, "Edit" | "MultiEdit" | "Write") {
            let accepted = !self.rng.chance(0.07);
            let source = if self.rng.chance(0.6) {
                "config"
            } else {
                "user_temporary"
            };
            let decision = if accepted { "accept" } else { "reject" };
            let language = self.project.language;
            self.metric(
                end,
                "claude_code.code_edit_tool.decision",
                1.0,
                &[
                    ("tool_name", tool.name),
                    ("decision", decision),
                    ("source", source),
                    ("language", language),
                ],
            );
            // A rejected edit is not made.
            success &= accepted;
            if success {
                *edits += 1;
                let (added, removed) = match tool.name {
                    "Write" => (self.rng.around(80.0, 0.7) as i64 + 1, 0),
                    "MultiEdit" => (
                        self.rng.around(20.0, 0.7) as i64,
                        self.rng.around(10.0, 0.8) as i64,
                    ),
                    _ => (
                        self.rng.around(8.0, 0.8) as i64,
                        self.rng.around(4.0, 0.9) as i64,
                    ),
                };
                let lines = json!({
                    "type": "lines", "id": format!("{id}:lines"), "session_id": self.id,
                    "lines_added": added, "lines_removed": removed, "timestamp": ts(end),
                });
                self.batch(end, lines);
            }
        }
        item["success"] = json!(success);
        item["duration_ms"] = json!(took.num_milliseconds());
        item["timestamp"] = json!(ts(end));
        self.batch(end, item);
        took
    }

    /// A Bash run of git or gh that Claude Code counts (a commit, a pull request).
    fn shipped(&mut self, command: &str, counter: &'static str) {
        let id = self.rng.token("toolu_01", 22);
        let took = ms(self.rng.around(900.0, 0.6));
        self.t += took;
        let at = self.t;
        let item = json!({
            "type": "tool_use", "session_id": self.id, "tool_name": "Bash", "tool_use_id": id,
            "cwd": self.cwd, "attributes": { "command": command }, "success": true,
            "duration_ms": took.num_milliseconds(), "timestamp": ts(at),
        });
        self.batch(at, item);
        self.metric(at, counter, 1.0, &[]);
    }
}

/// One session of `person` starting at `start`; nothing at or after `until` is kept.
pub fn session(
    rng: &mut Random,
    index: usize,
    person: &Person,
    start: DateTime<Utc>,
    until: DateTime<Utc>,
    pace: Pace,
    short: bool,
) -> Session {
    let project = rng.pick(&person.projects);
    let model = match rng.unit() {
        x if x < person.opus => OPUS,
        x if x < person.opus + person.haiku => HAIKU,
        _ => SONNET,
    };
    let id = rng.uuid();
    let cwd = format!("/home/{}/{}", person.login, project.name);
    let transcript = format!(
        "/home/{}/.claude/projects/{}/{id}.jsonl",
        person.login,
        cwd.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    );
    let branch = *rng.pick(project.branches);
    let reason = *rng.pick(&[
        "startup", "startup", "startup", "startup", "resume", "clear",
    ]);
    let mut b = Builder {
        rng,
        id: id.clone(),
        cwd,
        transcript,
        project,
        model,
        t: start,
        until,
        items: Vec::new(),
        context: 0,
    };
    b.context = b.rng.between(12_000, 25_000);
    let item = json!({
        "type": "session_start", "id": format!("{id}:start"), "session_id": id,
        "timestamp": ts(start), "cwd": b.cwd, "git_branch": branch, "model": model,
        "reason": reason,
    });
    b.batch(start, item);
    let turns = if short {
        b.rng.between(1, 3)
    } else {
        1 + b.rng.count(5.0) as i64
    };
    let mut edits = 0;
    for turn in 0..turns {
        let typing = b.rng.around(15.0, 0.6);
        let reading = if turn == 0 {
            0.0
        } else {
            b.rng.around(70.0, 0.9).min(1800.0)
        };
        b.t += ms((reading + typing) * 1000.0 * pace.thinking);
        let asked = b.t;
        let prompt = *b.rng.pick(PROMPTS);
        let hook = json!({
            "hook_event_name": "UserPromptSubmit", "session_id": b.id,
            "prompt_id": b.rng.uuid(), "prompt": prompt, "cwd": b.cwd,
            "transcript_path": b.transcript, "permission_mode": "default", "_at": ts(asked),
        });
        b.batch(asked, hook);
        let steps = 1 + b.rng.count(4.5);
        for step in 0..steps {
            if b.rng.chance(0.015) {
                b.api_error();
            }
            b.request(model, false);
            if b.rng.chance(0.08) {
                b.request(HAIKU, true);
            }
            if b.context > 160_000 {
                // Claude Code compacts a full conversation.
                let at = b.t + ms(b.rng.around(20_000.0, 0.4));
                let hook = json!({
                    "hook_event_name": "PreCompact", "session_id": b.id, "trigger": "auto",
                    "_id": b.rng.uuid(), "cwd": b.cwd, "_at": ts(b.t),
                });
                b.batch(b.t, hook);
                b.t = at;
                b.context = b.rng.between(25_000, 40_000);
            }
            if step + 1 == steps {
                // The last answer needs no tool.
                break;
            }
            // Reads and searches often go out together.
            let parallel = if b.rng.chance(0.2) {
                b.rng.between(2, 3)
            } else {
                1
            };
            let mut longest = TimeDelta::zero();
            for _ in 0..parallel {
                let tool = if parallel > 1 {
                    &TOOLS[*b.rng.pick(&[0usize, 3, 4])]
                } else {
                    let weights: Vec<f64> = TOOLS.iter().map(|t| t.weight).collect();
                    &TOOLS[b.rng.weighted(&weights)]
                };
                longest = longest.max(b.tool(tool, &mut edits));
            }
            b.t += longest;
        }
        if edits > 0 && b.rng.chance(0.3) {
            b.shipped("git commit -m \"wip\"", "claude_code.commit.count");
            edits = 0;
            if b.rng.chance(0.15) {
                b.shipped("gh pr create --fill", "claude_code.pull_request.count");
            }
        }
        let cli = (b.t - asked).num_milliseconds() as f64 / 1000.0;
        let at = b.t;
        b.metric(
            at,
            "claude_code.active_time.total",
            (typing * 10.0).round() / 10.0,
            &[("type", "user")],
        );
        b.metric(at, "claude_code.active_time.total", cli, &[("type", "cli")]);
    }
    let end = b.t + ms(b.rng.around(30_000.0, 0.8));
    let reason = *b.rng.pick(&[
        "prompt_input_exit",
        "prompt_input_exit",
        "clear",
        "logout",
        "other",
    ]);
    let item = json!({
        "type": "session_end", "id": format!("{id}:end"), "session_id": id,
        "timestamp": ts(end), "reason": reason,
    });
    b.batch(end, item);
    Session {
        person: index,
        id,
        items: b.items,
    }
}
