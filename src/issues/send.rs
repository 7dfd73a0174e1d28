//! Sending, cancelling and test-sending an issue.
//!
//! Sending is one transaction: the issue becomes `sending` and one
//! set-based `INSERT … SELECT` writes a pending outbox row for every active
//! subscriber of the newsletter. The unique (issue, subscriber) key makes it
//! idempotent: sending twice, or from two instances, adds no second row.
//! The delivery workers then render the issue once and personalise it per
//! row; the issue becomes `sent` when no row is left pending or in flight
//! ([`crate::store::Store::mark_issue_sent_if_done`]).

use email_templates::Templates;

use super::store::{ISSUE_COLUMNS, Issue};
use super::{IssueError, IssueStatus, render};
use crate::config::Settings;
use crate::delivery::outbox::{self, MailBody, MailWaker, OneOffMail};
use crate::links::LinkSigner;
use crate::newsletters::settings::is_plausible_address;
use crate::store::{Store, now_ms};

/// Fans issue `issue_id` out to the newsletter's active subscribers and
/// wakes the delivery workers. A draft starts sending; an issue already
/// sending is fanned out again, which adds only subscribers who became
/// active since (none twice).
pub async fn send_issue(
    store: &Store,
    waker: &MailWaker,
    issue_id: i64,
) -> Result<Issue, IssueError> {
    let now = now_ms();
    let mut tx = store.begin_write().await?;
    let newsletter_id: Option<i64> = sqlx::query_scalar(
        "UPDATE issues SET status = 'sending', send_at = COALESCE(send_at, $1), updated_at = $1 \
         WHERE id = $2 AND status IN ('draft', 'sending') RETURNING newsletter_id",
    )
    .bind(now)
    .bind(issue_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(newsletter_id) = newsletter_id else {
        drop(tx);
        return Err(match store.issue_by_id(issue_id).await? {
            Some(issue) => IssueError::WrongStatus(issue.status, "sent"),
            None => IssueError::NotFound(issue_id),
        });
    };
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
    .execute(&mut *tx)
    .await?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE issues SET total_count = (SELECT COUNT(*) FROM deliveries \
           WHERE issue_id = $1 AND kind = 'digest') \
         WHERE id = $1 RETURNING {ISSUE_COLUMNS}"
    )))
    .bind(issue_id)
    .fetch_one(&mut *tx)
    .await?;
    let mut issue = Issue::from_row(&row)?;
    tx.commit().await?;
    tracing::info!(
        issue_id,
        recipients = issue.total_count,
        "issue queued for sending"
    );
    // With no recipients there is nothing for a worker to finish.
    if store.mark_issue_sent_if_done(issue_id).await? {
        issue = store
            .issue_by_id(issue_id)
            .await?
            .ok_or(IssueError::NotFound(issue_id))?;
    }
    waker.wake();
    Ok(issue)
}

/// Cancels a draft or a sending issue: rows not yet sent are cancelled
/// (rows a worker holds right now still go). A cancelled draft gives its
/// stories back for a later issue; a cancelled send keeps them, since some
/// subscribers have them.
pub async fn cancel_issue(store: &Store, issue_id: i64) -> Result<Issue, IssueError> {
    let mut tx = store.begin_write().await?;
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM issues WHERE id = $1")
        .bind(issue_id)
        .fetch_optional(&mut *tx)
        .await?;
    let status = status
        .as_deref()
        .and_then(IssueStatus::parse)
        .ok_or(IssueError::NotFound(issue_id))?;
    if !matches!(status, IssueStatus::Draft | IssueStatus::Sending) {
        return Err(IssueError::WrongStatus(status, "cancelled"));
    }
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE issues SET status = 'cancelled', updated_at = $1 WHERE id = $2 AND status = $3 \
         RETURNING {ISSUE_COLUMNS}"
    )))
    .bind(now_ms())
    .bind(issue_id)
    .bind(status.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    // Another request changed it between the read and the update.
    let Some(row) = row else {
        return Err(IssueError::WrongStatus(status, "cancelled"));
    };
    let issue = Issue::from_row(&row)?;
    if status == IssueStatus::Draft {
        sqlx::query("DELETE FROM issue_stories WHERE issue_id = $1")
            .bind(issue_id)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "UPDATE deliveries SET status = 'cancelled' WHERE issue_id = $1 AND status = 'pending'",
    )
    .bind(issue_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(issue)
}

/// What a test send needs from the running service.
#[derive(Clone, Copy)]
pub struct TestSendContext<'a> {
    pub store: &'a Store,
    pub templates: &'a Templates,
    pub settings: &'a Settings,
    pub links: &'a LinkSigner,
    pub waker: &'a MailWaker,
    pub recipients: &'a super::test_recipients::TestRecipients,
}

/// Puts one copy of the issue, marked as a test, in the outbox for
/// `address`. Any issue can be test-sent, whatever its status; an address
/// that is no user's counts against the hour's limit of other addresses
/// ([`super::test_recipients`]).
pub async fn send_test(
    context: TestSendContext<'_>,
    issue_id: i64,
    address: &str,
) -> Result<i64, IssueError> {
    let address = address.trim();
    if !is_plausible_address(address) {
        let mut fields = std::collections::BTreeMap::new();
        fields.insert(
            "email",
            "must be an email address like name@example.org".to_string(),
        );
        return Err(super::edit::InvalidEdit { fields }.into());
    }
    let content = context
        .store
        .issue_content(issue_id)
        .await?
        .ok_or(IssueError::NotFound(issue_id))?;
    let key = address.to_lowercase();
    if context.store.users().by_email(&key).await?.is_none() {
        context.recipients.admit_other(&key)?;
    }
    let template = render::render_digest(context.templates, context.settings, &content, true)?;
    let email = render::editor_copy(&template, context.links);
    let mut tx = context.store.begin_write().await?;
    let delivery_id = outbox::enqueue(
        &mut tx,
        &OneOffMail {
            kind: super::mail::TEST_COPY,
            subscriber_id: None,
            recipient: address,
            body: MailBody::Rendered {
                subject: &email.subject,
                html: &email.html,
                text: &email.text,
            },
        },
    )
    .await?;
    tx.commit().await?;
    context.waker.wake();
    Ok(delivery_id)
}
