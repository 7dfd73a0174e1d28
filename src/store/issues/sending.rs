//! Sending an issue: its digest rows queued in the outbox, its counts
//! kept, its status moved on, and the issue marked sent when done.

use super::{ISSUE_COLUMNS, Issue, IssueStatus, Issues, issue};
use crate::store::StoreError;

impl Issues<'_> {
    /// A draft or sending issue becomes `sending` (its send time kept, or
    /// now); its newsletter's id, `None` when it was in another state.
    pub async fn start_sending(&mut self, id: i64, now: i64) -> Result<Option<i64>, StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(sqlx::query_scalar(
            "UPDATE issues SET status = 'sending', send_at = COALESCE(send_at, $1), \
             updated_at = $1 WHERE id = $2 AND status IN ('draft', 'sending') \
             RETURNING newsletter_id",
        )
        .bind(now)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?)
    }

    /// One pending digest row for every active, unpaused subscriber of the
    /// newsletter who has none for this issue yet: one set-based statement
    /// whatever the list's size, and the unique (issue, subscriber) key
    /// makes it idempotent.
    pub async fn queue_digests(
        &mut self,
        issue_id: i64,
        newsletter_id: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        sqlx::query(
            "INSERT INTO deliveries (kind, issue_id, subscriber_id, recipient, status, attempts, \
             next_attempt_at, created_at) \
             SELECT 'digest', $1, s.id, s.email, 'pending', 0, $2, $2 \
             FROM subscriptions sub JOIN subscribers s ON s.id = sub.subscriber_id \
             WHERE sub.newsletter_id = $3 AND sub.status = 'active' AND s.status = 'active' \
             AND s.paused = 0 \
             ON CONFLICT (issue_id, subscriber_id) DO NOTHING",
        )
        .bind(issue_id)
        .bind(now)
        .bind(newsletter_id)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Sets the issue's `total_count` to its digest rows.
    pub async fn recount(&mut self, id: i64) -> Result<Option<Issue>, StoreError> {
        one_issue!(
            self,
            format!(
                "UPDATE issues SET total_count = (SELECT COUNT(*) FROM deliveries \
                   WHERE issue_id = $1 AND kind = 'digest') \
                 WHERE id = $1 RETURNING {ISSUE_COLUMNS}"
            ),
            id
        )
    }

    /// Moves the issue from `from` to `to`; `None` when it was not `from`.
    pub async fn change_status(
        &mut self,
        id: i64,
        from: IssueStatus,
        to: IssueStatus,
        now: i64,
    ) -> Result<Option<Issue>, StoreError> {
        one_issue!(
            self,
            format!(
                "UPDATE issues SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4 \
                 RETURNING {ISSUE_COLUMNS}"
            ),
            to.as_str(),
            now,
            id,
            from.as_str()
        )
    }

    /// Cancels the issue's rows not yet sent (rows a worker holds still go).
    pub async fn cancel_pending_digests(&mut self, issue_id: i64) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        sqlx::query(
            "UPDATE deliveries SET status = 'cancelled' WHERE issue_id = $1 AND status = 'pending'",
        )
        .bind(issue_id)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Marks a sending issue `sent` once none of its rows is pending or in
    /// flight. Cheap (an indexed existence check) and safe to call from any
    /// number of workers and readers: only the first call changes anything.
    /// Returns whether this call marked it.
    pub async fn mark_sent_if_done(&mut self, id: i64, now: i64) -> Result<bool, StoreError> {
        let mut conn = self.on.conn().await?;
        let marked = sqlx::query(
            "UPDATE issues SET status = 'sent', sent_at = $1, updated_at = $1 \
             WHERE id = $2 AND status = 'sending' AND NOT EXISTS (\
               SELECT 1 FROM deliveries WHERE issue_id = $2 AND status IN ('pending', 'sending'))",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        Ok(marked == 1)
    }
}
