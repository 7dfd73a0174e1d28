//! Writing to the outbox. Callers pass their open transaction, so the mail
//! exists exactly when the change that caused it is committed, and then call
//! [`MailWaker::wake`] so a worker picks it up at once.

use std::sync::Arc;

use sqlx::AnyConnection;
use tokio::sync::Notify;

use crate::store::now_ms;
use crate::store::rows::{self, Value};

/// The kinds of rows in `deliveries.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    Confirmation,
    Digest,
    Test,
    Notice,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Confirmation => "confirmation",
            MailKind::Digest => "digest",
            MailKind::Test => "test",
            MailKind::Notice => "notice",
        }
    }
}

/// A message rendered in full when it is enqueued (everything but digests,
/// which are rendered from their issue at send time).
#[derive(Debug, Clone)]
pub struct OneOffMail<'a> {
    pub kind: MailKind,
    pub subscriber_id: Option<i64>,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub html: &'a str,
    pub text: &'a str,
}

/// Adds one message to the outbox inside the caller's transaction; returns
/// its delivery id.
pub async fn enqueue(conn: &mut AnyConnection, mail: &OneOffMail<'_>) -> Result<i64, sqlx::Error> {
    let now = now_ms();
    sqlx::query_scalar(
        "INSERT INTO deliveries (kind, subscriber_id, recipient, subject, html_body, text_body, \
         status, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7) RETURNING id",
    )
    .bind(mail.kind.as_str())
    .bind(mail.subscriber_id)
    .bind(mail.recipient)
    .bind(mail.subject)
    .bind(mail.html)
    .bind(mail.text)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// The outbox rows of many messages, to be written with other rows of the
/// same transaction by [`rows::insert_together`] (a group of signups).
pub fn one_off_rows<'a>(mails: &[OneOffMail<'a>], now: i64) -> rows::InsertRows<'a> {
    let mut rows = rows::InsertRows::new(
        "INSERT INTO deliveries (kind, subscriber_id, recipient, subject, html_body, text_body, \
         status, attempts, next_attempt_at, created_at) VALUES ",
        "(#, #, #, #, #, #, 'pending', 0, #, #)",
    );
    for mail in mails {
        rows.push(&[
            Value::Text(mail.kind.as_str()),
            Value::MaybeInt(mail.subscriber_id),
            Value::Text(mail.recipient),
            Value::Text(mail.subject),
            Value::Text(mail.html),
            Value::Text(mail.text),
            Value::Int(now),
            Value::Int(now),
        ]);
    }
    rows
}

/// Wakes this instance's delivery workers after a commit, so new mail goes
/// out at once instead of at the next poll. Other instances find it at
/// their next poll.
#[derive(Debug, Clone, Default)]
pub struct MailWaker(Arc<Notify>);

impl MailWaker {
    pub fn wake(&self) {
        self.0.notify_waiters();
        self.0.notify_one();
    }

    pub async fn woken(&self) {
        self.0.notified().await;
    }
}
