//! `gazette user add EMAIL --role admin|editor` and `gazette user password
//! EMAIL`: the password comes from a prompt on a terminal (typed twice, not
//! echoed) or from standard input with `--password-stdin`, never from the
//! command line, where `ps` and the shell history would keep it. A new
//! password ends every session of that user.

use std::io::Read;

use clap::Subcommand;

use super::{Password, Role, UserError, add_user, set_password};
use crate::console::BadInput;
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user who can log in to /admin
    Add {
        /// The address the user logs in with
        email: String,
        /// admin (users, tokens, settings) or editor (content and sends)
        #[arg(long, value_parser = ["admin", "editor"])]
        role: String,
        /// Read the password from standard input instead of a prompt
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password (a forgotten one); ends their sessions
    Password {
        /// The address the user logs in with
        email: String,
        /// Read the password from standard input instead of a prompt
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the users
    List,
}

pub async fn run(store: &Store, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            email,
            role,
            password_stdin,
        } => {
            let role = Role::parse(&role)
                .ok_or_else(|| BadInput("--role must be admin or editor".to_string()))?;
            let password = read_password(password_stdin)?;
            match add_user(store, &email, role, &password).await {
                Ok(user) => {
                    println!("added {} ({})", user.email, user.role);
                    Ok(())
                }
                Err(
                    error @ (UserError::InvalidEmail(_)
                    | UserError::WeakPassword(_)
                    | UserError::EmailTaken(_)),
                ) => Err(BadInput(error.to_string()).into()),
                Err(error) => Err(error.into()),
            }
        }
        UserCommand::Password {
            email,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            match set_password(store, &email, &password).await {
                Ok(user) => {
                    println!(
                        "new password set for {}; their sessions have ended",
                        user.email
                    );
                    Ok(())
                }
                Err(UserError::NotFound) => {
                    Err(BadInput(format!("there is no user with the address {email}")).into())
                }
                Err(error @ UserError::InvalidEmail(_)) => Err(BadInput(error.to_string()).into()),
                Err(error) => Err(error.into()),
            }
        }
        UserCommand::List => {
            for user in store.users().all().await? {
                println!("{}\t{}", user.email, user.role);
            }
            Ok(())
        }
    }
}

fn read_password(from_stdin: bool) -> anyhow::Result<Password> {
    let raw = if from_stdin {
        let mut raw = String::new();
        std::io::stdin().read_to_string(&mut raw)?;
        raw
    } else {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Password again: ")?;
        if first != again {
            return Err(BadInput("the passwords do not match".to_string()).into());
        }
        first
    };
    Password::parse(&raw).map_err(|e| BadInput(e.to_string()).into())
}
