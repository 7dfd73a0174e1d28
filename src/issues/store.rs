//! Reading issues, their stories and their delivery counts, and the one
//! status change the delivery workers need: [`Store::mark_issue_sent_if_done`].

use sqlx::Row;
use sqlx::any::AnyRow;

use super::IssueStatus;
use crate::newsletters::Newsletter;
use crate::store::{Store, StoreError, now_ms};
use crate::stories::Story;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub id: i64,
    pub newsletter_id: i64,
    pub slot_at: Option<i64>,
    pub status: IssueStatus,
    pub subject: String,
    pub preheader: Option<String>,
    pub intro: Option<String>,
    pub skip_reason: Option<String>,
    pub total_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub send_at: Option<i64>,
    pub sent_at: Option<i64>,
}

pub const ISSUE_COLUMNS: &str = "id, newsletter_id, slot_at, status, subject, preheader, intro, \
     skip_reason, total_count, created_at, updated_at, send_at, sent_at";

impl Issue {
    pub fn from_row(row: &AnyRow) -> Result<Issue, sqlx::Error> {
        let status: String = row.try_get("status")?;
        Ok(Issue {
            id: row.try_get("id")?,
            newsletter_id: row.try_get("newsletter_id")?,
            slot_at: row.try_get("slot_at")?,
            status: IssueStatus::parse(&status).ok_or_else(|| sqlx::Error::ColumnDecode {
                index: "status".into(),
                source: format!("unknown issue status {status:?}").into(),
            })?,
            subject: row.try_get("subject")?,
            preheader: row.try_get("preheader")?,
            intro: row.try_get("intro")?,
            skip_reason: row.try_get("skip_reason")?,
            total_count: row.try_get("total_count")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            send_at: row.try_get("send_at")?,
            sent_at: row.try_get("sent_at")?,
        })
    }
}

/// An issue with everything needed to render it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueContent {
    pub issue: Issue,
    pub newsletter: Newsletter,
    /// In the issue's order.
    pub stories: Vec<Story>,
}

/// An issue's digest rows by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    pub pending: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
    pub cancelled: i64,
}

impl DeliveryCounts {
    pub fn total(&self) -> i64 {
        self.pending + self.sending + self.sent + self.failed + self.cancelled
    }
}

impl Store {
    pub async fn issue_by_id(&self, id: i64) -> Result<Option<Issue>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ISSUE_COLUMNS} FROM issues WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(Issue::from_row).transpose()?)
    }

    /// The issue made for `slot_at` of a newsletter, if any.
    pub async fn issue_for_slot(
        &self,
        newsletter_id: i64,
        slot_at: i64,
    ) -> Result<Option<Issue>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ISSUE_COLUMNS} FROM issues WHERE newsletter_id = $1 AND slot_at = $2"
        )))
        .bind(newsletter_id)
        .bind(slot_at)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(Issue::from_row).transpose()?)
    }

    /// The newest draft of a newsletter: what an editor previews and sends.
    pub async fn current_draft(&self, newsletter_id: i64) -> Result<Option<Issue>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ISSUE_COLUMNS} FROM issues WHERE newsletter_id = $1 AND status = 'draft' \
             ORDER BY created_at DESC, id DESC LIMIT 1"
        )))
        .bind(newsletter_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(Issue::from_row).transpose()?)
    }

    /// The stories of an issue, in its order.
    pub async fn issue_stories(&self, issue_id: i64) -> Result<Vec<Story>, StoreError> {
        self.stories().of_issue(issue_id).await
    }

    /// The issue, its newsletter and its stories.
    pub async fn issue_content(&self, issue_id: i64) -> Result<Option<IssueContent>, StoreError> {
        let Some(issue) = self.issue_by_id(issue_id).await? else {
            return Ok(None);
        };
        let Some(newsletter) = self.newsletters().by_id(issue.newsletter_id).await? else {
            return Ok(None);
        };
        let stories = self.issue_stories(issue_id).await?;
        Ok(Some(IssueContent {
            issue,
            newsletter,
            stories,
        }))
    }

    /// The issue's digest rows by status: the `issue_counts` row that
    /// triggers on `deliveries` keep (migration 0004), so reading them
    /// costs the same at a million recipients as at ten.
    pub async fn delivery_counts(&self, issue_id: i64) -> Result<DeliveryCounts, StoreError> {
        let row = sqlx::query(
            "SELECT pending, sending, sent, failed, cancelled FROM issue_counts WHERE issue_id = $1",
        )
        .bind(issue_id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(DeliveryCounts::default());
        };
        Ok(DeliveryCounts {
            pending: row.try_get("pending")?,
            sending: row.try_get("sending")?,
            sent: row.try_get("sent")?,
            failed: row.try_get("failed")?,
            cancelled: row.try_get("cancelled")?,
        })
    }

    /// Marks a sending issue `sent` once none of its rows is pending or in
    /// flight. Cheap (an indexed existence check) and safe to call from any
    /// number of workers and readers: only the first call changes anything.
    /// Returns whether this call marked it.
    pub async fn mark_issue_sent_if_done(&self, issue_id: i64) -> Result<bool, StoreError> {
        let now = now_ms();
        let marked = sqlx::query(
            "UPDATE issues SET status = 'sent', sent_at = $1, updated_at = $1 \
             WHERE id = $2 AND status = 'sending' AND NOT EXISTS (\
               SELECT 1 FROM deliveries WHERE issue_id = $2 AND status IN ('pending', 'sending'))",
        )
        .bind(now)
        .bind(issue_id)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(marked == 1)
    }

    /// Published issues (sending or sent) of a newsletter, newest first.
    pub async fn published_issues(
        &self,
        newsletter_id: i64,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Issue>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ISSUE_COLUMNS} FROM issues \
             WHERE newsletter_id = $1 AND status IN ('sending', 'sent') \
             ORDER BY COALESCE(send_at, created_at) DESC, id DESC LIMIT $2 OFFSET $3"
        )))
        .bind(newsletter_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(Issue::from_row).collect::<Result<_, _>>()?)
    }

    pub async fn count_published_issues(&self, newsletter_id: i64) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM issues WHERE newsletter_id = $1 AND status IN ('sending', 'sent')",
        )
        .bind(newsletter_id)
        .fetch_one(self.pool())
        .await?)
    }

    /// How many subscribers a send would reach now.
    pub async fn count_active_recipients(&self, newsletter_id: i64) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM subscriptions sub JOIN subscribers s ON s.id = sub.subscriber_id \
             WHERE sub.newsletter_id = $1 AND sub.status = 'active' AND s.status = 'active' \
             AND s.paused = 0",
        )
        .bind(newsletter_id)
        .fetch_one(self.pool())
        .await?)
    }
}
