//! Sending, cancelling and test-sending an issue.
//!
//! Sending is one transaction: the issue becomes `sending` and one
//! set-based `INSERT … SELECT` writes a pending outbox row for every active
//! subscriber of the newsletter. The unique (issue, subscriber) key makes it
//! idempotent: sending twice, or from two instances, adds no second row.
//! The delivery workers then render the issue once and personalise it per
//! row; the issue becomes `sent` when no row is left pending or in flight
//! (`store::issues::Issues::mark_sent_if_done`).

use email_templates::Templates;

use super::sender::SenderSetup;
use super::{Issue, IssueError, IssueStatus, render};
use crate::config::Settings;
use crate::delivery::outbox::{MailBody, MailWaker, OneOffMail};
use crate::links::LinkSigner;
use crate::newsletters::settings::is_plausible_address;
use crate::store::{Store, now_ms};

/// Fans issue `issue_id` out to the newsletter's active subscribers and
/// wakes the delivery workers. A draft starts sending; an issue already
/// sending is fanned out again, which adds only subscribers who became
/// active since (none twice). Over SMTP, only once `sender` is set.
pub async fn send_issue(
    store: &Store,
    waker: &MailWaker,
    sender: &SenderSetup,
    issue_id: i64,
) -> Result<Issue, IssueError> {
    sender.allow_issue()?;
    let now = now_ms();
    let mut tx = store.begin_write().await?;
    let Some(newsletter_id) = tx.issues().start_sending(issue_id, now).await? else {
        drop(tx);
        return Err(match store.issues().by_id(issue_id).await? {
            Some(issue) => IssueError::WrongStatus(issue.status, "sent"),
            None => IssueError::NotFound(issue_id),
        });
    };
    tx.issues()
        .queue_digests(issue_id, newsletter_id, now)
        .await?;
    let mut issue = tx
        .issues()
        .recount(issue_id)
        .await?
        .ok_or(IssueError::NotFound(issue_id))?;
    tx.commit().await?;
    tracing::info!(
        issue_id,
        recipients = issue.total_count,
        "issue queued for sending"
    );
    // With no recipients there is nothing for a worker to finish.
    if store
        .issues()
        .mark_sent_if_done(issue_id, crate::store::now_ms())
        .await?
    {
        issue = store
            .issues()
            .by_id(issue_id)
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
    let status = tx
        .issues()
        .status(issue_id)
        .await?
        .ok_or(IssueError::NotFound(issue_id))?;
    if !matches!(status, IssueStatus::Draft | IssueStatus::Sending) {
        return Err(IssueError::WrongStatus(status, "cancelled"));
    }
    // Another request may change it between the read and the update.
    let Some(issue) = tx
        .issues()
        .change_status(issue_id, status, IssueStatus::Cancelled, now_ms())
        .await?
    else {
        return Err(IssueError::WrongStatus(status, "cancelled"));
    };
    if status == IssueStatus::Draft {
        tx.issues().remove_stories(issue_id).await?;
    }
    tx.issues().cancel_pending_digests(issue_id).await?;
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
    let copy = OneOffMail {
        kind: super::mail::TEST_COPY,
        subscriber_id: None,
        recipient: address,
        body: MailBody::Rendered {
            subject: &email.subject,
            html: &email.html,
            text: &email.text,
        },
    };
    let delivery_id = context.store.outbox().enqueue(&copy, now_ms()).await?;
    context.waker.wake();
    Ok(delivery_id)
}
