//! What bounces and complaints change on a subscriber: the count of hard
//! bounces toward the threshold, the suppression a complaint sets, and the
//! look-up by address a provider's report makes.

use super::{SUBSCRIBER_COLUMNS, Subscriber, Subscribers};
use crate::store::{StoreError, now_ms};

impl Subscribers<'_> {
    /// Counts a hard bounce; at `threshold` the subscriber becomes
    /// `bounced` and their digest rows still waiting are cancelled. True
    /// when this bounce crossed the threshold.
    pub async fn count_hard_bounce(
        &mut self,
        id: i64,
        threshold: u32,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.on.conn().await?;
        let bounces: Option<i64> = sqlx::query_scalar(
            "UPDATE subscribers SET hard_bounces = hard_bounces + 1, updated_at = $1 \
             WHERE id = $2 RETURNING hard_bounces",
        )
        .bind(now)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        if bounces.is_none_or(|n| n < i64::from(threshold)) {
            return Ok(false);
        }
        let marked = sqlx::query(
            "UPDATE subscribers SET status = 'bounced', updated_at = $1 \
             WHERE id = $2 AND status <> 'bounced'",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "UPDATE deliveries SET status = 'cancelled', last_error = 'subscriber bounced' \
             WHERE subscriber_id = $1 AND kind = 'digest' AND status = 'pending'",
        )
        .bind(id)
        .execute(&mut *conn)
        .await?;
        Ok(marked.rows_affected() > 0)
    }

    /// How many hard bounces count against the subscriber now.
    pub async fn hard_bounces(&mut self, id: i64) -> Result<Option<i64>, StoreError> {
        let mut conn = self.on.conn().await?;
        let count = sqlx::query_scalar("SELECT hard_bounces FROM subscribers WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        Ok(count)
    }

    /// Marks the address suppressed (a complaint), or clears the mark.
    pub async fn set_suppressed(&mut self, id: i64, at: Option<i64>) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        sqlx::query("UPDATE subscribers SET suppressed_at = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(at)
            .bind(now_ms())
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// The subscriber of an address key (lower-cased address).
    pub async fn by_email_key(
        &mut self,
        email_key: &str,
    ) -> Result<Option<Subscriber>, StoreError> {
        let mut conn = self.on.conn().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE email_key = $1"
        )))
        .bind(email_key)
        .fetch_optional(&mut *conn)
        .await?;
        Ok(row.as_ref().map(Subscriber::from_row).transpose()?)
    }
}
