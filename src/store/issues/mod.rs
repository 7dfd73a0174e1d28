//! Issues: their rows, their stories (`issue_stories`), their delivery
//! counts, and the digest rows an issue puts in the outbox when it is sent.
//! The statements are the same on both databases. Building, editing,
//! sending and cancelling are the `issues` module's, written once on a
//! transaction ([`super::WriteTx::issues`]).

use std::fmt;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::store::handle::On;
use crate::store::newsletters::Newsletter;
use crate::store::stories::Story;
use crate::store::{Store, StoreError, WriteTx};

/// Life of an issue: `draft` → `sending` → `sent`, or `skipped` (nothing
/// new), `cancelled`, or `missed` (a slot the scheduler gave up on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueStatus {
    Draft,
    Sending,
    Sent,
    Cancelled,
    Skipped,
    Missed,
}

impl IssueStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueStatus::Draft => "draft",
            IssueStatus::Sending => "sending",
            IssueStatus::Sent => "sent",
            IssueStatus::Cancelled => "cancelled",
            IssueStatus::Skipped => "skipped",
            IssueStatus::Missed => "missed",
        }
    }

    pub fn parse(raw: &str) -> Option<IssueStatus> {
        Some(match raw {
            "draft" => IssueStatus::Draft,
            "sending" => IssueStatus::Sending,
            "sent" => IssueStatus::Sent,
            "cancelled" => IssueStatus::Cancelled,
            "skipped" => IssueStatus::Skipped,
            "missed" => IssueStatus::Missed,
            _ => return None,
        })
    }

    /// Whether subscribers may have it: the archive shows these.
    pub fn is_published(self) -> bool {
        matches!(self, IssueStatus::Sending | IssueStatus::Sent)
    }
}

impl fmt::Display for IssueStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub id: i64,
    pub newsletter_id: i64,
    /// The schedule slot it was made for; `None` for one built by hand.
    pub slot_at: Option<i64>,
    pub status: IssueStatus,
    pub subject: String,
    pub preheader: Option<String>,
    pub intro: Option<String>,
    pub skip_reason: Option<String>,
    /// Digest rows queued for it.
    pub total_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub send_at: Option<i64>,
    pub sent_at: Option<i64>,
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

const ISSUE_COLUMNS: &str = "id, newsletter_id, slot_at, status, subject, preheader, intro, \
     skip_reason, total_count, created_at, updated_at, send_at, sent_at";

fn issue(row: &AnyRow) -> Result<Issue, sqlx::Error> {
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

impl Store {
    pub fn issues(&self) -> Issues<'_> {
        Issues {
            on: On::Pool(self.pool()),
        }
    }

    /// The issue, its newsletter and its stories.
    pub async fn issue_content(&self, issue_id: i64) -> Result<Option<IssueContent>, StoreError> {
        let Some(issue) = self.issues().by_id(issue_id).await? else {
            return Ok(None);
        };
        let Some(newsletter) = self.newsletters().by_id(issue.newsletter_id).await? else {
            return Ok(None);
        };
        let stories = self.stories().of_issue(issue_id).await?;
        Ok(Some(IssueContent {
            issue,
            newsletter,
            stories,
        }))
    }
}

impl WriteTx {
    pub fn issues(&mut self) -> Issues<'_> {
        Issues { on: On::Tx(self) }
    }
}

pub struct Issues<'a> {
    on: On<'a>,
}

/// Runs one statement that selects or returns `ISSUE_COLUMNS` of at most
/// one issue, with the binds given; the issue, if any.
macro_rules! one_issue {
    ($self:ident, $sql:expr, $($bind:expr),* $(,)?) => {{
        let mut conn = $self.on.conn().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe($sql))
            $(.bind($bind))*
            .fetch_optional(&mut *conn)
            .await?;
        Ok::<Option<Issue>, StoreError>(row.as_ref().map(issue).transpose()?)
    }};
}

// After the macro: the files below use it.
mod drafts;
mod sending;
mod stories;

impl Issues<'_> {
    pub async fn by_id(&mut self, id: i64) -> Result<Option<Issue>, StoreError> {
        one_issue!(
            self,
            format!("SELECT {ISSUE_COLUMNS} FROM issues WHERE id = $1"),
            id
        )
    }

    /// The issue made for `slot_at` of a newsletter, if any.
    pub async fn for_slot(
        &mut self,
        newsletter_id: i64,
        slot_at: i64,
    ) -> Result<Option<Issue>, StoreError> {
        one_issue!(
            self,
            format!("SELECT {ISSUE_COLUMNS} FROM issues WHERE newsletter_id = $1 AND slot_at = $2"),
            newsletter_id,
            slot_at
        )
    }

    /// The newest draft of a newsletter.
    pub async fn current_draft(&mut self, newsletter_id: i64) -> Result<Option<Issue>, StoreError> {
        one_issue!(
            self,
            format!(
                "SELECT {ISSUE_COLUMNS} FROM issues WHERE newsletter_id = $1 AND status = 'draft' \
                 ORDER BY created_at DESC, id DESC LIMIT 1"
            ),
            newsletter_id
        )
    }

    /// The newest issues of every newsletter, with their newsletter's slug.
    pub async fn recent(&mut self, limit: i64) -> Result<Vec<(Issue, String)>, StoreError> {
        let columns = ISSUE_COLUMNS
            .split(", ")
            .map(|c| format!("i.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut conn = self.on.conn().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {columns}, n.slug AS newsletter_slug FROM issues i \
             JOIN newsletters n ON n.id = i.newsletter_id ORDER BY i.id DESC LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        let mut issues = Vec::with_capacity(rows.len());
        for row in &rows {
            issues.push((issue(row)?, row.try_get("newsletter_slug")?));
        }
        Ok(issues)
    }

    /// Published issues (sending or sent) of a newsletter, newest first.
    pub async fn published(
        &mut self,
        newsletter_id: i64,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Issue>, StoreError> {
        let mut conn = self.on.conn().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ISSUE_COLUMNS} FROM issues \
             WHERE newsletter_id = $1 AND status IN ('sending', 'sent') \
             ORDER BY COALESCE(send_at, created_at) DESC, id DESC LIMIT $2 OFFSET $3"
        )))
        .bind(newsletter_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows.iter().map(issue).collect::<Result<_, _>>()?)
    }

    pub async fn count_published(&mut self, newsletter_id: i64) -> Result<i64, StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM issues WHERE newsletter_id = $1 AND status IN ('sending', 'sent')",
        )
        .bind(newsletter_id)
        .fetch_one(&mut *conn)
        .await?)
    }

    /// The issue's digest rows by status: the `issue_counts` row that
    /// triggers on `deliveries` keep (migration 0004), so reading them
    /// costs the same at a million recipients as at ten.
    pub async fn delivery_counts(&mut self, issue_id: i64) -> Result<DeliveryCounts, StoreError> {
        let mut conn = self.on.conn().await?;
        let row = sqlx::query(
            "SELECT pending, sending, sent, failed, cancelled FROM issue_counts WHERE issue_id = $1",
        )
        .bind(issue_id)
        .fetch_optional(&mut *conn)
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

    /// How many subscribers a send of the newsletter would reach now.
    pub async fn count_recipients(&mut self, newsletter_id: i64) -> Result<i64, StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM subscriptions sub JOIN subscribers s ON s.id = sub.subscriber_id \
             WHERE sub.newsletter_id = $1 AND sub.status = 'active' AND s.status = 'active' \
             AND s.paused = 0",
        )
        .bind(newsletter_id)
        .fetch_one(&mut *conn)
        .await?)
    }

    /// When the newsletter's newest issue that went or may go out (not
    /// skipped, missed or cancelled) was created, leaving out `except`.
    pub async fn last_counted_created_at(
        &mut self,
        newsletter_id: i64,
        except: i64,
    ) -> Result<Option<i64>, StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(sqlx::query_scalar(
            "SELECT MAX(created_at) FROM issues WHERE newsletter_id = $1 AND id <> $2 \
             AND status NOT IN ('skipped', 'missed', 'cancelled')",
        )
        .bind(newsletter_id)
        .bind(except)
        .fetch_one(&mut *conn)
        .await?)
    }

    /// The newest slot the newsletter has an issue for.
    pub async fn last_slot(&mut self, newsletter_id: i64) -> Result<Option<i64>, StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(
            sqlx::query_scalar("SELECT MAX(slot_at) FROM issues WHERE newsletter_id = $1")
                .bind(newsletter_id)
                .fetch_one(&mut *conn)
                .await?,
        )
    }

    /// The newsletter's drafts made for a slot at or after `slot_from`,
    /// created before `created_before`.
    pub async fn slot_drafts(
        &mut self,
        newsletter_id: i64,
        slot_from: i64,
        created_before: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(sqlx::query_scalar(
            "SELECT id FROM issues WHERE newsletter_id = $1 AND status = 'draft' \
             AND slot_at IS NOT NULL AND slot_at >= $2 AND created_at < $3",
        )
        .bind(newsletter_id)
        .bind(slot_from)
        .bind(created_before)
        .fetch_all(&mut *conn)
        .await?)
    }

    /// Drafts whose send time is at or before `now`, earliest first.
    pub async fn due_drafts(&mut self, now: i64) -> Result<Vec<i64>, StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(sqlx::query_scalar(
            "SELECT id FROM issues WHERE status = 'draft' AND send_at IS NOT NULL \
             AND send_at <= $1 ORDER BY send_at, id",
        )
        .bind(now)
        .fetch_all(&mut *conn)
        .await?)
    }

    /// The earliest send time of a draft after `after`.
    pub async fn next_send_at(&mut self, after: i64) -> Result<Option<i64>, StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(sqlx::query_scalar(
            "SELECT MIN(send_at) FROM issues WHERE status = 'draft' AND send_at > $1",
        )
        .bind(after)
        .fetch_one(&mut *conn)
        .await?)
    }

    pub async fn status(&mut self, id: i64) -> Result<Option<IssueStatus>, StoreError> {
        let mut conn = self.on.conn().await?;
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM issues WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        Ok(status.as_deref().and_then(IssueStatus::parse))
    }
}
