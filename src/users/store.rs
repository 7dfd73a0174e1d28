//! Reading and writing users.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::Role;
use crate::store::{Store, StoreError, now_ms};

#[derive(Clone)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
    /// Sessions started under another version have ended.
    pub session_version: i64,
}

/// The hash stays out of logs, and the address is masked.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &crate::telemetry::mask_email(&self.email))
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

const USER_COLUMNS: &str =
    "id, email, password_hash, role, created_at, last_login_at, session_version";

impl User {
    fn from_row(row: &AnyRow) -> Result<User, sqlx::Error> {
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
}

impl Store {
    pub async fn insert_user(
        &self,
        email: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<User, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO users (email, password_hash, role, created_at) VALUES ($1, $2, $3, $4) \
             RETURNING {USER_COLUMNS}"
        )))
        .bind(email)
        .bind(password_hash)
        .bind(role.as_str())
        .bind(now_ms())
        .fetch_one(self.pool())
        .await?;
        Ok(User::from_row(&row)?)
    }

    pub async fn user_by_email(&self, email_key: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
        )))
        .bind(email_key)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(User::from_row).transpose()?)
    }

    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(User::from_row).transpose()?)
    }

    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY email"
        )))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(User::from_row).collect::<Result<_, _>>()?)
    }

    pub async fn touch_user_login(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// A new password hash; every session of the user ends.
    pub async fn set_user_password(
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
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(User::from_row).transpose()?)
    }

    /// Ends every session of the user.
    pub async fn bump_session_version(&self, id: i64) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE users SET session_version = session_version + 1 WHERE id = $1 \
             RETURNING {USER_COLUMNS}"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(User::from_row).transpose()?)
    }

    /// Sets a user's role (ending their sessions, which were started under
    /// the old role) unless that would leave no admin; `None` when
    /// nothing changed (no such user, or the last admin). One statement, so
    /// the count and the change cannot be split by another request.
    pub async fn set_user_role_keeping_an_admin(
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
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(User::from_row).transpose()?)
    }

    /// Deletes a user unless they are the last admin; false when nothing
    /// was deleted.
    pub async fn delete_user_keeping_an_admin(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM users WHERE id = $1 AND (role <> 'admin' \
             OR (SELECT COUNT(*) FROM users WHERE role = 'admin') > 1)",
        )
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
