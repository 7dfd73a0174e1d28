//! API tokens: how a CMS or a script authenticates to `/api`. A token is 256
//! random bits shown once when it is created (`gz_…`); only its SHA-256 is
//! stored, so a database leak reveals no usable token. Tokens are revoked,
//! never deleted, so the list keeps who had access and when it was last used.

pub mod cli;

pub use crate::store::users::ApiToken;
use crate::store::{Store, StoreError, now_ms};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Every token starts with this, so a leaked one is recognisable (secret
/// scanners, logs) and a pasted token of another service is told apart.
pub const TOKEN_PREFIX: &str = "gz_";

/// `last_used_at` is written at most this often per token: a busy CMS must
/// not turn every API read into a database write.
const TOUCH_EVERY_MS: i64 = 60_000;

#[derive(Debug, thiserror::Error)]
pub enum ApiTokenError {
    #[error("token name: must be 1 to 100 characters with no control characters")]
    BadName,
    #[error("a token named {0:?} already exists; revoke it first or choose another name")]
    NameTaken(String),
    #[error("no active token named or numbered {0:?}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A token just created: `secret` is shown to the user once and never again.
#[derive(Debug)]
pub struct IssuedToken {
    pub token: ApiToken,
    pub secret: String,
}

/// A fresh token: the prefix and 32 random bytes in URL-safe base64.
fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// What is stored for a token: its SHA-256 in hex. A plain hash suffices
/// (no salt, no slow KDF) because the token has 256 bits of entropy.
pub fn token_hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn clean_name(name: &str) -> Result<String, ApiTokenError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiTokenError::BadName);
    }
    Ok(name.to_string())
}

/// Creates a token; active names are unique so `revoke NAME` is never
/// ambiguous.
pub async fn create_token(store: &Store, name: &str) -> Result<IssuedToken, ApiTokenError> {
    let name = clean_name(name)?;
    let tokens = store.api_tokens();
    if tokens.active_name_taken(&name).await? {
        return Err(ApiTokenError::NameTaken(name));
    }
    let secret = generate_secret();
    let token = tokens.insert(&name, &token_hash(&secret), now_ms()).await?;
    Ok(IssuedToken { token, secret })
}

/// The active token whose secret this is, if any.
pub async fn token_by_secret(store: &Store, secret: &str) -> Result<Option<ApiToken>, StoreError> {
    if !secret.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    store.api_tokens().active_by_hash(&token_hash(secret)).await
}

/// Records a use, unless one was recorded less than a minute ago.
pub async fn record_use(store: &Store, token: &ApiToken) -> Result<(), StoreError> {
    let now = now_ms();
    if token
        .last_used_at
        .is_some_and(|last| now - last < TOUCH_EVERY_MS)
    {
        return Ok(());
    }
    store.api_tokens().record_use(token.id, now).await
}

/// Revokes the active token with this name, or with this id when `which`
/// is a number.
pub async fn revoke_token(store: &Store, which: &str) -> Result<ApiToken, ApiTokenError> {
    let which = which.trim();
    let tokens = store.api_tokens();
    let revoked = match which.parse::<i64>() {
        Ok(id) => tokens.revoke_id(id, now_ms()).await?,
        Err(_) => tokens.revoke_named(which, now_ms()).await?,
    };
    revoked.ok_or_else(|| ApiTokenError::NotFound(which.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_and_hashed_to_hex() {
        let a = generate_secret();
        let b = generate_secret();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        // 32 bytes in unpadded base64: 43 characters, 256 bits.
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 43);
        let hash = token_hash(&a);
        assert_eq!(hash.len(), 64);
        assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(hash, token_hash(&b));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(clean_name("  cms ").ok().as_deref(), Some("cms"));
        assert!(clean_name(" ").is_err());
        assert!(clean_name(&"x".repeat(101)).is_err());
        assert!(clean_name("a\nb").is_err());
    }
}
