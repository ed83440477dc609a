//! Where the collector keeps things, and its configuration file.
//!
//! - configuration: `$XDG_CONFIG_HOME/devpulse/config.json` (else `~/.config/devpulse/`);
//! - data: `$XDG_DATA_HOME/devpulse/` (else `~/.local/share/devpulse/`): the spool, the local
//!   copy kept in hybrid mode, sync state, import state and the error log.
//!
//! `DEVPULSE_CONFIG_DIR` and `DEVPULSE_DATA_DIR` override both (tests, several profiles).
//!
//! Both directories are 0700 and every file in them 0600, from the moment it is created: the
//! configuration holds the API key, and the rest holds what sessions did (paths, commands, and
//! with `send_content` prompts and tool output), which other accounts on a shared machine must
//! not read. A directory or file found with wider permissions (made by an older version, or
//! by hand) loses them the next time the collector writes there.

use std::{
    fs::{self, File},
    io::{self, Write},
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Keep a local copy of every event (for offline reports) and ship it to the server.
    #[default]
    Hybrid,
    /// Spool only until the server has it.
    Remote,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// The devpulse server, e.g. `https://devpulse.example.com`.
    pub server: String,
    /// An API key with the `ingest` scope (and `read` for reports and MCP queries).
    pub key: String,
    #[serde(default)]
    pub mode: Mode,
    /// Spool and send prompts, tool output and file contents as Claude Code gives them to the
    /// hook; without it they are cut out first (see [`crate::hook::strip_content`]).
    /// `DEVPULSE_SEND_CONTENT=1` or `=0` in the hook's environment overrides it.
    #[serde(default)]
    pub send_content: bool,
}

#[derive(Clone, Debug)]
pub struct Paths {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
}

impl Paths {
    pub fn from_env() -> Paths {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        let xdg = |var: &str, fallback: &[&str]| {
            std::env::var_os(var)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| fallback.iter().fold(home.clone(), |p, s| p.join(s)))
        };
        let config_dir = std::env::var_os("DEVPULSE_CONFIG_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| xdg("XDG_CONFIG_HOME", &[".config"]).join("devpulse"));
        let data_dir = std::env::var_os("DEVPULSE_DATA_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| xdg("XDG_DATA_HOME", &[".local", "share"]).join("devpulse"));
        Paths {
            config_dir,
            data_dir,
        }
    }

    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.json")
    }
    pub fn spool_dir(&self) -> PathBuf {
        self.data_dir.join("spool")
    }
    /// Hybrid mode's local copy: delivered segments move here instead of being deleted.
    pub fn local_dir(&self) -> PathBuf {
        self.data_dir.join("local")
    }
    pub fn error_log(&self) -> PathBuf {
        self.data_dir.join("errors.log")
    }
    pub fn sync_lock(&self) -> PathBuf {
        self.data_dir.join("sync.lock")
    }
    pub fn sync_state(&self) -> PathBuf {
        self.data_dir.join("sync-state.json")
    }
    pub fn import_state(&self) -> PathBuf {
        self.data_dir.join("import-state.json")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no configuration at {0}: run `devpulse setup --server URL --key KEY`")]
    Missing(PathBuf),
    #[error("cannot read {0}: {1}")]
    Unreadable(PathBuf, String),
    #[error("cannot write {0}: {1}")]
    Unwritable(PathBuf, String),
}

impl Config {
    pub fn load(paths: &Paths) -> Result<Config, ConfigError> {
        let file = paths.config_file();
        let text = match fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConfigError::Missing(file))
            }
            Err(e) => return Err(ConfigError::Unreadable(file, e.to_string())),
        };
        serde_json::from_str(&text).map_err(|e| ConfigError::Unreadable(file, e.to_string()))
    }

    /// Writes the file with mode 0600 from the start (never briefly world-readable), through a
    /// temporary file and a rename so a crash leaves the old or the new file, not half of one.
    pub fn save(&self, paths: &Paths) -> Result<PathBuf, ConfigError> {
        let file = paths.config_file();
        let fail = |e: std::io::Error| ConfigError::Unwritable(file.clone(), e.to_string());
        private_dir(&paths.config_dir).map_err(fail)?;
        let tmp = paths.config_dir.join(".config.json.tmp");
        write_private(
            &tmp,
            serde_json::to_vec_pretty(self).expect("config serialises"),
        )
        .map_err(fail)?;
        fs::rename(&tmp, &file).map_err(fail)?;
        Ok(file)
    }
}

/// Creates `dir`, and any missing parent, readable by its owner only; an existing `dir` loses
/// the permissions of group and others.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir)?.permissions().mode();
        if mode & 0o077 != 0 {
            fs::set_permissions(dir, fs::Permissions::from_mode(mode & 0o700))?;
        }
    }
    Ok(())
}

/// Options that create a file readable by its owner only, with no moment of wider
/// permissions. An existing file keeps its mode: follow with [`make_private`].
pub fn private_file() -> fs::OpenOptions {
    #[allow(unused_mut)]
    let mut opts = fs::OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts
}

/// Takes the permissions of group and others off an open file, if it has any.
pub fn make_private(file: &File) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata()?.permissions().mode();
        if mode & 0o077 != 0 {
            file.set_permissions(fs::Permissions::from_mode(mode & 0o700))?;
        }
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

/// Creates (or truncates) a file readable only by its owner and writes `bytes` to it.
pub fn write_private(path: &Path, bytes: impl AsRef<[u8]>) -> io::Result<()> {
    let mut f = private_file()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    make_private(&f)?;
    f.write_all(bytes.as_ref())?;
    f.sync_all()
}
