//! The `gazette` command line. Each subcommand parses its arguments into
//! domain types and calls the same functions the HTTP layer calls.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::startup::Application;
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "gazette",
    version,
    about = "Gazette: a self-hosted newsletter service",
    long_about = "Gazette: a self-hosted newsletter service.\n\nVisitors subscribe and confirm by email, editors schedule digests of the \
                  site's stories, and Gazette delivers them over SMTP. Run without a command to start the server."
)]
pub struct Cli {
    /// Folder holding default.toml and $GAZETTE_ENV.toml
    #[arg(long, global = true, value_name = "DIR", default_value = "config")]
    pub config: PathBuf,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the web server, the scheduler and the delivery workers (the default)
    Serve,
    /// Apply database migrations and exit
    Migrate,
}

/// Exit code for a configuration error, distinct from runtime failures.
const EXIT_CONFIG: u8 = 2;

pub async fn run(cli: Cli) -> ExitCode {
    let settings = match Settings::load(&cli.config) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    crate::telemetry::init(&settings.log);
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate => migrate(settings).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let base_url = settings.base_url().to_string();
    let app = Application::build(settings).await?;
    tracing::info!(port = app.port(), "Gazette is serving {base_url}");
    app.run(true).await?;
    Ok(())
}

async fn migrate(settings: Settings) -> anyhow::Result<()> {
    let store = Store::connect(&settings.database).await?;
    store.migrate().await?;
    store.close().await;
    println!("migrations applied");
    Ok(())
}
