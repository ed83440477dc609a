//! `devpulse doctor`: checks the set-up end to end and says what is wrong and how to fix it.

use std::{os::unix::fs::PermissionsExt, path::Path};

use crate::{
    client::{Client, ClientError},
    config::{private_dir, write_private, Config, Paths},
    spool,
};

pub struct Check {
    pub ok: bool,
    pub what: String,
}

pub async fn run(paths: &Paths, settings: &Path) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut add = |ok: bool, what: String| checks.push(Check { ok, what });
    let config = match Config::load(paths) {
        Ok(c) => {
            add(
                true,
                format!("configuration in {}", paths.config_file().display()),
            );
            let mode = std::fs::metadata(paths.config_file())
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0);
            add(
                mode & 0o077 == 0,
                format!(
                    "configuration file mode {mode:o}{}",
                    if mode & 0o077 == 0 {
                        String::new()
                    } else {
                        format!(
                            ": others can read the API key; chmod 600 {}",
                            paths.config_file().display()
                        )
                    }
                ),
            );
            Some(c)
        }
        Err(e) => {
            add(false, e.to_string());
            None
        }
    };
    // Setup records what it installed (hooks or OTEL variables) under this marker.
    let installed = std::fs::read_to_string(settings)
        .unwrap_or_default()
        .contains("DEVPULSE_SETUP");
    add(
        installed,
        if installed {
            format!("devpulse set up in {}", settings.display())
        } else {
            format!(
                "no devpulse hooks in {}: run `devpulse setup --server URL --key KEY`",
                settings.display()
            )
        },
    );
    let probe = paths.spool_dir().join(".doctor");
    let writable = private_dir(&paths.spool_dir())
        .and_then(|()| write_private(&probe, b"ok"))
        .and_then(|()| std::fs::remove_file(&probe));
    add(
        writable.is_ok(),
        match writable {
            Ok(()) => format!("spool writable at {}", paths.spool_dir().display()),
            Err(e) => format!("spool not writable at {}: {e}", paths.spool_dir().display()),
        },
    );
    let (waiting, _) = spool::pending(&paths.spool_dir());
    add(
        waiting < 10_000,
        format!("{waiting} events waiting in the spool"),
    );
    if let Some(config) = config {
        let client = Client::new(&config);
        match client.ready().await {
            Ok(()) => add(true, format!("server {} is up", config.server)),
            Err(e) => add(false, format!("server {}: {e}", config.server)),
        }
        // The key: an ingest-scope key may list its own import batches.
        match client.get("/api/v1/imports", &[]).await {
            Ok(_) => add(true, "API key accepted for ingestion".into()),
            Err(ClientError::Fatal(why)) => add(
                false,
                format!("API key refused ({why}); create one with the ingest scope on the API keys page"),
            ),
            Err(ClientError::Retry { why, .. }) => add(false, format!("API key not checked: {why}")),
        }
    }
    checks
}
