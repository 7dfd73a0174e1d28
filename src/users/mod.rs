//! The people who log in to `/admin`: their roles, their passwords (argon2id
//! PHC strings, never the password itself) and how they are checked.
//! [`add_user`] is the one way a user is created (the CLI calls it);
//! [`authenticate`] is the one way a login is checked.

pub mod cli;
pub mod password_checks;

use std::fmt;

use argon2::Argon2;
use argon2::password_hash::PasswordHasher;
use secrecy::{ExposeSecret, SecretString};

pub use crate::store::users::{Role, User};
pub use password_checks::{Busy, PasswordChecks};

use crate::store::{Store, StoreError, now_ms};
use crate::subscriptions::domain::SubscriberEmail;

/// Shorter passwords fall to offline guessing if the hashes ever leak.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// argon2 takes any length, but a megabyte "password" is a cheap way to
/// make the server hash a lot.
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// A password that met the rules; `Debug` never shows it.
pub struct Password(SecretString);

impl Password {
    pub fn parse(raw: &str) -> Result<Password, UserError> {
        // A trailing newline from `--password-stdin` or a pasted password is
        // not part of it.
        let trimmed = raw.trim_end_matches(['\r', '\n']);
        let chars = trimmed.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(UserError::WeakPassword(format!(
                "the password must be at least {MIN_PASSWORD_CHARS} characters long"
            )));
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(UserError::WeakPassword(format!(
                "the password must be at most {MAX_PASSWORD_CHARS} characters long"
            )));
        }
        Ok(Password(SecretString::from(trimmed.to_string())))
    }

    /// The PHC string (`$argon2id$v=19$…`) with a fresh random salt.
    pub fn hash(&self) -> Result<String, UserError> {
        Argon2::default()
            .hash_password(self.0.expose_secret().as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| UserError::Hash(e.to_string()))
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{0}")]
    InvalidEmail(String),
    #[error("{0}")]
    WeakPassword(String),
    #[error("a user with the address {0} already exists")]
    EmailTaken(String),
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error("there is no such user")]
    NotFound,
    #[error("you cannot remove yourself or take away your own admin role; ask another admin")]
    Yourself,
    #[error("this is the last admin; make someone else an admin first")]
    LastAdmin,
    #[error("the current password is wrong")]
    WrongPassword,
    #[error("Gazette is busy checking other passwords; try again in a few seconds")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The address a user logs in with, lower-cased so login ignores case.
pub fn user_email_key(raw: &str) -> Result<String, UserError> {
    SubscriberEmail::parse(raw)
        .map(|email| email.key())
        .map_err(|e| UserError::InvalidEmail(format!("the address {}", e.problem)))
}

/// Creates a user.
pub async fn add_user(
    store: &Store,
    email: &str,
    role: Role,
    password: &Password,
) -> Result<User, UserError> {
    let email = user_email_key(email)?;
    let hash = password.hash()?;
    match store.users().insert(&email, &hash, role, now_ms()).await {
        Ok(user) => Ok(user),
        Err(error) if error.is_unique_violation() => Err(UserError::EmailTaken(email)),
        Err(error) => Err(error.into()),
    }
}

/// Gives `user_id` another role. Nobody changes their own role (so an
/// admin cannot lock themselves out), and the last admin stays one.
pub async fn change_role(
    store: &Store,
    acting_user_id: i64,
    user_id: i64,
    role: Role,
) -> Result<User, UserError> {
    if acting_user_id == user_id {
        return Err(UserError::Yourself);
    }
    match store
        .users()
        .set_role_keeping_an_admin(user_id, role)
        .await?
    {
        Some(user) => Ok(user),
        None if store.users().by_id(user_id).await?.is_none() => Err(UserError::NotFound),
        None => Err(UserError::LastAdmin),
    }
}

/// Removes a user (their session ends at their next request). Not
/// yourself, and not the last admin.
pub async fn remove_user(
    store: &Store,
    acting_user_id: i64,
    user_id: i64,
) -> Result<(), UserError> {
    if acting_user_id == user_id {
        return Err(UserError::Yourself);
    }
    if store.users().delete_keeping_an_admin(user_id).await? {
        Ok(())
    } else if store.users().by_id(user_id).await?.is_none() {
        Err(UserError::NotFound)
    } else {
        Err(UserError::LastAdmin)
    }
}

/// Gives the user `email` a new password (the CLI, for a forgotten one);
/// every session of theirs ends.
pub async fn set_password(
    store: &Store,
    email: &str,
    password: &Password,
) -> Result<User, UserError> {
    let key = user_email_key(email)?;
    let user = store
        .users()
        .by_email(&key)
        .await?
        .ok_or(UserError::NotFound)?;
    let hash = password.hash()?;
    store
        .users()
        .set_password(user.id, &hash)
        .await?
        .ok_or(UserError::NotFound)
}

/// A user changes their own password, proving the current one first (so a
/// session left open cannot take the account); every session of theirs
/// ends, and the caller starts the current one again under the new
/// version.
pub async fn change_own_password(
    store: &Store,
    checks: &PasswordChecks,
    user: &User,
    current: &str,
    new: &Password,
) -> Result<User, UserError> {
    let matches = checks
        .verify(
            SecretString::from(current.to_string()),
            user.password_hash.clone(),
        )
        .await
        .map_err(|Busy| UserError::Busy)?;
    if !matches {
        return Err(UserError::WrongPassword);
    }
    let hash = new.hash()?;
    store
        .users()
        .set_password(user.id, &hash)
        .await?
        .ok_or(UserError::NotFound)
}

/// Ends every session of `user_id` ("log out everywhere").
pub async fn end_sessions(store: &Store, user_id: i64) -> Result<User, UserError> {
    store
        .users()
        .end_sessions(user_id)
        .await?
        .ok_or(UserError::NotFound)
}

/// A PHC string of a password nobody has, checked when the address is
/// unknown so that a wrong address takes as long as a wrong password.
const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
                          4Y0DZYq7pC4m3JqjXBL2kGVqzk1dWfOyqX4JmFeIuQ4";

/// What a login attempt's check found.
#[derive(Debug)]
pub enum LoginCheck {
    Valid(User),
    /// A wrong address or a wrong password: the caller cannot tell which.
    Invalid,
    /// Too many checks are running and waiting; nothing was checked.
    Busy,
}

/// Checks an address and password. Runs argon2 (tens of milliseconds of
/// CPU, 19 MiB) on a blocking thread, within the bound of `checks`; an
/// unknown address is checked against a decoy hash, so it takes as long
/// and is bounded alike.
pub async fn authenticate(
    store: &Store,
    checks: &PasswordChecks,
    email: &str,
    password: &str,
) -> Result<LoginCheck, StoreError> {
    let user = match user_email_key(email) {
        Ok(key) => store.users().by_email(&key).await?,
        Err(_) => None,
    };
    let hash = user
        .as_ref()
        .map_or_else(|| DECOY_HASH.to_string(), |u| u.password_hash.clone());
    let matches = checks
        .verify(SecretString::from(password.to_string()), hash)
        .await;
    match (user, matches) {
        (_, Err(Busy)) => Ok(LoginCheck::Busy),
        (Some(user), Ok(true)) => {
            store.users().record_login(user.id, now_ms()).await?;
            Ok(LoginCheck::Valid(user))
        }
        _ => Ok(LoginCheck::Invalid),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordVerifier;

    #[test]
    fn short_passwords_are_refused() {
        assert!(Password::parse("elevenchars").is_err());
        assert!(Password::parse("twelve chars").is_ok());
    }

    #[test]
    fn stdin_newline_is_not_part_of_the_password() {
        let password = Password::parse("correct horse battery\n").unwrap();
        let hash = password.hash().unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery", hash.as_str())
                .is_ok()
        );
    }

    #[test]
    fn roles_parse() {
        assert_eq!(Role::parse("Admin"), Some(Role::Admin));
        assert_eq!(Role::parse("editor"), Some(Role::Editor));
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn decoy_hash_is_a_valid_phc_string() {
        let parsed = argon2::password_hash::phc::PasswordHash::new(DECOY_HASH);
        assert!(parsed.is_ok());
    }
}
