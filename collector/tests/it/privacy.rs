//! What the collector leaves on a laptop: who may read it, how much of a session's content it
//! holds, and where `setup` is willing to write the API key.

use std::{
    fs,
    io::Write,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::Stdio,
};

use serde_json::{json, Value};

use crate::cli::{devpulse, ok};

fn mode(path: &Path) -> u32 {
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn data(home: &Path) -> PathBuf {
    home.join(".local/share/devpulse")
}

/// Runs the hook as Claude Code does, with `body` on stdin.
fn hook(home: &Path, body: &Value, env: &[(&str, &str)]) {
    let mut child = devpulse(home, &["hook"])
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success() && out.stdout.is_empty() && out.stderr.is_empty());
}

fn spooled(home: &Path) -> Vec<Value> {
    fs::read_to_string(data(home).join("spool/current.ndjson"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn everything_the_collector_writes_is_readable_by_its_owner_only() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    // Left by an earlier version, created with the usual umask: readable by everyone.
    let data = data(home);
    fs::create_dir_all(&data).unwrap();
    chmod(&data, 0o755);
    fs::write(data.join("errors.log"), "an old line\n").unwrap();
    chmod(&data.join("errors.log"), 0o644);

    // Not set up yet: the event is spooled and the hook logs why it did not sync.
    hook(
        home,
        &json!({"session_id": "s", "hook_event_name": "Stop"}),
        &[],
    );
    assert_eq!(mode(&data.join("spool")), 0o700);
    assert_eq!(mode(&data.join("spool/current.ndjson")), 0o600);
    assert_eq!(mode(&data.join("errors.log")), 0o600);
    assert_eq!(mode(&data), 0o700);

    ok(devpulse(
        home,
        &[
            "setup",
            "--server",
            "http://127.0.0.1:1",
            "--key",
            "dp_test",
        ],
    )
    .output()
    .unwrap());
    let config = home.join(".config/devpulse");
    assert_eq!(mode(&config), 0o700);
    assert_eq!(mode(&config.join("config.json")), 0o600);
    assert_eq!(mode(&home.join(".claude/settings.json")), 0o600);

    // Nobody listens on port 1: the sync fails, and records that in its state and the log.
    let out = devpulse(home, &["sync", "--wait", "0"]).output().unwrap();
    assert!(!out.status.success());
    for file in ["sync.lock", "sync-state.json", "errors.log"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
}

/// What Claude Code sends that is content rather than metadata, each marked `SECRET`.
fn content_bodies() -> Vec<Value> {
    let common = json!({"session_id": "s1", "transcript_path": "/home/ana/.claude/projects/x/s1.jsonl",
                        "cwd": "/home/ana/shop", "permission_mode": "default"});
    let with = |extra: Value| {
        let mut v = common.clone();
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    vec![
        with(
            json!({"hook_event_name": "UserPromptSubmit", "prompt_id": "p1",
                    "prompt": "SECRET: the staging password is hunter2 ✓"}),
        ),
        with(
            json!({"hook_event_name": "PreToolUse", "tool_name": "Write", "tool_use_id": "t1",
                    "tool_input": {"file_path": "/home/ana/shop/.env", "content": "SECRET=1\n"}}),
        ),
        with(
            json!({"hook_event_name": "PostToolUse", "tool_name": "Write", "tool_use_id": "t1",
                    "duration_ms": 12,
                    "tool_input": {"file_path": "/home/ana/shop/.env", "content": "SECRET=1\n"},
                    "tool_response": {"type": "create", "filePath": "/home/ana/shop/.env",
                                      "content": "SECRET=1\n", "structuredPatch": []}}),
        ),
        with(
            json!({"hook_event_name": "PostToolUse", "tool_name": "Edit", "tool_use_id": "t2",
                    "tool_input": {"file_path": "/home/ana/shop/a.rs", "old_string": "SECRET old",
                                   "new_string": "SECRET new", "replace_all": false},
                    "tool_response": {"filePath": "/home/ana/shop/a.rs", "oldString": "SECRET old"}}),
        ),
        with(
            json!({"hook_event_name": "PostToolUseFailure", "tool_name": "Bash", "tool_use_id": "t3",
                    "tool_input": {"command": "cargo test", "description": "Run tests"},
                    "error": "SECRET in stderr", "is_interrupt": false}),
        ),
        with(
            json!({"hook_event_name": "PreToolUse", "tool_name": "Task", "tool_use_id": "t4",
                    "tool_input": {"subagent_type": "code-reviewer", "description": "Review",
                                   "prompt": "SECRET instructions"}}),
        ),
        with(json!({"hook_event_name": "Stop", "stop_hook_active": false,
                    "last_assistant_message": "SECRET answer"})),
        with(json!({"hook_event_name": "PreCompact", "trigger": "manual",
                    "custom_instructions": "SECRET focus"})),
    ]
}

#[test]
fn the_hook_spools_no_prompt_or_tool_output_unless_asked_to() {
    let home = tempfile::tempdir().unwrap();
    let bodies = content_bodies();
    for body in &bodies {
        hook(home.path(), body, &[]);
    }
    let lines = spooled(home.path());
    assert_eq!(lines.len(), bodies.len());
    for line in &lines {
        assert!(!line.to_string().contains("SECRET"), "{line}");
        // Everything the server reads is still there.
        for k in [
            "session_id",
            "cwd",
            "hook_event_name",
            "transcript_path",
            "_id",
            "_at",
        ] {
            assert!(line[k].is_string(), "{k} in {line}");
        }
    }
    let prompt = "SECRET: the staging password is hunter2 ✓";
    assert_eq!(lines[0]["prompt_length"], prompt.chars().count());
    assert_eq!(lines[0]["prompt_id"], "p1");
    assert_eq!(
        lines[1]["tool_input"],
        json!({"file_path": "/home/ana/shop/.env"})
    );
    // The size the server would have recorded had it received the output.
    let response = bodies[2]["tool_response"].to_string();
    assert_eq!(lines[2]["tool_response_bytes"], response.len());
    assert_eq!(lines[2]["tool_use_id"], "t1");
    assert_eq!(lines[2]["duration_ms"], 12);
    assert_eq!(lines[3]["tool_input"]["replace_all"], false);
    assert_eq!(lines[4]["tool_input"]["command"], "cargo test");
    assert_eq!(lines[4]["is_interrupt"], false);
    assert_eq!(lines[5]["tool_input"]["subagent_type"], "code-reviewer");
    assert_eq!(lines[7]["trigger"], "manual");

    // Opted in through the environment: the bodies as Claude Code sent them.
    let home = tempfile::tempdir().unwrap();
    for body in &bodies {
        hook(home.path(), body, &[("DEVPULSE_SEND_CONTENT", "1")]);
    }
    let as_sent = |lines: Vec<Value>| -> Vec<Value> {
        lines
            .into_iter()
            .map(|mut l| {
                let o = l.as_object_mut().unwrap();
                o.remove("_id").unwrap();
                o.remove("_at").unwrap();
                l
            })
            .collect()
    };
    assert_eq!(as_sent(spooled(home.path())), bodies);

    // Opted in by setup, saved in the configuration; the environment can still say no.
    let home = tempfile::tempdir().unwrap();
    ok(devpulse(
        home.path(),
        &[
            "setup",
            "--server",
            "http://127.0.0.1:1",
            "--key",
            "dp_test",
            "--send-content",
        ],
    )
    .output()
    .unwrap());
    let config: Value = serde_json::from_slice(
        &fs::read(home.path().join(".config/devpulse/config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(config["send_content"], true);
    // Held as a running sync holds it, so the hooks start no sync that would move the spool.
    let _sync = collector::spool::try_lock(&data(home.path()).join("sync.lock"))
        .unwrap()
        .unwrap();
    hook(home.path(), &bodies[0], &[]);
    hook(home.path(), &bodies[0], &[("DEVPULSE_SEND_CONTENT", "0")]);
    let lines = spooled(home.path());
    assert_eq!(lines[0]["prompt"], prompt);
    assert!(lines[1].get("prompt").is_none(), "{}", lines[1]);
}

#[test]
fn setup_will_not_write_the_key_into_a_projects_shared_settings() {
    let home = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let args = |extra: &[&'static str]| {
        let mut a = vec![
            "setup",
            "--server",
            "http://127.0.0.1:1",
            "--key",
            "dp_secret",
            "--otel",
            "--project",
            project.path().to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        a
    };
    let out = devpulse(home.path(), &args(&[])).output().unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("settings.local.json") && said.contains("--local"),
        "{said}"
    );
    assert!(!project.path().join(".claude").exists());
    assert!(
        !home.path().join(".config/devpulse/config.json").exists(),
        "refused before anything was written"
    );

    // The project's own, uncommitted settings file: written, for its owner only.
    ok(devpulse(home.path(), &args(&["--local"])).output().unwrap());
    let local = project.path().join(".claude/settings.local.json");
    assert!(fs::read_to_string(&local).unwrap().contains("dp_secret"));
    assert_eq!(mode(&local), 0o600);
    assert!(!project.path().join(".claude/settings.json").exists());
    let doctor = devpulse(
        home.path(),
        &[
            "doctor",
            "--project",
            project.path().to_str().unwrap(),
            "--local",
        ],
    )
    .output()
    .unwrap();
    assert!(
        String::from_utf8_lossy(&doctor.stdout).contains("devpulse set up in"),
        "{}",
        String::from_utf8_lossy(&doctor.stdout)
    );

    // Hooks hold no key: a project's shared settings are fine for them.
    ok(devpulse(
        home.path(),
        &[
            "setup",
            "--server",
            "http://127.0.0.1:1",
            "--key",
            "dp_secret",
            "--project",
            project.path().to_str().unwrap(),
        ],
    )
    .output()
    .unwrap());
    let shared = fs::read_to_string(project.path().join(".claude/settings.json")).unwrap();
    assert!(
        shared.contains("devpulse") && !shared.contains("dp_secret"),
        "{shared}"
    );

    // An existing settings file the key goes into becomes private too.
    let user = home.path().join(".claude/settings.json");
    fs::create_dir_all(user.parent().unwrap()).unwrap();
    fs::write(&user, r#"{"model": "opus"}"#).unwrap();
    chmod(&user, 0o644);
    let out = devpulse(
        home.path(),
        &[
            "setup",
            "--server",
            "http://127.0.0.1:1",
            "--key",
            "dp_secret",
            "--otel",
        ],
    )
    .output()
    .unwrap();
    ok(out);
    assert!(fs::read_to_string(&user).unwrap().contains("dp_secret"));
    assert_eq!(mode(&user), 0o600);
}
