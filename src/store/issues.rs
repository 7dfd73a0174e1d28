//! Issues: their rows, their stories (`issue_stories`), their delivery
//! counts, and the digest rows an issue puts in the outbox when it is sent.
//! The statements are the same on both databases. Building, editing,
//! sending and cancelling are the `issues` module's, written once on a
//! transaction ([`super::WriteTx::issues`]).

use std::fmt;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::handle::On;
use super::newsletters::Newsletter;
use super::stories::Story;
use super::{Store, StoreError, WriteTx};

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

    /// The ids of the stories in the issue.
    pub async fn story_ids(&mut self, issue_id: i64) -> Result<Vec<i64>, StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(
            sqlx::query_scalar("SELECT story_id FROM issue_stories WHERE issue_id = $1")
                .bind(issue_id)
                .fetch_all(&mut *conn)
                .await?,
        )
    }

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

    /// Puts a story in the issue at `position`; a story the newsletter
    /// carried before is a unique violation.
    pub async fn add_story(
        &mut self,
        issue_id: i64,
        newsletter_id: i64,
        story_id: i64,
        position: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        sqlx::query(
            "INSERT INTO issue_stories (issue_id, newsletter_id, story_id, position) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(issue_id)
        .bind(newsletter_id)
        .bind(story_id)
        .bind(position)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    pub async fn remove_story(&mut self, issue_id: i64, story_id: i64) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        sqlx::query("DELETE FROM issue_stories WHERE issue_id = $1 AND story_id = $2")
            .bind(issue_id)
            .bind(story_id)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Gives every story of the issue back (for a later issue).
    pub async fn remove_stories(&mut self, issue_id: i64) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        sqlx::query("DELETE FROM issue_stories WHERE issue_id = $1")
            .bind(issue_id)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    pub async fn set_story_position(
        &mut self,
        issue_id: i64,
        story_id: i64,
        position: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        sqlx::query("UPDATE issue_stories SET position = $1 WHERE issue_id = $2 AND story_id = $3")
            .bind(position)
            .bind(issue_id)
            .bind(story_id)
            .execute(&mut *conn)
            .await?;
        Ok(())
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
