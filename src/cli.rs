//! The `gazette` command line. Each subcommand parses its arguments into
//! domain types and calls the same functions the HTTP layer calls.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::console::BadInput;
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
    /// Create, revoke and list API tokens
    Token {
        #[command(subcommand)]
        command: crate::api_tokens::cli::TokenCommand,
    },
    /// Add, show and list newsletters
    Newsletter {
        #[command(subcommand)]
        command: crate::newsletters::cli::NewsletterCommand,
    },
    /// Add, list and poll RSS, Atom and JSON feeds of stories
    Feed {
        #[command(subcommand)]
        command: crate::feeds::cli::FeedCommand,
    },
    /// Preview or send a newsletter's digest
    Digest {
        #[command(subcommand)]
        command: crate::issues::cli::DigestCommand,
    },
    /// Import subscribers from CSV, or export them as CSV
    Subscribers {
        #[command(subcommand)]
        command: crate::subscriptions::cli::SubscribersCommand,
    },
    /// Add and list the users who log in to /admin
    User {
        #[command(subcommand)]
        command: crate::users::cli::UserCommand,
    },
}

/// The store for a one-shot command, migrated so it works on a fresh
/// database too.
async fn command_store(settings: &Settings) -> anyhow::Result<Store> {
    let store = Store::connect(&settings.database).await?;
    store.migrate().await?;
    Ok(store)
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
        Command::Token { command } => match command_store(&settings).await {
            Ok(store) => crate::api_tokens::cli::run(&store, command).await,
            Err(error) => Err(error),
        },
        Command::Newsletter { command } => match command_store(&settings).await {
            Ok(store) => crate::newsletters::cli::run(&store, command).await,
            Err(error) => Err(error),
        },
        Command::Feed { command } => match command_store(&settings).await {
            Ok(store) => crate::feeds::cli::run(&store, &settings.feeds, command).await,
            Err(error) => Err(error),
        },
        Command::Digest { command } => match command_store(&settings).await {
            Ok(store) => crate::issues::cli::run(&store, &settings, command).await,
            Err(error) => Err(error),
        },
        Command::Subscribers { command } => match command_store(&settings).await {
            Ok(store) => match crate::startup::server_secrets(&settings, &store).await {
                Ok((secret, previous)) => {
                    let erased = crate::subscriptions::ErasedAddresses::new(&secret, &previous);
                    crate::subscriptions::cli::run(&store, &erased, command).await
                }
                Err(error) => Err(error.into()),
            },
            Err(error) => Err(error),
        },
        Command::User { command } => match command_store(&settings).await {
            Ok(store) => crate::users::cli::run(&store, command).await,
            Err(error) => Err(error),
        },
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.downcast_ref::<BadInput>().is_some() => {
            eprintln!("{error}");
            ExitCode::from(EXIT_CONFIG)
        }
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
