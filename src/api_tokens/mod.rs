//! API tokens: how a CMS or a script authenticates to `/api`. A token is 256
//! random bits shown once when it is created (`gz_…`); only its SHA-256 is
//! stored, so a database leak reveals no usable token. Tokens are revoked,
//! never deleted, so the list keeps who had access and when it was last used.

pub mod cli;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::store::{Store, StoreError, now_ms};

/// Every token starts with this, so a leaked one is recognisable (secret
/// scanners, logs) and a pasted token of another service is told apart.
pub const TOKEN_PREFIX: &str = "gz_";

/// `last_used_at` is written at most this often per token: a busy CMS must
/// not turn every API read into a database write.
const TOUCH_EVERY_MS: i64 = 60_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl ApiToken {
    fn from_row(row: &AnyRow) -> Result<ApiToken, sqlx::Error> {
        Ok(ApiToken {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            created_at: row.try_get("created_at")?,
            last_used_at: row.try_get("last_used_at")?,
            revoked_at: row.try_get("revoked_at")?,
        })
    }
}

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

const TOKEN_COLUMNS: &str = "id, name, created_at, last_used_at, revoked_at";

impl Store {
    /// Creates a token; active names are unique so `revoke NAME` is never
    /// ambiguous.
    pub async fn create_api_token(&self, name: &str) -> Result<IssuedToken, ApiTokenError> {
        let name = clean_name(name)?;
        let taken: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM api_tokens WHERE name = $1 AND revoked_at IS NULL",
        )
        .bind(&name)
        .fetch_one(self.pool())
        .await
        .map_err(StoreError::from)?;
        if taken > 0 {
            return Err(ApiTokenError::NameTaken(name));
        }
        let secret = generate_secret();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO api_tokens (name, token_hash, created_at) VALUES ($1, $2, $3) \
             RETURNING {TOKEN_COLUMNS}"
        )))
        .bind(&name)
        .bind(token_hash(&secret))
        .bind(now_ms())
        .fetch_one(self.pool())
        .await
        .map_err(StoreError::from)?;
        let token = ApiToken::from_row(&row).map_err(StoreError::from)?;
        Ok(IssuedToken { token, secret })
    }

    /// The active token whose secret this is, if any.
    pub async fn api_token_by_secret(&self, secret: &str) -> Result<Option<ApiToken>, StoreError> {
        if !secret.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL"
        )))
        .bind(token_hash(secret))
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(ApiToken::from_row).transpose()?)
    }

    /// Records a use, unless one was recorded less than a minute ago.
    pub async fn touch_api_token(&self, token: &ApiToken) -> Result<(), StoreError> {
        let now = now_ms();
        if token
            .last_used_at
            .is_some_and(|last| now - last < TOUCH_EVERY_MS)
        {
            return Ok(());
        }
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(token.id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY id"
        )))
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(ApiToken::from_row)
            .collect::<Result<_, _>>()?)
    }

    /// Revokes the active token with this name, or with this id when `which`
    /// is a number.
    pub async fn revoke_api_token(&self, which: &str) -> Result<ApiToken, ApiTokenError> {
        let which = which.trim();
        let row = match which.parse::<i64>() {
            Ok(id) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL \
                 RETURNING {TOKEN_COLUMNS}"
            )))
            .bind(now_ms())
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(StoreError::from)?,
            Err(_) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE api_tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL \
                 RETURNING {TOKEN_COLUMNS}"
            )))
            .bind(now_ms())
            .bind(which)
            .fetch_optional(self.pool())
            .await
            .map_err(StoreError::from)?,
        };
        match row {
            Some(row) => Ok(ApiToken::from_row(&row).map_err(StoreError::from)?),
            None => Err(ApiTokenError::NotFound(which.to_string())),
        }
    }
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
