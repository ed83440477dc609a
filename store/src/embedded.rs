//! The private PostgreSQL cluster that `make run` uses when `DATABASE_URL` is unset.
//!
//! PostgreSQL refuses to run as root, and CI and our machines run as root, so when we are
//! root the cluster belongs to (and every `initdb`/`pg_ctl` runs as) the `postgres` system
//! user. The cluster listens only on a unix socket in a directory nobody else can enter, so
//! `trust` authentication does not open it to other local users.

use std::{
    ffi::CString,
    fs,
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Command, Output},
};

use sqlx::{postgres::PgConnectOptions, Connection, PgConnection};

use crate::{Error, Result};

const PORT: u16 = 5432;
const SUPERUSER: &str = "postgres";
/// Unix socket paths are limited to 107 bytes on Linux.
const MAX_SOCKET_PATH: usize = 100;

#[derive(Clone, Debug)]
pub struct EmbeddedConfig {
    /// The cluster's data directory, e.g. `.data/postgres`.
    pub data_dir: PathBuf,
    /// Trade durability for speed (no fsync): for throw-away test clusters only.
    pub ephemeral: bool,
}

/// A running private cluster. Dropping it does nothing; call [`EmbeddedPostgres::stop`].
#[derive(Debug)]
pub struct EmbeddedPostgres {
    data_dir: PathBuf,
    socket_dir: PathBuf,
    bin_dir: PathBuf,
    run_as: Option<(u32, u32)>,
    started_here: bool,
}

impl EmbeddedPostgres {
    /// Starts the cluster in `config.data_dir`, creating it first if needed, or reuses it when
    /// it is already running. Blocking: call it before the async runtime gets busy, or from
    /// `spawn_blocking`.
    pub fn start(config: &EmbeddedConfig) -> Result<Self> {
        let bin_dir = find_bin_dir()?;
        let run_as = if unsafe { libc::geteuid() } == 0 {
            Some(lookup_user(SUPERUSER)?)
        } else {
            None
        };
        let data_dir = absolute(&config.data_dir)?;
        let mut pg = EmbeddedPostgres {
            data_dir,
            socket_dir: PathBuf::new(),
            bin_dir,
            run_as,
            started_here: false,
        };
        pg.init_if_needed(config.ephemeral)?;
        if pg.is_running() {
            pg.socket_dir = pg.running_socket_dir()?;
            tracing::info!(data_dir = %pg.data_dir.display(), "reusing running embedded PostgreSQL");
            return Ok(pg);
        }
        pg.socket_dir = pg.make_socket_dir()?;
        pg.write_settings(config.ephemeral)?;
        let log = pg.data_dir.join("server.log");
        let out = pg
            .command("pg_ctl")
            .arg("start")
            .arg("-D")
            .arg(&pg.data_dir)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-s"])
            .output()
            .map_err(|e| Error::Embedded(format!("cannot run pg_ctl: {e}")))?;
        if !out.status.success() {
            let tail = fs::read_to_string(&log)
                .map(|s| s.lines().rev().take(15).collect::<Vec<_>>().join("\n"))
                .unwrap_or_default();
            return Err(Error::Embedded(format!(
                "pg_ctl start failed: {}\nlast lines of {}:\n{tail}",
                describe(&out),
                log.display()
            )));
        }
        tracing::info!(data_dir = %pg.data_dir.display(), "started embedded PostgreSQL");
        Ok(EmbeddedPostgres {
            started_here: true,
            ..pg
        })
    }

    /// A hot standby of `primary` in `config.data_dir`, streaming from it over its socket:
    /// made by `pg_basebackup` the first time (which writes `standby.signal` and the
    /// connection to the primary), then started like any embedded cluster. For trying read
    /// replicas on one machine; a production standby is the database operator's.
    pub fn start_standby(primary: &EmbeddedPostgres, config: &EmbeddedConfig) -> Result<Self> {
        let data_dir = absolute(&config.data_dir)?;
        if !data_dir.join("PG_VERSION").exists() {
            let io = |e: std::io::Error| Error::Embedded(format!("{}: {e}", data_dir.display()));
            if data_dir.exists() {
                fs::remove_dir_all(&data_dir).map_err(io)?;
            }
            fs::create_dir_all(&data_dir).map_err(io)?;
            primary.hand_over(&data_dir)?;
            fs::set_permissions(&data_dir, fs::Permissions::from_mode(0o700)).map_err(io)?;
            let out = primary
                .command("pg_basebackup")
                .arg("-D")
                .arg(&data_dir)
                .arg("-h")
                .arg(&primary.socket_dir)
                .args(["-p", &PORT.to_string(), "-U", SUPERUSER])
                .args(["-R", "-X", "stream", "--checkpoint=fast", "--no-sync"])
                .output()
                .map_err(|e| Error::Embedded(format!("cannot run pg_basebackup: {e}")))?;
            if !out.status.success() {
                return Err(Error::Embedded(format!(
                    "pg_basebackup failed: {}",
                    describe(&out)
                )));
            }
            // The copy holds the primary's socket lock file, naming a live postmaster.
            let run = data_dir.join("run");
            if run.exists() {
                fs::remove_dir_all(&run).map_err(io)?;
            }
        }
        Self::start(config)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// True when this process started the cluster (and so should stop it).
    pub fn started_here(&self) -> bool {
        self.started_here
    }

    pub fn is_running(&self) -> bool {
        self.command("pg_ctl")
            .arg("status")
            .arg("-D")
            .arg(&self.data_dir)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    /// Connection options for `database` as the cluster's superuser.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.socket_dir)
            .port(PORT)
            .username(SUPERUSER)
            .database(database)
    }

    /// A libpq-style URL for tools such as psql and the end-to-end tests.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@localhost:{PORT}/{database}?host={}",
            self.socket_dir.display()
        )
    }

    /// Creates `database` if it does not exist yet.
    pub async fn ensure_database(&self, database: &str) -> Result<()> {
        let mut conn = PgConnection::connect_with(&self.connect_options("postgres")).await?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(database)
                .fetch_one(&mut conn)
                .await?;
        if !exists {
            crate::ident::check(database, "database")?;
            let create = format!("CREATE DATABASE \"{database}\"");
            match sqlx::raw_sql(&create).execute(&mut conn).await {
                Ok(_) => {}
                // Another instance created it between our check and our CREATE.
                Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
                Err(e) => return Err(e.into()),
            }
        }
        conn.close().await?;
        Ok(())
    }

    /// Stops the cluster with a fast shutdown (clients disconnected, data flushed).
    pub fn stop(&self) -> Result<()> {
        let out = self
            .command("pg_ctl")
            .arg("stop")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-m", "fast", "-w", "-t", "60", "-s"])
            .output()
            .map_err(|e| Error::Embedded(format!("cannot run pg_ctl: {e}")))?;
        if !out.status.success() && self.is_running() {
            return Err(Error::Embedded(format!(
                "pg_ctl stop failed: {}",
                describe(&out)
            )));
        }
        // A directory we made under the temporary directory is ours to remove; the one in
        // the data directory stays for the next start.
        if !self.socket_dir.starts_with(&self.data_dir) {
            let _ = fs::remove_dir(&self.socket_dir);
        }
        tracing::info!(data_dir = %self.data_dir.display(), "stopped embedded PostgreSQL");
        Ok(())
    }

    fn init_if_needed(&self, ephemeral: bool) -> Result<()> {
        if self.data_dir.join("PG_VERSION").exists() {
            return Ok(());
        }
        if let Some(parent) = self.data_dir.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| Error::Embedded(format!("cannot create {}: {e}", parent.display())))?;
        }
        // A crash during an earlier initdb leaves a directory without PG_VERSION: start over.
        if self.data_dir.exists() {
            fs::remove_dir_all(&self.data_dir).map_err(|e| {
                Error::Embedded(format!("cannot clear {}: {e}", self.data_dir.display()))
            })?;
        }
        fs::create_dir_all(&self.data_dir).map_err(|e| {
            Error::Embedded(format!("cannot create {}: {e}", self.data_dir.display()))
        })?;
        self.hand_over(&self.data_dir)?;
        fs::set_permissions(&self.data_dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::Embedded(e.to_string()))?;
        if let Some((uid, gid)) = self.run_as {
            check_reachable(&self.data_dir, uid, gid)?;
        }
        let mut initdb = self.command("initdb");
        initdb.arg("-D").arg(&self.data_dir).args([
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
        ]);
        if ephemeral {
            initdb.arg("--no-sync");
        }
        let out = initdb
            .output()
            .map_err(|e| Error::Embedded(format!("cannot run initdb: {e}")))?;
        if !out.status.success() {
            return Err(Error::Embedded(format!(
                "initdb failed: {}",
                describe(&out)
            )));
        }
        tracing::info!(data_dir = %self.data_dir.display(), "initialised embedded PostgreSQL cluster");
        Ok(())
    }

    /// Our settings live in their own file, rewritten at every start so a moved project
    /// directory still finds its socket.
    fn write_settings(&self, ephemeral: bool) -> Result<()> {
        let io = |e: std::io::Error| Error::Embedded(e.to_string());
        let mut conf = format!(
            "# Written by devpulse at every start; edit postgresql.conf for your own settings.\n\
             listen_addresses = ''\n\
             port = {PORT}\n\
             unix_socket_directories = '{}'\n\
             unix_socket_permissions = 0700\n\
             max_connections = 200\n\
             shared_buffers = 256MB\n\
             # Ingest writes WAL in bursts: room for a burst in memory, and no checkpoint\n\
             # forced by WAL volume in the middle of one.\n\
             wal_buffers = 16MB\n\
             max_wal_size = 2GB\n\
             checkpoint_timeout = 15min\n",
            self.socket_dir.display().to_string().replace('\'', "''")
        );
        if ephemeral {
            conf.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        }
        let path = self.data_dir.join("devpulse.conf");
        fs::write(&path, conf).map_err(io)?;
        self.hand_over(&path)?;
        let main = self.data_dir.join("postgresql.conf");
        let text = fs::read_to_string(&main).map_err(io)?;
        let include = "include_if_exists = 'devpulse.conf'";
        if !text.contains(include) {
            fs::write(&main, format!("{text}\n{include}\n")).map_err(io)?;
        }
        Ok(())
    }

    /// Gives `path` itself to the `postgres` user. Never through a symbolic link: as root,
    /// following one planted in place of our file would hand over whatever it points at.
    fn hand_over(&self, path: &Path) -> Result<()> {
        if let Some((uid, gid)) = self.run_as {
            std::os::unix::fs::lchown(path, Some(uid), Some(gid)).map_err(|e| {
                Error::Embedded(format!(
                    "cannot give {} to {SUPERUSER}: {e}",
                    path.display()
                ))
            })?;
        }
        Ok(())
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(program));
        // Keep the child out of our process group so a Ctrl-C in the terminal reaches only
        // us; we stop the cluster ourselves, cleanly.
        cmd.process_group(0);
        cmd.env_remove("PGDATA").env("LC_ALL", "C");
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid).env("HOME", "/tmp");
            // The working directory must be readable by the postgres user.
            cmd.current_dir("/");
        }
        cmd
    }
}

fn describe(out: &Output) -> String {
    let mut s = format!("exit status {}", out.status);
    for stream in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(stream);
        if !text.trim().is_empty() {
            s.push_str(": ");
            s.push_str(text.trim());
        }
    }
    s
}

fn absolute(path: &Path) -> Result<PathBuf> {
    if path.is_absolute() {
        Ok(path.to_path_buf())
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .map_err(|e| Error::Embedded(e.to_string()))
    }
}

impl EmbeddedPostgres {
    /// The socket directory of the cluster running now, from its `postmaster.pid` (the fifth
    /// line), checked like one we made.
    fn running_socket_dir(&self) -> Result<PathBuf> {
        let pid_file = self.data_dir.join("postmaster.pid");
        let text = fs::read_to_string(&pid_file)
            .map_err(|e| Error::Embedded(format!("cannot read {}: {e}", pid_file.display())))?;
        let dir = text
            .lines()
            .nth(4)
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(PathBuf::from)
            .ok_or_else(|| {
                Error::Embedded(format!("no socket directory in {}", pid_file.display()))
            })?;
        self.check_private(&dir)?;
        Ok(dir)
    }

    /// `<data dir>/run` when the socket path fits there (it always does unless the project
    /// sits very deep); otherwise a new directory under the temporary directory with an
    /// unguessable name, created by us, mode 0700, in one step, so nobody can have made it
    /// (or a link in its place) first.
    fn make_socket_dir(&self) -> Result<PathBuf> {
        use std::os::unix::fs::DirBuilderExt;
        let io = |what: &Path, e: std::io::Error| {
            Error::Embedded(format!("cannot create {}: {e}", what.display()))
        };
        let inside = self.data_dir.join("run");
        let dir = if inside.join(".s.PGSQL.5432").as_os_str().len() <= MAX_SOCKET_PATH {
            match fs::DirBuilder::new().mode(0o700).create(&inside) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io(&inside, e)),
            }
            inside
        } else {
            loop {
                let dir = std::env::temp_dir()
                    .join(format!("devpulse-pg-{}", crate::secrets::random_token(12)));
                match fs::DirBuilder::new().mode(0o700).create(&dir) {
                    Ok(()) => break dir,
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(io(&dir, e)),
                }
            }
        };
        self.hand_over(&dir)?;
        self.check_private(&dir)?;
        Ok(dir)
    }

    /// A socket directory is a real directory (not a link), owned by whoever runs the
    /// cluster, and closed to everyone else: `trust` authentication relies on it.
    fn check_private(&self, dir: &Path) -> Result<()> {
        use std::os::unix::fs::MetadataExt;
        let meta = fs::symlink_metadata(dir)
            .map_err(|e| Error::Embedded(format!("cannot inspect {}: {e}", dir.display())))?;
        let owner = self
            .run_as
            .map(|(uid, _)| uid)
            .unwrap_or_else(|| unsafe { libc::geteuid() });
        if !meta.is_dir() || meta.uid() != owner {
            return Err(Error::Embedded(format!(
                "{} is not a directory owned by the database user; refusing to use it",
                dir.display()
            )));
        }
        if meta.mode() & 0o077 != 0 {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::Embedded(e.to_string()))?;
        }
        Ok(())
    }
}

/// The directory holding `initdb` and `pg_ctl`: `PG_BIN_DIR`, else the newest
/// `/usr/lib/postgresql/*/bin` (Debian's layout), else `pg_config --bindir`.
pub fn find_bin_dir() -> Result<PathBuf> {
    if let Ok(dir) = std::env::var("PG_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    Err(Error::Embedded(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: install the `postgresql` package, \
         set PG_BIN_DIR, or set DATABASE_URL to use an existing server"
            .into(),
    ))
}

pub(crate) fn lookup_user(name: &str) -> Result<(u32, u32)> {
    let cname = CString::new(name).expect("no NUL in user name");
    // SAFETY: getpwnam returns a pointer into static storage or NULL; we copy out at once.
    let pw = unsafe { libc::getpwnam(cname.as_ptr()) };
    if pw.is_null() {
        return Err(Error::Embedded(format!(
            "running as root, and PostgreSQL refuses to run as root, but there is no `{name}` \
             system user to run it as (install the `postgresql` package, or run as another user)"
        )));
    }
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    Ok((uid, gid))
}

/// As root every directory is reachable; the postgres user needs search permission on each
/// parent of the data directory.
fn check_reachable(dir: &Path, uid: u32, gid: u32) -> Result<()> {
    for ancestor in dir.ancestors().skip(1) {
        let Ok(meta) = fs::metadata(ancestor) else {
            continue;
        };
        use std::os::unix::fs::MetadataExt;
        let mode = meta.mode();
        let ok = (meta.uid() == uid && mode & 0o100 != 0)
            || (meta.gid() == gid && mode & 0o010 != 0)
            || mode & 0o001 != 0;
        if !ok {
            return Err(Error::Embedded(format!(
                "the `{SUPERUSER}` user cannot enter {} (mode {:o}); PostgreSQL runs as that user \
                 because we are root. Move the project, set DEVPULSE_DATA_DIR to a directory it can \
                 reach, or `chmod o+x` that directory",
                ancestor.display(),
                mode & 0o777
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    fn cluster_at(data_dir: PathBuf) -> EmbeddedPostgres {
        let run_as = if unsafe { libc::geteuid() } == 0 {
            Some(lookup_user(SUPERUSER).expect("the postgres user exists where we run as root"))
        } else {
            None
        };
        EmbeddedPostgres {
            data_dir,
            socket_dir: PathBuf::new(),
            bin_dir: PathBuf::new(),
            run_as,
            started_here: false,
        }
    }

    #[test]
    fn a_deep_data_directory_gets_an_unguessable_private_socket_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let deep = tmp.path().join("x".repeat(120)).join("postgres");
        let pg = cluster_at(deep.clone());
        let first = pg.make_socket_dir().unwrap();
        let second = pg.make_socket_dir().unwrap();
        // Nobody can create it first: its name is new each time, and it is made 0700.
        assert_ne!(first, second);
        for dir in [&first, &second] {
            assert!(!dir.starts_with(&deep));
            let meta = fs::symlink_metadata(dir).unwrap();
            assert!(meta.is_dir());
            assert_eq!(meta.mode() & 0o777, 0o700);
            fs::remove_dir(dir).unwrap();
        }
        // A short path keeps the socket inside the data directory.
        let shallow = tmp.path().join("pg");
        fs::create_dir(&shallow).unwrap();
        let dir = cluster_at(shallow.clone()).make_socket_dir().unwrap();
        assert_eq!(dir, shallow.join("run"));
    }

    #[test]
    fn a_planted_link_is_refused_as_a_socket_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let elsewhere = tmp.path().join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        let pg = cluster_at(tmp.path().join("pg"));
        fs::create_dir(&pg.data_dir).unwrap();
        std::os::unix::fs::symlink(&elsewhere, pg.data_dir.join("run")).unwrap();
        assert!(pg.make_socket_dir().is_err());
    }

    /// As root, handing a link over to `postgres` must not hand over what it points at.
    #[test]
    fn handing_over_never_follows_a_link() {
        let pg = cluster_at(PathBuf::from("/nonexistent"));
        if pg.run_as.is_none() {
            eprintln!("not root: nothing is handed over, so nothing to check");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let precious = tmp.path().join("precious");
        fs::write(&precious, "root's").unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&precious, &link).unwrap();
        pg.hand_over(&link).unwrap();
        assert_eq!(fs::metadata(&precious).unwrap().uid(), 0);
        assert_eq!(
            fs::symlink_metadata(&link).unwrap().uid(),
            pg.run_as.unwrap().0
        );
    }
}
