//! Writing to the outbox. Callers pass their open transaction, so the mail
//! exists exactly when the change that caused it is committed, and then call
//! [`MailWaker::wake`] so a worker picks it up at once.

use std::sync::Arc;

use sqlx::AnyConnection;
use tokio::sync::Notify;

use crate::store::{now_ms, rows};

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

/// Adds many messages to the outbox inside the caller's transaction, a few
/// multi-row statements instead of one statement each (a group of signups).
pub async fn enqueue_many(
    conn: &mut AnyConnection,
    mails: &[OneOffMail<'_>],
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    let mut rest = mails;
    for size in rows::chunk_sizes(conn, mails.len()) {
        let (chunk, after) = rest.split_at(size);
        rest = after;
        let sql = format!(
            "INSERT INTO deliveries (kind, subscriber_id, recipient, subject, html_body, \
             text_body, status, attempts, next_attempt_at, created_at) VALUES {}",
            rows::values("(#, #, #, #, #, #, 'pending', 0, $1, $1)", size, 2)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
        for mail in chunk {
            query = query
                .bind(mail.kind.as_str())
                .bind(mail.subscriber_id)
                .bind(mail.recipient)
                .bind(mail.subject)
                .bind(mail.html)
                .bind(mail.text);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
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
