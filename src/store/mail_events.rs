//! Bounces and complaints reported after the relay accepted a message
//! (`mail_events`): what the `bounces` module recorded, with the raw report,
//! and the counts editors see per issue and over the last days. What an
//! event does to its subscriber is decided by the `bounces` module.

use std::fmt;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::handle::On;
use super::{Store, StoreError, WriteTx};

/// What a report says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailEventKind {
    /// Permanent failure (a 5.x.x status): counts toward
    /// `mail.bounce_threshold`.
    HardBounce,
    /// Temporary failure (4.x.x) or a delay: marks the delivery only.
    SoftBounce,
    /// The reader reported the message as spam.
    Complaint,
}

impl MailEventKind {
    pub const ALL: [MailEventKind; 3] = [
        MailEventKind::HardBounce,
        MailEventKind::SoftBounce,
        MailEventKind::Complaint,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MailEventKind::HardBounce => "hard_bounce",
            MailEventKind::SoftBounce => "soft_bounce",
            MailEventKind::Complaint => "complaint",
        }
    }

    pub fn parse(raw: &str) -> Option<MailEventKind> {
        MailEventKind::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

impl fmt::Display for MailEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The way a report came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailEventSource {
    /// The relay refused the message during the SMTP session (a 5xx).
    Relay,
    /// Gazette's inbound SMTP listener (`mail.bounce.listen`).
    Smtp,
    /// A polled IMAP mailbox.
    Imap,
    Ses,
    Mailgun,
    Sendgrid,
    Postmark,
}

impl MailEventSource {
    pub const ALL: [MailEventSource; 7] = [
        MailEventSource::Relay,
        MailEventSource::Smtp,
        MailEventSource::Imap,
        MailEventSource::Ses,
        MailEventSource::Mailgun,
        MailEventSource::Sendgrid,
        MailEventSource::Postmark,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MailEventSource::Relay => "relay",
            MailEventSource::Smtp => "smtp",
            MailEventSource::Imap => "imap",
            MailEventSource::Ses => "ses",
            MailEventSource::Mailgun => "mailgun",
            MailEventSource::Sendgrid => "sendgrid",
            MailEventSource::Postmark => "postmark",
        }
    }

    pub fn parse(raw: &str) -> Option<MailEventSource> {
        MailEventSource::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

impl fmt::Display for MailEventSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event to record.
#[derive(Debug, Clone)]
pub struct NewMailEvent<'a> {
    pub kind: MailEventKind,
    pub source: MailEventSource,
    pub delivery_id: Option<i64>,
    pub subscriber_id: Option<i64>,
    pub issue_id: Option<i64>,
    pub status_code: Option<&'a str>,
    pub reason: &'a str,
    pub raw_message: &'a str,
    pub received_at: i64,
}

/// A recorded event, without its raw report ([`MailEvents::raw_message`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailEvent {
    pub id: i64,
    pub kind: MailEventKind,
    pub source: MailEventSource,
    pub delivery_id: Option<i64>,
    pub subscriber_id: Option<i64>,
    /// The subscriber's address, while they exist.
    pub email: Option<String>,
    pub issue_id: Option<i64>,
    pub status_code: Option<String>,
    pub reason: String,
    pub received_at: i64,
}

/// How many deliveries bounced or drew a complaint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventCounts {
    pub hard_bounces: i64,
    pub soft_bounces: i64,
    pub complaints: i64,
}

impl EventCounts {
    fn add(&mut self, kind: MailEventKind, count: i64) {
        match kind {
            MailEventKind::HardBounce => self.hard_bounces += count,
            MailEventKind::SoftBounce => self.soft_bounces += count,
            MailEventKind::Complaint => self.complaints += count,
        }
    }
}

/// Which events a list shows: all, one subscriber's, one kind.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventFilter {
    pub subscriber_id: Option<i64>,
    pub kind: Option<MailEventKind>,
    /// Keyset paging: events older than this id.
    pub before_id: Option<i64>,
}

const EVENT_COLUMNS: &str = "e.id, e.kind, e.source, e.delivery_id, e.subscriber_id, \
     s.email, e.issue_id, e.status_code, e.reason, e.received_at";

fn event(row: &AnyRow) -> Result<MailEvent, sqlx::Error> {
    let kind: String = row.try_get("kind")?;
    let source: String = row.try_get("source")?;
    Ok(MailEvent {
        id: row.try_get("id")?,
        kind: MailEventKind::parse(&kind).ok_or_else(|| decode_error("kind", &kind))?,
        source: MailEventSource::parse(&source).ok_or_else(|| decode_error("source", &source))?,
        delivery_id: row.try_get("delivery_id")?,
        subscriber_id: row.try_get("subscriber_id")?,
        email: row.try_get("email")?,
        issue_id: row.try_get("issue_id")?,
        status_code: row.try_get("status_code")?,
        reason: row.try_get("reason")?,
        received_at: row.try_get("received_at")?,
    })
}

fn decode_error(column: &str, raw: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.into(),
        source: format!("unknown value {raw:?}").into(),
    }
}

impl Store {
    pub fn mail_events(&self) -> MailEvents<'_> {
        MailEvents {
            on: On::Pool(self.pool()),
        }
    }
}

impl WriteTx {
    pub fn mail_events(&mut self) -> MailEvents<'_> {
        MailEvents { on: On::Tx(self) }
    }
}

pub struct MailEvents<'a> {
    on: On<'a>,
}

impl MailEvents<'_> {
    /// Records an event; `None` when its delivery already has one of that
    /// kind (the same report arrived twice), which changes nothing.
    pub async fn record(&mut self, event: &NewMailEvent<'_>) -> Result<Option<i64>, StoreError> {
        let mut conn = self.on.conn().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO mail_events (kind, source, delivery_id, subscriber_id, issue_id, \
             status_code, reason, raw_message, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(event.kind.as_str())
        .bind(event.source.as_str())
        .bind(event.delivery_id)
        .bind(event.subscriber_id)
        .bind(event.issue_id)
        .bind(event.status_code)
        .bind(event.reason)
        .bind(event.raw_message)
        .bind(event.received_at)
        .fetch_optional(&mut *conn)
        .await?;
        Ok(id)
    }

    /// A hard bounce the relay gave during the session (its 5xx `reply`),
    /// recorded like a reported one so the counts tell one story.
    pub async fn record_refusal(
        &mut self,
        delivery_id: i64,
        reply: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        sqlx::query(
            "INSERT INTO mail_events (kind, source, delivery_id, subscriber_id, issue_id, \
             status_code, reason, raw_message, received_at) \
             SELECT 'hard_bounce', 'relay', id, subscriber_id, issue_id, NULL, $2, $2, $3 \
             FROM deliveries WHERE id = $1 \
             ON CONFLICT DO NOTHING",
        )
        .bind(delivery_id)
        .bind(reply)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// The newest events first, a page at a time.
    pub async fn list(
        &mut self,
        filter: EventFilter,
        limit: i64,
    ) -> Result<Vec<MailEvent>, StoreError> {
        let mut conn = self.on.conn().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM mail_events e \
             LEFT JOIN subscribers s ON s.id = e.subscriber_id \
             WHERE ($1 IS NULL OR e.subscriber_id = $1) AND ($2 IS NULL OR e.kind = $2) \
             AND ($3 IS NULL OR e.id < $3) \
             ORDER BY e.id DESC LIMIT $4"
        )))
        .bind(filter.subscriber_id)
        .bind(filter.kind.map(MailEventKind::as_str))
        .bind(filter.before_id)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows.iter().map(event).collect::<Result<_, _>>()?)
    }

    pub async fn by_id(&mut self, id: i64) -> Result<Option<(MailEvent, String)>, StoreError> {
        let mut conn = self.on.conn().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS}, e.raw_message FROM mail_events e \
             LEFT JOIN subscribers s ON s.id = e.subscriber_id WHERE e.id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        match row {
            Some(row) => Ok(Some((event(&row)?, row.try_get("raw_message")?))),
            None => Ok(None),
        }
    }

    /// The deliveries of an issue that bounced or drew a complaint.
    pub async fn counts_of_issue(&mut self, issue_id: i64) -> Result<EventCounts, StoreError> {
        let mut conn = self.on.conn().await?;
        let rows = sqlx::query(
            "SELECT kind, COUNT(*) AS n FROM mail_events WHERE issue_id = $1 GROUP BY kind",
        )
        .bind(issue_id)
        .fetch_all(&mut *conn)
        .await?;
        counts(&rows)
    }

    /// Events about digests received since `since_ms` (the dashboard's
    /// rates; confirmations to mistyped addresses are not the list's health).
    pub async fn digest_counts_since(&mut self, since_ms: i64) -> Result<EventCounts, StoreError> {
        let mut conn = self.on.conn().await?;
        let rows = sqlx::query(
            "SELECT kind, COUNT(*) AS n FROM mail_events \
             WHERE received_at >= $1 AND issue_id IS NOT NULL GROUP BY kind",
        )
        .bind(since_ms)
        .fetch_all(&mut *conn)
        .await?;
        counts(&rows)
    }

    /// Digests sent (to how many recipients) by issues sent since
    /// `since_ms`: what the rates are a share of.
    pub async fn digests_sent_since(&mut self, since_ms: i64) -> Result<i64, StoreError> {
        let mut conn = self.on.conn().await?;
        let total: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(total_count), 0) AS BIGINT) FROM issues \
             WHERE status IN ('sending', 'sent') AND COALESCE(sent_at, updated_at) >= $1",
        )
        .bind(since_ms)
        .fetch_one(&mut *conn)
        .await?;
        Ok(total)
    }

    /// Removes events received before `before_ms`; how many went.
    pub async fn prune(&mut self, before_ms: i64) -> Result<u64, StoreError> {
        let mut conn = self.on.conn().await?;
        let done = sqlx::query("DELETE FROM mail_events WHERE received_at < $1")
            .bind(before_ms)
            .execute(&mut *conn)
            .await?;
        Ok(done.rows_affected())
    }
}

fn counts(rows: &[AnyRow]) -> Result<EventCounts, StoreError> {
    let mut counts = EventCounts::default();
    for row in rows {
        let kind: String = row.try_get("kind")?;
        let kind = MailEventKind::parse(&kind).ok_or_else(|| decode_error("kind", &kind))?;
        counts.add(kind, row.try_get("n")?);
    }
    Ok(counts)
}
