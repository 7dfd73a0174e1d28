//! Signups left unconfirmed: the one reminder each gets, and their removal
//! once too old. Both work in batches, oldest first, and are safe with
//! several instances running them at once.

use sqlx::Row;

use super::Subscribers;
use crate::store::StoreError;

/// A pending signup whose reminder is due, claimed for this caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueReminder {
    pub subscriber_id: i64,
    pub email: String,
    pub name: Option<String>,
    pub locale: String,
}

impl Subscribers<'_> {
    /// Claims up to `limit` pending signups whose last confirmation email
    /// went out before `sent_before` and that were made after
    /// `created_after` (older ones are about to be removed) and never
    /// reminded, marking them reminded at `now`. A signup claimed here is
    /// claimed by no one else: the mark is checked again on each row it
    /// sets, after any concurrent claim of it committed.
    pub async fn claim_reminders(
        &mut self,
        sent_before: i64,
        created_after: i64,
        now: i64,
        limit: i64,
    ) -> Result<Vec<DueReminder>, StoreError> {
        let mut conn = self.on.conn().await?;
        let rows = sqlx::query(
            "UPDATE subscribers SET reminded_at = $3 \
             WHERE id IN (SELECT id FROM subscribers WHERE status = 'pending' \
                 AND reminded_at IS NULL AND created_at > $2 \
                 AND COALESCE(last_confirmation_sent_at, created_at) < $1 \
                 ORDER BY created_at LIMIT $4) \
             AND status = 'pending' AND reminded_at IS NULL \
             RETURNING id, email, name, locale",
        )
        .bind(sent_before)
        .bind(created_after)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows
            .iter()
            .map(|row| {
                Ok(DueReminder {
                    subscriber_id: row.try_get("id")?,
                    email: row.try_get("email")?,
                    name: row.try_get("name")?,
                    locale: row.try_get("locale")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// Removes up to `limit` pending signups whose last confirmation email
    /// went out before `before`, with their tokens, subscriptions and
    /// consent records (the foreign keys cascade); how many went. The
    /// day's signup counters keep them.
    pub async fn remove_expired_pending(
        &mut self,
        before: i64,
        limit: i64,
    ) -> Result<u64, StoreError> {
        let mut conn = self.on.conn().await?;
        let done = sqlx::query(
            "DELETE FROM subscribers WHERE id IN (SELECT id FROM subscribers \
                 WHERE status = 'pending' \
                 AND COALESCE(last_confirmation_sent_at, created_at) < $1 \
                 ORDER BY created_at LIMIT $2) \
             AND status = 'pending'",
        )
        .bind(before)
        .bind(limit)
        .execute(&mut *conn)
        .await?;
        Ok(done.rows_affected())
    }
}
