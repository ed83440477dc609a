//! Test support: one private cluster per test run and a fresh database per test, cloned from
//! a template that already has the registry migrations (cloning takes milliseconds; migrating
//! does not).
//!
//! The cluster is `TEST_DATABASE_URL` (a superuser URL) when set, else an ephemeral embedded
//! cluster under `.data/test-postgres` that later test binaries reuse; `make test` wipes it
//! before and stops it after the run.

use std::{path::PathBuf, sync::OnceLock};

use sha2::{Digest, Sha256};
use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions},
    Connection, PgConnection,
};

use crate::{
    embedded::{EmbeddedConfig, EmbeddedPostgres},
    migrate, Store,
};

struct Cluster {
    admin_url: String,
    template: String,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();

fn cluster() -> &'static Cluster {
    CLUSTER
        .get_or_init(|| {
            // Our own thread and runtime: callers are usually inside a #[tokio::test]
            // runtime that cannot block_on, and that dies with its test.
            std::thread::spawn(init)
                .join()
                .unwrap_or_else(|_| Err("test cluster set-up panicked".into()))
        })
        .as_ref()
        .unwrap_or_else(|e| panic!("test database cluster unavailable: {e}"))
}

/// The embedded test cluster's data directory.
pub fn test_cluster_dir() -> PathBuf {
    std::env::var_os("DEVPULSE_TEST_PG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(
                std::env::var_os("CARGO_MANIFEST_DIR")
                    .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
            )
            .join("../.data/test-postgres")
        })
}

fn init() -> Result<Cluster, String> {
    // Only the embedded cluster is ours to sweep (see [`sweep`]).
    let (admin_url, ours) = match std::env::var("TEST_DATABASE_URL") {
        Ok(url) => (url, false),
        Err(_) => {
            let pg = EmbeddedPostgres::start(&EmbeddedConfig {
                data_dir: test_cluster_dir(),
                ephemeral: true,
            })
            .map_err(|e| e.to_string())?;
            (pg.url("postgres"), true)
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let template = rt
        .block_on(ensure_template(&admin_url))
        .map_err(|e| e.to_string())?;
    if ours {
        let url = admin_url.clone();
        std::thread::spawn(move || {
            let swept = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
                .and_then(|rt| rt.block_on(sweep(&url)).map_err(|e| e.to_string()));
            if let Err(e) = swept {
                eprintln!("sweeping earlier test databases: {e}");
            }
        });
    }
    Ok(Cluster {
        admin_url,
        template,
    })
}

/// A passed test's database is dropped soon after it ends (see [`TestDb`]'s `Drop`); a failed
/// test's database stays, being worth a look, and so do those of a binary that exits before
/// its dropper gets to them. `make test` starts from a wiped cluster, but a `cargo test` loop
/// while developing does not: each test binary, once, in the background, drops the test
/// databases earlier runs left: those dated over an hour ago (or named in an older way). One
/// still in use refuses the DROP and waits for a later sweep.
/// Templates stay (one per change of the migrations): a test binary built before that change
/// may be running beside this one and cloning its own.
async fn sweep(admin_url: &str) -> crate::Result<()> {
    let admin: PgConnectOptions = admin_url.parse()?;
    let mut conn = PgConnection::connect_with(&admin).await?;
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'test\\_%'")
            .fetch_all(&mut conn)
            .await?;
    let now = unix_secs();
    for name in names {
        if made_at(&name).is_some_and(|at| now.saturating_sub(at) < 3600) {
            continue;
        }
        let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\""))
            .execute(&mut conn)
            .await;
    }
    conn.close().await?;
    Ok(())
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// When a test database named `test_{seconds}_{random}` was made (`None`: another name).
fn made_at(name: &str) -> Option<u64> {
    let (secs, random) = name.strip_prefix("test_")?.split_once('_')?;
    (!random.is_empty()).then_some(())?;
    secs.parse().ok()
}

/// Templates are named after the migrations they hold, so changing a migration makes a new one.
fn template_name() -> String {
    let mut h = Sha256::new();
    for m in migrate::REGISTRY.iter().chain(migrate::TENANT.iter()) {
        h.update(m.version.to_le_bytes());
        h.update(&m.checksum);
    }
    format!("devpulse_tpl_{}", &hex::encode(h.finalize())[..16])
}

async fn ensure_template(admin_url: &str) -> crate::Result<String> {
    let name = template_name();
    let admin: PgConnectOptions = admin_url.parse()?;
    let mut conn = PgConnection::connect_with(&admin).await?;
    // Test binaries may start at once; one of them builds the template.
    sqlx::query("SELECT pg_advisory_lock(7461)")
        .execute(&mut conn)
        .await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        let building = format!("{name}_building");
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{building}\""))
            .execute(&mut conn)
            .await?;
        sqlx::raw_sql(&format!("CREATE DATABASE \"{building}\""))
            .execute(&mut conn)
            .await?;
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(admin.clone().database(&building))
            .await?;
        migrate::run(&pool).await?;
        pool.close().await;
        // Renamed only once complete, so a crash never leaves a half-built template.
        sqlx::raw_sql(&format!(
            "ALTER DATABASE \"{building}\" RENAME TO \"{name}\""
        ))
        .execute(&mut conn)
        .await?;
    }
    sqlx::query("SELECT pg_advisory_unlock(7461)")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(name)
}

/// A fresh, migrated database of its own for one test.
pub struct TestDb {
    pub store: Store,
    pub name: String,
    url: String,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let cluster = cluster();
        // Dated, for the sweep of a later run.
        let name = format!(
            "test_{}_{}",
            unix_secs(),
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let admin: PgConnectOptions = cluster.admin_url.parse().expect("admin URL");
        let mut conn = PgConnection::connect_with(&admin)
            .await
            .expect("connect to test cluster");
        sqlx::raw_sql(&format!(
            "CREATE DATABASE \"{name}\" TEMPLATE \"{}\"",
            cluster.template
        ))
        .execute(&mut conn)
        .await
        .expect("clone test database");
        conn.close().await.ok();
        let url = url_for(&cluster.admin_url, &name);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(url.parse().expect("test database URL"))
            .await
            .expect("connect to test database");
        TestDb {
            store: Store::from_pool(pool),
            name,
            url,
        }
    }

    /// A superuser URL for this database, e.g. for a server started as a subprocess.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The environment a server needs to use this database: `DATABASE_URL` alone, or, when
    /// `DEVPULSE_TEST_POOLER` is set, `DATABASE_URL` through [`pooler`] and
    /// `DATABASE_DIRECT_URL` beside it.
    pub fn server_env(&self) -> Vec<(&'static str, String)> {
        if std::env::var_os("DEVPULSE_TEST_POOLER").is_some_and(|v| !v.is_empty()) {
            self.pooled_env()
        } else {
            vec![("DATABASE_URL", self.url.clone())]
        }
    }

    /// `DATABASE_URL` through [`pooler`], and `DATABASE_DIRECT_URL`.
    pub fn pooled_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DATABASE_URL", pooler().url(&self.name)),
            ("DATABASE_DIRECT_URL", self.url.clone()),
        ]
    }
}

/// A PgBouncer in transaction mode in front of the test cluster, one per test process.
///
/// It is set up to be unforgiving: `server_reset_query_always` discards every prepared
/// statement when a transaction ends, so a statement run outside an explicit transaction
/// (whose Parse and Execute are two of the pooler's transactions) fails at once, however few
/// clients there are, instead of only when two of them race.
pub struct Pooler {
    port: u16,
    dir: PathBuf,
}

impl Pooler {
    /// A URL for `database` through the pooler, as the cluster's superuser.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{}@127.0.0.1:{}/{database}",
            pooler_user(),
            self.port
        )
    }

    /// PgBouncer's log so far: who logged in to which database through it.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }
}

static POOLER: OnceLock<Result<Pooler, String>> = OnceLock::new();

/// The test process's [`Pooler`], started on first use.
pub fn pooler() -> &'static Pooler {
    POOLER
        .get_or_init(start_pooler)
        .as_ref()
        .unwrap_or_else(|e| panic!("PgBouncer for the tests unavailable: {e}"))
}

fn pooler_user() -> String {
    let admin: PgConnectOptions = cluster().admin_url.parse().expect("admin URL");
    admin.get_username().to_string()
}

fn start_pooler() -> Result<Pooler, String> {
    use std::os::unix::process::CommandExt;
    let bin = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .ok_or("pgbouncer is not installed (`make test` installs it: apt-get install pgbouncer)")?;
    let admin: PgConnectOptions = cluster().admin_url.parse().map_err(|e| format!("{e}"))?;
    // Where PgBouncer reaches the cluster: its socket directory, or its host.
    let host = match admin.get_socket() {
        Some(dir) => dir.display().to_string(),
        None => admin.get_host().to_string(),
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let dir = std::env::temp_dir().join(format!("devpulse-pgbouncer-{}", std::process::id()));
    let io = |e: std::io::Error| format!("{}: {e}", dir.display());
    std::fs::create_dir_all(&dir).map_err(io)?;
    let user = admin.get_username().to_string();
    std::fs::write(dir.join("users.txt"), format!("\"{user}\" \"\"\n")).map_err(io)?;
    std::fs::write(
        dir.join("pgbouncer.ini"),
        format!(
            "[databases]\n\
             * = host={host} port={}\n\
             [pgbouncer]\n\
             listen_addr = 127.0.0.1\n\
             listen_port = {port}\n\
             unix_socket_dir =\n\
             auth_type = trust\n\
             auth_file = {}\n\
             pool_mode = transaction\n\
             server_reset_query = DEALLOCATE ALL\n\
             server_reset_query_always = 1\n\
             ignore_startup_parameters = extra_float_digits\n\
             max_client_conn = 2000\n\
             default_pool_size = 10\n\
             server_idle_timeout = 5\n\
             logfile = {}\n",
            admin.get_port(),
            dir.join("users.txt").display(),
            dir.join("pgbouncer.log").display(),
        ),
    )
    .map_err(io)?;
    let mut cmd = std::process::Command::new(bin);
    cmd.arg(dir.join("pgbouncer.ini"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // PgBouncer refuses to run as root; as root, run it as the cluster's own user.
    if unsafe { libc::geteuid() } == 0 {
        let (uid, gid) = crate::embedded::lookup_user("postgres").map_err(|e| e.to_string())?;
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).map_err(io)?;
        cmd.uid(uid).gid(gid);
    }
    // It goes when the test process goes: the thread that starts it lives as long.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("pgbouncer".into())
        .spawn(move || match cmd.spawn() {
            Ok(mut child) => {
                let _ = tx.send(Ok(()));
                let _ = child.wait();
            }
            Err(e) => {
                let _ = tx.send(Err(format!("{bin}: {e}")));
            }
        })
        .map_err(|e| e.to_string())?;
    rx.recv().map_err(|e| e.to_string())??;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "PgBouncer did not listen on port {port} within 15 s; see {}",
                dir.join("pgbouncer.log").display()
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Ok(Pooler { port, dir })
}

/// Drops finished tests' databases, one at a time, on a thread of its own. Without it a full
/// run kept ~500 databases (~6 GB) until the next run's wipe, and a CI run on a nearly full
/// disk died with "No space left on device".
type Finished = (std::time::Instant, String);

fn dropper() -> &'static std::sync::Mutex<std::sync::mpsc::Sender<Finished>> {
    static DROPPER: OnceLock<std::sync::Mutex<std::sync::mpsc::Sender<Finished>>> = OnceLock::new();
    DROPPER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Finished>();
        let admin_url = cluster().admin_url.clone();
        std::thread::Builder::new()
            .name("test-db-dropper".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    let Ok(admin) = admin_url.parse::<PgConnectOptions>() else {
                        return;
                    };
                    while let Ok((finished, name)) = rx.recv() {
                        // A finished test's server may still be shutting down on the shared
                        // server runtime: give it time to finish before taking its database
                        // away, or it logs errors that read like real failures.
                        let after = finished + std::time::Duration::from_secs(20);
                        tokio::time::sleep_until(after.into()).await;
                        let Ok(mut conn) = PgConnection::connect_with(&admin).await else {
                            continue;
                        };
                        let _ = sqlx::raw_sql(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .execute(&mut conn)
                        .await;
                        let _ = conn.close().await;
                    }
                });
            })
            .expect("spawn the test database dropper");
        std::sync::Mutex::new(tx)
    })
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test database kept for a look: {}", self.url);
            return;
        }
        if let Ok(tx) = dropper().lock() {
            let _ = tx.send((std::time::Instant::now(), self.name.clone()));
        }
    }
}

/// A superuser URL for another, empty database on the test cluster (created if missing).
pub async fn scratch_database(name: &str) -> String {
    let cluster = cluster();
    let admin: PgConnectOptions = cluster.admin_url.parse().expect("admin URL");
    let mut conn = PgConnection::connect_with(&admin).await.expect("connect");
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .expect("drop scratch database");
    sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await
        .expect("create scratch database");
    url_for(&cluster.admin_url, name)
}

/// Replaces the database in a `postgres://user@host:port/db?params` URL.
fn url_for(admin_url: &str, database: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin_url, None),
    };
    let authority_end = base
        .find("://")
        .map(|i| i + 3)
        .and_then(|start| base[start..].find('/').map(|j| start + j))
        .unwrap_or(base.len());
    let mut url = format!("{}/{database}", &base[..authority_end]);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

#[cfg(test)]
mod tests {
    #[test]
    fn url_for_swaps_the_database() {
        assert_eq!(
            super::url_for(
                "postgres://postgres@localhost:5432/postgres?host=/x/run",
                "t1"
            ),
            "postgres://postgres@localhost:5432/t1?host=/x/run"
        );
        assert_eq!(
            super::url_for("postgres://u:p@h/db", "t2"),
            "postgres://u:p@h/t2"
        );
        assert_eq!(
            super::url_for("postgres://u@h:1", "t3"),
            "postgres://u@h:1/t3"
        );
    }

    #[test]
    fn a_test_database_is_dated_by_its_name() {
        assert_eq!(
            super::made_at("test_1796605566_0123456789ab"),
            Some(1796605566)
        );
        // Named the earlier way, or not a test's: no date.
        assert_eq!(super::made_at("test_0123456789abcdef"), None);
        assert_eq!(super::made_at("test_12_"), None);
        assert_eq!(super::made_at("devpulse_tpl_0123"), None);
    }
}
