use clap::{Parser, Subcommand};

/// devpulse: analytics for AI coding assistants.
///
/// Configuration comes from the environment (see the README); with no DATABASE_URL the
/// server starts a private PostgreSQL cluster under DEVPULSE_DATA_DIR.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Apply database migrations, then exit.
    Migrate,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match server::Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("devpulse: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    server::init_tracing(&config.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => server::run(config).await,
            Command::Migrate => {
                let db = server::database::Database::open(&config).await?;
                db.close().await;
                println!("migrations applied");
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("devpulse: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
