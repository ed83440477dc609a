//! The `devpulse` binary on a laptop without a server: set-up and its undoing, the hook when
//! nothing is configured, and the import's validation report.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use serde_json::{json, Value};

pub(crate) fn devpulse(home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_devpulse"));
    c.args(args)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("DEVPULSE_CONFIG_DIR")
        .env_remove("DEVPULSE_DATA_DIR")
        .env_remove("DEVPULSE_SEND_CONTENT");
    c
}

pub(crate) fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn setup_keeps_what_was_there_and_uninstall_restores_it() {
    let home = tempfile::tempdir().unwrap();
    let settings = home.path().join(".claude/settings.json");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    let original = json!({
        "model": "opus",
        "env": { "EDITOR": "vim" },
        "permissions": { "allow": ["Bash(cargo test:*)"] },
        "hooks": {
            "PreToolUse": [{ "matcher": "Bash", "hooks": [{ "type": "command", "command": "guard.sh" }] }],
            "Stop": [{ "hooks": [{ "type": "command", "command": "notify-send done" }] }]
        }
    });
    let text = serde_json::to_string_pretty(&original).unwrap();
    std::fs::write(&settings, &text).unwrap();

    ok(devpulse(
        home.path(),
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
    let installed: Value =
        serde_json::from_str(&std::fs::read_to_string(&settings).unwrap()).unwrap();
    assert_eq!(installed["env"]["EDITOR"], "vim");
    assert_eq!(installed["permissions"], original["permissions"]);
    let pre = installed["hooks"]["PreToolUse"].to_string();
    assert!(
        pre.contains("guard.sh") && pre.contains("devpulse-hook"),
        "{pre}"
    );
    assert!(installed["hooks"]["Stop"]
        .to_string()
        .contains("notify-send"));
    assert!(installed["hooks"]["SessionStart"]
        .to_string()
        .contains("devpulse-hook"));
    // The configuration holds the key, readable by its owner only.
    let config = home.path().join(".config/devpulse/config.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&config).unwrap().permissions().mode() & 0o777,
        0o600
    );

    ok(devpulse(home.path(), &["setup", "--uninstall"])
        .output()
        .unwrap());
    let restored: Value =
        serde_json::from_str(&std::fs::read_to_string(&settings).unwrap()).unwrap();
    assert_eq!(restored, original);
}

#[test]
fn the_hook_always_succeeds_silently_and_says_why_in_its_log() {
    let home = tempfile::tempdir().unwrap();
    for body in [
        &b"{\"session_id\":\"s\",\"hook_event_name\":\"Stop\"}"[..],
        b"not json",
    ] {
        let mut child = devpulse(home.path(), &["hook"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(body).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        assert!(out.stdout.is_empty() && out.stderr.is_empty());
    }
    let data: PathBuf = home.path().join(".local/share/devpulse");
    // The good event is spooled even though nothing is configured yet.
    let spool = std::fs::read_to_string(data.join("spool/current.ndjson")).unwrap();
    assert_eq!(spool.lines().count(), 1, "{spool}");
    let log = std::fs::read_to_string(data.join("errors.log")).unwrap();
    assert!(log.contains("devpulse setup"), "{log}");
    assert!(log.contains("not JSON"), "{log}");
    let status = ok(devpulse(home.path(), &["status"]).output().unwrap());
    assert!(status.contains("1 events waiting"), "{status}");
    let doctor = devpulse(home.path(), &["doctor"]).output().unwrap();
    assert!(!doctor.status.success());
    assert!(String::from_utf8_lossy(&doctor.stdout).contains("devpulse setup"));
}

#[test]
fn a_dry_run_reports_every_skipped_line_and_sends_nothing() {
    let home = tempfile::tempdir().unwrap();
    let fixture = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../testdata/fixtures/home-chen");
    let report = ok(devpulse(
        home.path(),
        &["import", "--dry-run", fixture.to_str().unwrap()],
    )
    .output()
    .unwrap());
    assert!(
        report.contains(".agent-os/metrics/tool-metrics.jsonl:3: duplicate"),
        "{report}"
    );
    assert!(
        report.contains(".ai-mesh/metrics/tool-metrics.jsonl:1:"),
        "{report}"
    );
    assert!(report.contains("same message"), "{report}");
    assert!(!home
        .path()
        .join(".local/share/devpulse/import-state.json")
        .exists());
}
