//! `gazette token create|revoke|list`.

use clap::Subcommand;

use super::ApiTokenError;
use crate::console::BadInput;
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token and print it once (store it now: it is never shown again)
    Create {
        /// A name saying who uses it, for example "cms"
        name: String,
    },
    /// Revoke a token by name or id
    Revoke {
        /// The token's name or id
        which: String,
    },
    /// List tokens (names, dates; never the tokens themselves)
    List,
}

pub async fn run(store: &Store, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { name } => {
            let issued = super::create_token(store, &name).await.map_err(bad_input)?;
            eprintln!(
                "created API token {:?} (id {}); it is shown once, store it now:",
                issued.token.name, issued.token.id
            );
            println!("{}", issued.secret);
        }
        TokenCommand::Revoke { which } => {
            let token = super::revoke_token(store, &which)
                .await
                .map_err(bad_input)?;
            println!("revoked API token {:?} (id {})", token.name, token.id);
        }
        TokenCommand::List => {
            for token in store.api_tokens().all().await? {
                let state = if token.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                let used = token
                    .last_used_at
                    .map(crate::console::format_ms)
                    .unwrap_or_else(|| "never".to_string());
                println!(
                    "{}\t{}\t{}\tcreated {}\tlast used {}",
                    token.id,
                    token.name,
                    state,
                    crate::console::format_ms(token.created_at),
                    used
                );
            }
        }
    }
    Ok(())
}

fn bad_input(error: ApiTokenError) -> anyhow::Error {
    match error {
        ApiTokenError::Store(e) => e.into(),
        other => BadInput(other.to_string()).into(),
    }
}
