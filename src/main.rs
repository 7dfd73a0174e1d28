use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = gazette::cli::Cli::parse();
    gazette::cli::run(cli).await
}
