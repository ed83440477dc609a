//! `devpulse`: the collector CLI. `hook` runs on every Claude Code event and must stay cheap,
//! so it is dispatched before anything else is set up (no async runtime, no network).

use std::{path::PathBuf, process::ExitCode, time::Duration};

use clap::{Parser, Subcommand};
use collector::{
    client::Client,
    config::{Config, Mode, Paths},
    doctor, hook, imports, report, setup, status, sync,
};

#[derive(Parser)]
#[command(
    name = "devpulse",
    version,
    about = "devpulse collector for Claude Code"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Store the server and key, and install the hooks into Claude Code's settings.
    Setup {
        #[arg(long, required_unless_present = "uninstall")]
        server: Option<String>,
        #[arg(long, env = "DEVPULSE_KEY", required_unless_present = "uninstall")]
        key: Option<String>,
        /// A project's `.claude/settings.json` instead of the user's.
        #[arg(long)]
        project: Option<PathBuf>,
        /// With --project: its `.claude/settings.local.json`, which stays out of version control.
        #[arg(long, requires = "project")]
        local: bool,
        #[arg(long, value_enum, default_value_t = Mode::Hybrid)]
        mode: Mode,
        /// Also spool and send prompt text, tool output and file contents (cut out by default).
        #[arg(long)]
        send_content: bool,
        /// Point Claude Code's built-in OpenTelemetry exporter at the server instead of hooks.
        #[arg(long)]
        otel: bool,
        /// With --otel: print the variables instead of writing them into the settings.
        #[arg(long, requires = "otel")]
        print: bool,
        /// Remove exactly what setup added.
        #[arg(long, conflicts_with_all = ["otel", "print"])]
        uninstall: bool,
    },
    /// Check the configuration, the hooks, the spool and the server.
    Doctor {
        #[arg(long)]
        project: Option<PathBuf>,
        /// With --project: its `.claude/settings.local.json`.
        #[arg(long, requires = "project")]
        local: bool,
    },
    /// Record one hook event from stdin (what Claude Code runs). Always exits 0, prints nothing.
    Hook,
    /// Ship the spool to the server.
    Sync {
        /// Started by a hook: wait for more events a while, retry patiently.
        #[arg(long)]
        daemon: bool,
        /// How long to keep retrying an unreachable server, in seconds.
        #[arg(long, default_value_t = 30)]
        wait: u64,
    },
    /// Usage from local data, without the server.
    Report {
        #[arg(value_enum, default_value_t = report::Period::Daily)]
        period: report::Period,
        #[arg(long)]
        json: bool,
        /// Transcript directories (default: ~/.claude/projects and ~/.config/claude/projects).
        #[arg(long = "path")]
        paths: Vec<PathBuf>,
    },
    /// The spool, the last sync and recent errors.
    Status,
    /// Import history: legacy hook metrics and Claude Code transcripts.
    #[command(args_conflicts_with_subcommands = true)]
    Import {
        #[command(subcommand)]
        action: Option<ImportAction>,
        /// Files or directories (default: every known location under $HOME).
        paths: Vec<PathBuf>,
        /// Print the validation report and send nothing.
        #[arg(long)]
        dry_run: bool,
        /// No progress bars.
        #[arg(long)]
        quiet: bool,
    },
    /// Serve MCP over stdio (forwarding to the server, local data when offline).
    Mcp,
}

#[derive(Subcommand)]
enum ImportAction {
    /// Remove an import batch from the server again.
    Rollback { batch: String },
    /// Your import batches on the server.
    List,
}

fn main() -> ExitCode {
    // Before argument parsing: nothing may make the hook print or exit non-zero.
    if std::env::args_os().nth(1).is_some_and(|a| a == "hook") {
        hook::run(&Paths::from_env());
        return ExitCode::SUCCESS;
    }
    let cli = Cli::parse();
    let paths = Paths::from_env();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(cli.command, &paths)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("devpulse: {why}");
            ExitCode::FAILURE
        }
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The Claude Code settings file `setup` and `doctor` work on.
fn settings_path(project: Option<&std::path::Path>, local: bool) -> PathBuf {
    match project {
        Some(project) if local => setup::local_settings_path(project),
        _ => setup::default_settings_path(&home(), project),
    }
}

fn client(paths: &Paths) -> Result<Client, String> {
    Config::load(paths)
        .map(|c| Client::new(&c))
        .map_err(|e| e.to_string())
}

async fn run(command: Command, paths: &Paths) -> Result<(), String> {
    match command {
        Command::Hook => unreachable!("dispatched before the runtime"),
        Command::Setup {
            server,
            key,
            project,
            local,
            mode,
            send_content,
            otel,
            print,
            uninstall,
        } => {
            let settings = settings_path(project.as_deref(), local);
            if uninstall {
                println!(
                    "{}",
                    setup::uninstall(&settings).map_err(|e| e.to_string())?
                );
                return Ok(());
            }
            let (server, key) = (server.unwrap_or_default(), key.unwrap_or_default());
            if !(server.starts_with("http://") || server.starts_with("https://")) {
                return Err(format!("--server must be an http(s) URL, not {server:?}"));
            }
            if otel && print {
                print!("{}", setup::otel_exports(&server, &key));
                return Ok(());
            }
            // OTEL mode writes the key into the settings, and teams commit a project's
            // settings.json: the key would end up in the repository.
            if let Some(project) = project.as_deref().filter(|_| otel && !local) {
                return Err(format!(
                    "not writing the API key into {}: a project's settings.json is usually \
                     committed. Use --local to write {} instead (kept out of version control), \
                     or --print to set the variables yourself",
                    settings.display(),
                    setup::local_settings_path(project).display()
                ));
            }
            let file = Config {
                server: server.clone(),
                key: key.clone(),
                mode,
                send_content,
            }
            .save(paths)
            .map_err(|e| e.to_string())?;
            println!("saved {} (mode 0600)", file.display());
            let done = if otel {
                setup::install_otel(&settings, &server, &key)
            } else {
                let exe = std::env::current_exe().map_err(|e| e.to_string())?;
                // The hook-only binary starts faster; `devpulse hook` does the same.
                let small = exe.with_file_name("devpulse-hook");
                let (exe, arg) = if small.is_file() {
                    (small, "")
                } else {
                    (exe, " hook")
                };
                // Claude Code runs the command through a shell: quote a path with spaces.
                let exe = exe.display().to_string();
                let exe = if exe.contains(|c: char| c.is_whitespace() || "'\"$`\\".contains(c)) {
                    format!("'{}'", exe.replace('\'', "'\\''"))
                } else {
                    exe
                };
                setup::install_hooks(
                    &settings,
                    &setup::Install {
                        command: format!("{exe}{arg}"),
                    },
                )
            };
            println!("{}", done.map_err(|e| e.to_string())?);
            Ok(())
        }
        Command::Doctor { project, local } => {
            let settings = settings_path(project.as_deref(), local);
            let checks = doctor::run(paths, &settings).await;
            for c in &checks {
                println!("{} {}", if c.ok { "ok  " } else { "FAIL" }, c.what);
            }
            match checks.iter().filter(|c| !c.ok).count() {
                0 => Ok(()),
                n => Err(format!("{n} problem(s) found")),
            }
        }
        Command::Sync { daemon, wait } => {
            let opts = sync::Options {
                daemon,
                wait: Duration::from_secs(wait),
            };
            let summary = sync::run(paths, &opts).await.inspect_err(|why| {
                hook::log_error(paths, why);
            })?;
            if !daemon {
                if summary.already_running {
                    println!("a sync is already running; `devpulse status` shows its progress");
                } else {
                    println!(
                        "delivered {} events ({} refused by the server)",
                        summary.delivered, summary.rejected
                    );
                }
            }
            Ok(())
        }
        Command::Report {
            period,
            json,
            paths: given,
        } => {
            let roots = if given.is_empty() {
                let home = home();
                [".claude/projects", ".config/claude/projects"]
                    .iter()
                    .map(|r| home.join(r))
                    .filter(|p| p.is_dir())
                    .collect()
            } else {
                given
            };
            let r = report::build(period, &roots, paths);
            if json {
                println!("{}", serde_json::to_string_pretty(&r).expect("JSON"));
            } else {
                print!("{}", report::render_text(period, &r));
            }
            Ok(())
        }
        Command::Status => {
            print!("{}", status::render(paths));
            Ok(())
        }
        Command::Import {
            action: Some(ImportAction::Rollback { batch }),
            ..
        } => {
            let removed = client(paths)?
                .delete(&format!("/api/v1/imports/{batch}"))
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "rolled back import {batch}: {} events, {} sessions, {} tool runs, {} API requests removed",
                removed["events"], removed["sessions"], removed["tool_runs"], removed["api_requests"]
            );
            Ok(())
        }
        Command::Import {
            action: Some(ImportAction::List),
            ..
        } => {
            let list = client(paths)?
                .get("/api/v1/imports", &[])
                .await
                .map_err(|e| e.to_string())?;
            for b in list.as_array().into_iter().flatten() {
                println!(
                    "{}  {}  {} events{}",
                    b["id"].as_str().unwrap_or(""),
                    b["created_at"].as_str().unwrap_or(""),
                    b["events"],
                    if b["rolled_back_at"].is_string() {
                        "  (rolled back)"
                    } else {
                        ""
                    }
                );
            }
            Ok(())
        }
        Command::Import {
            action: None,
            paths: given,
            dry_run,
            quiet,
        } => {
            let sources = if given.is_empty() {
                collector::import::default_roots(&home())
            } else {
                given
            };
            if sources.is_empty() {
                return Err("nothing to import: no legacy metrics or transcripts found".into());
            }
            let quiet = quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr());
            let plan = imports::plan(&sources, quiet);
            if dry_run {
                print!("{}", plan.report.render());
                return Ok(());
            }
            print!("{}", imports::summary(&plan.report));
            let client = client(paths)?;
            let outcome = imports::send(paths, &client, &sources, plan, quiet).await?;
            println!(
                "import batch {}{}: {} new, {} already there, {} refused",
                outcome.batch,
                if outcome.resumed { " (resumed)" } else { "" },
                outcome.accepted,
                outcome.duplicates,
                outcome.rejected
            );
            Ok(())
        }
        Command::Mcp => collector::mcp::serve(paths).await,
    }
}
