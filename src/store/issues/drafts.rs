//! Drafts: written for a slot by the builder or by an editor, filled,
//! edited, scheduled, and taken by the sender.

use super::{ISSUE_COLUMNS, Issue, IssueStatus, Issues, issue};
use crate::store::StoreError;

impl Issues<'_> {
    /// A new, empty draft of the newsletter (for `slot_at` when it is a
    /// scheduled one); its id. A slot that has an issue already is a
    /// unique violation.
    pub async fn insert_draft(
        &mut self,
        newsletter_id: i64,
        slot_at: Option<i64>,
        now: i64,
    ) -> Result<i64, StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(sqlx::query_scalar(
            "INSERT INTO issues (newsletter_id, slot_at, status, subject, created_at, updated_at) \
             VALUES ($1, $2, 'draft', '', $3, $3) RETURNING id",
        )
        .bind(newsletter_id)
        .bind(slot_at)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?)
    }

    /// Records a slot the scheduler gave up on, unless it has an issue;
    /// whether it was recorded.
    pub async fn insert_missed(
        &mut self,
        newsletter_id: i64,
        slot_at: i64,
        reason: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.on.conn().await?;
        let inserted = sqlx::query(
            "INSERT INTO issues (newsletter_id, slot_at, status, skip_reason, created_at, updated_at) \
             VALUES ($1, $2, 'missed', $3, $4, $4) ON CONFLICT (newsletter_id, slot_at) DO NOTHING",
        )
        .bind(newsletter_id)
        .bind(slot_at)
        .bind(reason)
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        Ok(inserted > 0)
    }

    /// The built issue's status, subject and skip reason.
    pub async fn finish_build(
        &mut self,
        id: i64,
        status: IssueStatus,
        subject: &str,
        skip_reason: Option<&str>,
    ) -> Result<Issue, StoreError> {
        let issue: Option<Issue> = one_issue!(
            self,
            format!(
                "UPDATE issues SET status = $1, subject = $2, skip_reason = $3 WHERE id = $4 \
                 RETURNING {ISSUE_COLUMNS}"
            ),
            status.as_str(),
            subject,
            skip_reason,
            id
        )?;
        issue.ok_or_else(|| StoreError::Sql(sqlx::Error::RowNotFound))
    }

    /// Touches a draft (taking its row for the transaction); `None` when it
    /// is not a draft (or not there).
    pub async fn take_draft(&mut self, id: i64, now: i64) -> Result<Option<Issue>, StoreError> {
        one_issue!(
            self,
            format!(
                "UPDATE issues SET updated_at = $1 WHERE id = $2 AND status = 'draft' \
                 RETURNING {ISSUE_COLUMNS}"
            ),
            now,
            id
        )
    }

    /// Subject, preheader and intro of the issue.
    pub async fn set_texts(
        &mut self,
        id: i64,
        subject: &str,
        preheader: Option<&str>,
        intro: Option<&str>,
    ) -> Result<Option<Issue>, StoreError> {
        one_issue!(
            self,
            format!(
                "UPDATE issues SET subject = $1, preheader = $2, intro = $3 WHERE id = $4 \
                 RETURNING {ISSUE_COLUMNS}"
            ),
            subject,
            preheader,
            intro,
            id
        )
    }

    /// Sets (or clears) a draft's send time and its skip note; `None` when
    /// it is not a draft.
    pub async fn schedule_draft(
        &mut self,
        id: i64,
        send_at: Option<i64>,
        now: i64,
    ) -> Result<Option<Issue>, StoreError> {
        one_issue!(
            self,
            format!(
                "UPDATE issues SET send_at = $1, skip_reason = NULL, updated_at = $2 \
                 WHERE id = $3 AND status = 'draft' RETURNING {ISSUE_COLUMNS}"
            ),
            send_at,
            now,
            id
        )
    }

    /// Clears the send time of drafts due before `before`, noting `reason`;
    /// how many.
    pub async fn unschedule_due_before(
        &mut self,
        before: i64,
        reason: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(sqlx::query(
            "UPDATE issues SET send_at = NULL, skip_reason = $1, updated_at = $2 \
             WHERE status = 'draft' AND send_at IS NOT NULL AND send_at < $3",
        )
        .bind(reason)
        .bind(now)
        .bind(before)
        .execute(&mut *conn)
        .await?
        .rows_affected())
    }
}
