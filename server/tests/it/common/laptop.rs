//! A developer laptop running the `devpulse` collector binary: its own HOME, configuration
//! and data directories.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::OnceLock,
};

use serde_json::json;

/// The collector binary, built once per test run (it is another package, so cargo does not
/// build it for this one).
pub fn devpulse() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "collector", "--bin", "devpulse"])
            .current_dir(super::server_dir())
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the collector failed");
        // target/debug/deps/collector-<hash> → target/debug/devpulse
        let exe = std::env::current_exe().unwrap();
        exe.parent().unwrap().parent().unwrap().join("devpulse")
    })
}

/// A laptop: its own HOME, configuration and data directories.
pub struct Laptop {
    pub dir: tempfile::TempDir,
}

impl Laptop {
    pub fn new(server: &str, key: &str) -> Laptop {
        let laptop = Laptop {
            dir: tempfile::tempdir().unwrap(),
        };
        laptop.configure(server, key);
        laptop
    }

    pub fn configure(&self, server: &str, key: &str) {
        let config = self.dir.path().join("config");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::write(
            config.join("config.json"),
            json!({ "server": server, "key": key, "mode": "remote" }).to_string(),
        )
        .unwrap();
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The environment that makes a process run on this laptop.
    pub fn env(&self) -> Vec<(&'static str, PathBuf)> {
        vec![
            ("HOME", self.dir.path().to_path_buf()),
            ("DEVPULSE_CONFIG_DIR", self.dir.path().join("config")),
            ("DEVPULSE_DATA_DIR", self.data()),
            ("TZ", PathBuf::from("UTC")),
        ]
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(devpulse());
        c.args(args).envs(self.env());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().unwrap();
        assert!(
            out.status.success(),
            "devpulse {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}
