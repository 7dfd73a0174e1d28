//! Confirmation tokens, stored as their hashes: the link in a
//! confirmation email, valid for a while and used once.

use sqlx::Row;

use super::Subscribers;
use crate::store::{StoreError, now_ms};

/// A stored confirmation token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenRow {
    pub subscriber_id: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

impl Subscribers<'_> {
    /// A confirmation token for the newsletters `newsletter_ids` (as
    /// `subscriptions::token::id_list` writes them), valid
    /// `lifetime_hours`; the subscriber's last confirmation is now.
    pub async fn insert_confirmation_token(
        &mut self,
        token_hash: &str,
        subscriber_id: i64,
        lifetime_hours: u32,
        newsletter_ids: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO confirmation_tokens (token_hash, subscriber_id, created_at, expires_at, \
             newsletter_ids) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(subscriber_id)
        .bind(now)
        .bind(now + i64::from(lifetime_hours) * 3_600_000)
        .bind(newsletter_ids)
        .execute(&mut *conn)
        .await?;
        sqlx::query("UPDATE subscribers SET last_confirmation_sent_at = $2 WHERE id = $1")
            .bind(subscriber_id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Marks a valid, unused token used; its subscriber and the
    /// newsletters it names (`None` for a token older than that list).
    /// `None` when the token is unknown, used or expired.
    pub async fn use_confirmation_token(
        &mut self,
        token_hash: &str,
    ) -> Result<Option<(i64, Option<String>)>, StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(sqlx::query_as(
            "UPDATE confirmation_tokens SET used_at = $2 \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
             RETURNING subscriber_id, newsletter_ids",
        )
        .bind(token_hash)
        .bind(now_ms())
        .fetch_optional(&mut *conn)
        .await?)
    }

    pub async fn token_by_hash(
        &mut self,
        token_hash: &str,
    ) -> Result<Option<TokenRow>, StoreError> {
        let mut conn = self.on.conn().await?;
        let row = sqlx::query(
            "SELECT subscriber_id, expires_at, used_at FROM confirmation_tokens \
             WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&mut *conn)
        .await?;
        let token = row
            .map(|row| {
                Ok::<_, sqlx::Error>(TokenRow {
                    subscriber_id: row.try_get("subscriber_id")?,
                    expires_at: row.try_get("expires_at")?,
                    used_at: row.try_get("used_at")?,
                })
            })
            .transpose()?;
        Ok(token)
    }
}
