//! The outbox: every email Gazette sends is a row of `deliveries`, written
//! in the same transaction as the change that causes it
//! ([`Outbox::enqueue`]), then claimed under a lease by the delivery
//! workers ([`claims`]), and its outcome recorded in batches
//! ([`outcomes`]).

use sqlx::Row;

use super::handle::On;
use super::rows::{self, Value};
use super::{Savepoint, Store, StoreError, WriteTx};

pub(crate) mod claims;
pub(crate) mod outcomes;

pub use claims::ClaimedDelivery;
pub use outcomes::Outcome;

/// A kind of outbox row (`deliveries.kind`), named by the module that owns
/// that mail (`issues::mail::DIGEST`, `subscriptions::signup::CONFIRMATION`
/// …), which also registers its renderer with delivery.
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
    /// Rendered by the sender from this record (a confirmation's data in
    /// JSON): a small row for the commonest mail.
    Data(&'a str),
}

const INSERT_ONE_OFF: &str = "INSERT INTO deliveries (kind, subscriber_id, recipient, subject, \
     html_body, text_body, template_data, status, attempts, next_attempt_at, created_at) VALUES ";
const ONE_OFF_ROW: &str = "(#, #, #, #, #, #, #, 'pending', 0, #, #)";

/// The outbox rows of many messages, to be written with other rows of the
/// same transaction by [`rows::insert_together`] (a group of signups).
pub(crate) fn one_off_rows<'a>(mails: &[OneOffMail<'a>], now: i64) -> rows::InsertRows<'a> {
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

/// Where an outbox row stands: waiting (or retrying), leased to a sender,
/// sent, given up, or not sent because its reader left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Sending,
    Sent,
    Failed,
    Cancelled,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 5] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Sending,
        DeliveryStatus::Sent,
        DeliveryStatus::Failed,
        DeliveryStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sending => "sending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<DeliveryStatus> {
        DeliveryStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == raw)
    }
}

impl std::fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A delivery a bounce or complaint report names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedDelivery {
    pub id: i64,
    pub subscriber_id: Option<i64>,
    pub issue_id: Option<i64>,
    pub recipient: String,
}

impl ReportedDelivery {
    fn from_row(row: &sqlx::any::AnyRow) -> Result<ReportedDelivery, sqlx::Error> {
        Ok(ReportedDelivery {
            id: row.try_get("id")?,
            subscriber_id: row.try_get("subscriber_id")?,
            issue_id: row.try_get("issue_id")?,
            recipient: row.try_get("recipient")?,
        })
    }
}

/// One delivery of a subscriber's history.
#[derive(Debug, Clone)]
pub struct DeliveryLine {
    pub kind: String,
    pub issue_id: Option<i64>,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

/// An issue's rows by status; `retrying` counts pending rows that already
/// failed at least once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryProgress {
    pub total: i64,
    pub pending: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
    pub cancelled: i64,
    pub retrying: i64,
}

/// `$from, $from+1, …`: `count` numbered placeholders.
pub(crate) fn placeholders(from: usize, count: usize) -> String {
    (from..from + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl WriteTx {
    pub fn outbox(&mut self) -> Outbox<'_> {
        Outbox { on: On::Tx(self) }
    }
}

impl Savepoint<'_> {
    pub fn outbox(&mut self) -> Outbox<'_> {
        Outbox {
            on: On::Tx(&mut self.0),
        }
    }
}

/// The outbox as the code that queues mail sees it.
pub struct Outbox<'a> {
    on: On<'a>,
}

impl Outbox<'_> {
    /// Adds one message to the outbox; its delivery id.
    pub async fn enqueue(&mut self, mail: &OneOffMail<'_>, now: i64) -> Result<i64, StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(one_off_rows(std::slice::from_ref(mail), now)
            .insert_returning_id(&mut conn)
            .await?)
    }
}

impl Store {
    /// The outbox as the delivery workers see it: claims, outcomes,
    /// progress.
    pub fn deliveries(&self) -> Deliveries<'_> {
        Deliveries { store: self }
    }

    /// [`Outbox::enqueue`] outside a transaction (a test copy).
    pub fn outbox(&self) -> Outbox<'_> {
        Outbox {
            on: On::Pool(self.pool()),
        }
    }
}

pub struct Deliveries<'a> {
    store: &'a Store,
}

impl Deliveries<'_> {
    /// Rows waiting to be sent (pending or leased), for the queue gauge.
    pub async fn depth(&self) -> Result<i64, StoreError> {
        let depth: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM deliveries WHERE status IN ('pending', 'sending')",
        )
        .fetch_one(self.store.pool())
        .await?;
        Ok(depth)
    }

    /// An issue's rows by status, with the pending ones that already failed
    /// once counted again as `retrying`.
    pub async fn progress(&self, issue_id: i64) -> Result<DeliveryProgress, StoreError> {
        let rows = sqlx::query(
            "SELECT status, CASE WHEN attempts > 0 THEN 1 ELSE 0 END AS retried, \
               COUNT(*) AS n FROM deliveries WHERE issue_id = $1 \
             GROUP BY status, CASE WHEN attempts > 0 THEN 1 ELSE 0 END",
        )
        .bind(issue_id)
        .fetch_all(self.store.pool())
        .await?;
        let mut progress = DeliveryProgress::default();
        for row in &rows {
            let status: String = row.try_get("status")?;
            let retried: i64 = row.try_get("retried")?;
            let n: i64 = row.try_get("n")?;
            progress.total += n;
            match status.as_str() {
                "pending" => {
                    progress.pending += n;
                    if retried == 1 {
                        progress.retrying += n;
                    }
                }
                "sending" => progress.sending += n,
                "sent" => progress.sent += n,
                "failed" => progress.failed += n,
                "cancelled" => progress.cancelled += n,
                _ => {}
            }
        }
        Ok(progress)
    }

    /// Whom and what a delivery was for, when a report names it.
    pub async fn reported(&self, id: i64) -> Result<Option<ReportedDelivery>, StoreError> {
        let row = sqlx::query(
            "SELECT id, subscriber_id, issue_id, recipient FROM deliveries WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.store.pool())
        .await?;
        Ok(row.as_ref().map(ReportedDelivery::from_row).transpose()?)
    }

    /// The last message sent to the subscriber of an address key, when a
    /// report names the address but not the message.
    pub async fn last_sent_to(
        &self,
        email_key: &str,
    ) -> Result<Option<ReportedDelivery>, StoreError> {
        let row = sqlx::query(
            "SELECT d.id, d.subscriber_id, d.issue_id, d.recipient FROM deliveries d \
             JOIN subscribers s ON s.id = d.subscriber_id \
             WHERE s.email_key = $1 AND d.status = 'sent' ORDER BY d.id DESC LIMIT 1",
        )
        .bind(email_key)
        .fetch_optional(self.store.pool())
        .await?;
        Ok(row.as_ref().map(ReportedDelivery::from_row).transpose()?)
    }

    /// A subscriber's last `limit` deliveries, newest first.
    pub async fn history_of(
        &self,
        subscriber_id: i64,
        limit: i64,
    ) -> Result<Vec<DeliveryLine>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, issue_id, status, attempts, last_error, created_at, sent_at \
             FROM deliveries WHERE subscriber_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(subscriber_id)
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        let lines = rows
            .iter()
            .map(|row| {
                Ok(DeliveryLine {
                    kind: row.try_get("kind")?,
                    issue_id: row.try_get("issue_id")?,
                    status: {
                        let raw: String = row.try_get("status")?;
                        DeliveryStatus::parse(&raw).ok_or_else(|| sqlx::Error::ColumnDecode {
                            index: "status".into(),
                            source: format!("unknown status {raw:?}").into(),
                        })?
                    },
                    attempts: row.try_get("attempts")?,
                    last_error: row.try_get("last_error")?,
                    created_at: row.try_get("created_at")?,
                    sent_at: row.try_get("sent_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(lines)
    }
}
