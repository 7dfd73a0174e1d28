//! Writing to the outbox. Callers pass their open transaction, so the mail
//! exists exactly when the change that caused it is committed, and then call
//! [`MailWaker::wake`] so a worker picks it up at once.

use std::sync::Arc;

use sqlx::AnyConnection;
use tokio::sync::Notify;

use crate::store::now_ms;
use crate::store::rows::{self, Value};

/// A kind of outbox row (`deliveries.kind`), named by the module that owns
/// that mail (`issues::mail::DIGEST`, `subscriptions::signup::CONFIRMATION`
/// …), which also registers its renderer (`delivery::render`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailKind(&'static str);

impl MailKind {
    pub const fn new(name: &'static str) -> MailKind {
        MailKind(name)
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

/// A message for one recipient (everything but digests, which are
/// rendered from their issue at send time).
#[derive(Debug, Clone)]
pub struct OneOffMail<'a> {
    pub kind: MailKind,
    pub subscriber_id: Option<i64>,
    pub recipient: &'a str,
    pub body: MailBody<'a>,
}

#[derive(Debug, Clone, Copy)]
pub enum MailBody<'a> {
    /// Rendered in full when enqueued.
    Rendered {
        subject: &'a str,
        html: &'a str,
        text: &'a str,
    },
    /// Rendered by the sender from this record (a confirmation's
    /// `ConfirmationData` in JSON): a small row for the commonest mail.
    Data(&'a str),
}

const INSERT_ONE_OFF: &str = "INSERT INTO deliveries (kind, subscriber_id, recipient, subject, \
     html_body, text_body, template_data, status, attempts, next_attempt_at, created_at) VALUES ";
const ONE_OFF_ROW: &str = "(#, #, #, #, #, #, #, 'pending', 0, #, #)";

/// Adds one message to the outbox inside the caller's transaction; returns
/// its delivery id.
pub async fn enqueue(conn: &mut AnyConnection, mail: &OneOffMail<'_>) -> Result<i64, sqlx::Error> {
    one_off_rows(std::slice::from_ref(mail), now_ms())
        .insert_returning_id(conn)
        .await
}

/// The outbox rows of many messages, to be written with other rows of the
/// same transaction by [`rows::insert_together`] (a group of signups).
pub fn one_off_rows<'a>(mails: &[OneOffMail<'a>], now: i64) -> rows::InsertRows<'a> {
    let mut rows = rows::InsertRows::new(INSERT_ONE_OFF, ONE_OFF_ROW);
    for mail in mails {
        let (subject, html, text, data) = match mail.body {
            MailBody::Rendered {
                subject,
                html,
                text,
            } => (Some(subject), Some(html), Some(text), None),
            MailBody::Data(data) => (None, None, None, Some(data)),
        };
        rows.push(&[
            Value::Text(mail.kind.as_str()),
            Value::MaybeInt(mail.subscriber_id),
            Value::Text(mail.recipient),
            Value::MaybeText(subject),
            Value::MaybeText(html),
            Value::MaybeText(text),
            Value::MaybeText(data),
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
