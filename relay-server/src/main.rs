//! `teamflow-relay`: parses configuration, sets up logging, binds the port and hands over to `run`; or runs
//! one of the operations subcommands (`backup`, `restore`, `admin ...`) and exits.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use teamflow_relay::Config;
use teamflow_relay::config::LogFormat;
use tracing_subscriber::EnvFilter;

/// glibc's allocator kept each hasher's 19 MiB arenas after a burst of sign-ins, for good; mimalloc hands
/// freed memory back (docs/benchmarks.md, "A burst of sign-ups").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The TeamFlow relay: accounts, the team REST API, realtime rooms and document sync, on SQLite. Without a
/// subcommand it serves; `backup` and `restore` copy its data directory.
#[derive(Debug, Parser)]
#[command(name = "teamflow-relay", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(flatten)]
    serve: Config,
    #[command(subcommand)]
    command: Option<Command>,
}

/// What the binary does instead of serving.
#[derive(Debug, clap::Subcommand)]
enum Command {
    #[command(flatten)]
    Data(teamflow_relay::backup::Command),
    /// The relay administrator's commands, on the data directory (also while the relay runs).
    #[command(subcommand)]
    Admin(teamflow_relay::admin::Admin),
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    // ring, for every rustls configuration in the process (see `teamflow_relay::tls`).
    teamflow_relay::tls::install_default_provider();
    let cli = Cli::parse();
    if let Some(command) = cli.command {
        let outcome = match command {
            Command::Data(command) => command.run(&mut std::io::stdout()).await.map_err(|e| e.to_string()),
            Command::Admin(command) => command.run(&mut std::io::stdout()).await.map_err(|e| e.to_string()),
        };
        return Ok(match outcome {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("teamflow-relay: {e}");
                ExitCode::FAILURE
            }
        });
    }
    let config = cli.serve;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt().with_env_filter(filter).init(),
        LogFormat::Json => tracing_subscriber::fmt().json().with_env_filter(filter).init(),
    }

    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    let addr = listener.local_addr()?;
    // Printed plainly (not only logged) so a person starting the relay sees where to point the app.
    println!("TeamFlow relay serving at {}  (data in {})", config.public_url(addr), config.data_dir.display());
    if config.public_url_is_guessed(addr) {
        println!(
            "  No --public-url: webhook URLs name {addr}, which GitHub, Slack and Trello cannot reach. \
             Pass --public-url https://<this relay's public name> before connecting them."
        );
    }
    teamflow_relay::run(listener, config, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM, whichever comes first.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down; finishing requests in flight");
}
