//! Users (who log in to `/admin`) and API tokens (how a CMS reaches
//! `/api`): their rows, and the statements that read and write them, the
//! same on both databases. The rules (who may change whose role, when a
//! token's use is worth writing down) are the `users` and `api_tokens`
//! modules'; these faces only store what they decided.

use std::fmt;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError};

/// What a user may do: admins manage users, tokens and settings; editors
/// manage content and sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Editor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
        }
    }

    pub fn parse(raw: &str) -> Option<Role> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "admin" => Some(Role::Admin),
            "editor" => Some(Role::Editor),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone)]
pub struct User {
    pub id: i64,
    /// Lower-cased: login ignores case.
    pub email: String,
    /// The argon2id PHC string.
    pub password_hash: String,
    pub role: Role,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
    /// Sessions started under another version have ended.
    pub session_version: i64,
}

/// The hash stays out of logs, and the address is masked.
impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &crate::telemetry::mask_email(&self.email))
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

const USER_COLUMNS: &str =
    "id, email, password_hash, role, created_at, last_login_at, session_version";
const TOKEN_COLUMNS: &str = "id, name, created_at, last_used_at, revoked_at";

fn user(row: &AnyRow) -> Result<User, sqlx::Error> {
    let role: String = row.try_get("role")?;
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        role: Role::parse(&role).ok_or_else(|| sqlx::Error::ColumnDecode {
            index: "role".into(),
            source: format!("unknown role {role:?}").into(),
        })?,
        created_at: row.try_get("created_at")?,
        last_login_at: row.try_get("last_login_at")?,
        session_version: row.try_get("session_version")?,
    })
}

fn token(row: &AnyRow) -> Result<ApiToken, sqlx::Error> {
    Ok(ApiToken {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

impl Store {
    pub fn users(&self) -> Users<'_> {
        Users { store: self }
    }

    pub fn api_tokens(&self) -> ApiTokens<'_> {
        ApiTokens { store: self }
    }
}

/// The users.
pub struct Users<'a> {
    store: &'a Store,
}

impl Users<'_> {
    /// A new user; a taken address is a unique violation
    /// ([`StoreError::is_unique_violation`]).
    pub async fn insert(
        &self,
        email_key: &str,
        password_hash: &str,
        role: Role,
        now: i64,
    ) -> Result<User, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO users (email, password_hash, role, created_at) VALUES ($1, $2, $3, $4) \
             RETURNING {USER_COLUMNS}"
        )))
        .bind(email_key)
        .bind(password_hash)
        .bind(role.as_str())
        .bind(now)
        .fetch_one(self.store.pool())
        .await?;
        Ok(user(&row)?)
    }

    pub async fn by_email(&self, email_key: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
        )))
        .bind(email_key)
        .fetch_optional(self.store.pool())
        .await?;
        Ok(row.as_ref().map(user).transpose()?)
    }

    pub async fn by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.store.pool())
        .await?;
        Ok(row.as_ref().map(user).transpose()?)
    }

    /// Every user, by address.
    pub async fn all(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY email"
        )))
        .fetch_all(self.store.pool())
        .await?;
        Ok(rows.iter().map(user).collect::<Result<_, _>>()?)
    }

    pub async fn record_login(&self, id: i64, at: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    /// A new password hash, and a new session version (every session of
    /// the user ends); `None` when there is no such user.
    pub async fn set_password(
        &self,
        id: i64,
        password_hash: &str,
    ) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE users SET password_hash = $1, session_version = session_version + 1 \
             WHERE id = $2 RETURNING {USER_COLUMNS}"
        )))
        .bind(password_hash)
        .bind(id)
        .fetch_optional(self.store.pool())
        .await?;
        Ok(row.as_ref().map(user).transpose()?)
    }

    /// A new session version: every session of the user ends.
    pub async fn end_sessions(&self, id: i64) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE users SET session_version = session_version + 1 WHERE id = $1 \
             RETURNING {USER_COLUMNS}"
        )))
        .bind(id)
        .fetch_optional(self.store.pool())
        .await?;
        Ok(row.as_ref().map(user).transpose()?)
    }

    /// Sets a user's role and a new session version, unless that would
    /// leave no admin; `None` when nothing changed (no such user, or the
    /// last admin). One statement, so the count and the change cannot be
    /// split by another request.
    pub async fn set_role_keeping_an_admin(
        &self,
        id: i64,
        role: Role,
    ) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE users SET role = $1, session_version = session_version + 1 \
             WHERE id = $2 AND ($1 = 'admin' OR role <> 'admin' \
             OR (SELECT COUNT(*) FROM users WHERE role = 'admin') > 1) RETURNING {USER_COLUMNS}"
        )))
        .bind(role.as_str())
        .bind(id)
        .fetch_optional(self.store.pool())
        .await?;
        Ok(row.as_ref().map(user).transpose()?)
    }

    /// Deletes a user unless they are the last admin; false when nothing
    /// was deleted.
    pub async fn delete_keeping_an_admin(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM users WHERE id = $1 AND (role <> 'admin' \
             OR (SELECT COUNT(*) FROM users WHERE role = 'admin') > 1)",
        )
        .bind(id)
        .execute(self.store.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// The API tokens; only their hashes are stored.
pub struct ApiTokens<'a> {
    store: &'a Store,
}

impl ApiTokens<'_> {
    /// Whether an active (not revoked) token has this name.
    pub async fn active_name_taken(&self, name: &str) -> Result<bool, StoreError> {
        let taken: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM api_tokens WHERE name = $1 AND revoked_at IS NULL",
        )
        .bind(name)
        .fetch_one(self.store.pool())
        .await?;
        Ok(taken > 0)
    }

    pub async fn insert(
        &self,
        name: &str,
        token_hash: &str,
        now: i64,
    ) -> Result<ApiToken, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO api_tokens (name, token_hash, created_at) VALUES ($1, $2, $3) \
             RETURNING {TOKEN_COLUMNS}"
        )))
        .bind(name)
        .bind(token_hash)
        .bind(now)
        .fetch_one(self.store.pool())
        .await?;
        Ok(token(&row)?)
    }

    /// The active token with this hash.
    pub async fn active_by_hash(&self, token_hash: &str) -> Result<Option<ApiToken>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL"
        )))
        .bind(token_hash)
        .fetch_optional(self.store.pool())
        .await?;
        Ok(row.as_ref().map(token).transpose()?)
    }

    pub async fn record_use(&self, id: i64, at: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    /// Every token, revoked ones included, oldest first.
    pub async fn all(&self) -> Result<Vec<ApiToken>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY id"
        )))
        .fetch_all(self.store.pool())
        .await?;
        Ok(rows.iter().map(token).collect::<Result<_, _>>()?)
    }

    /// Revokes the active token with this id; `None` when there is none.
    pub async fn revoke_id(&self, id: i64, now: i64) -> Result<Option<ApiToken>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL \
             RETURNING {TOKEN_COLUMNS}"
        )))
        .bind(now)
        .bind(id)
        .fetch_optional(self.store.pool())
        .await?;
        Ok(row.as_ref().map(token).transpose()?)
    }

    /// Revokes the active token with this name; `None` when there is none.
    pub async fn revoke_named(&self, name: &str, now: i64) -> Result<Option<ApiToken>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE api_tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL \
             RETURNING {TOKEN_COLUMNS}"
        )))
        .bind(now)
        .bind(name)
        .fetch_optional(self.store.pool())
        .await?;
        Ok(row.as_ref().map(token).transpose()?)
    }
}
