//! The one processor every way in (the SMTP listener, the IMAP poller,
//! the providers' webhooks) hands its reports to. It finds the delivery a
//! report is about (its VERP address, on the envelope or anywhere in the
//! report), records the event once, and applies it in the same
//! transaction:
//!
//! - a hard bounce counts toward `mail.bounce_threshold` (at the threshold
//!   the subscriber is marked bounced and gets nothing more);
//! - a soft bounce only marks the delivery;
//! - a complaint unsubscribes the address from every newsletter at once
//!   and suppresses it until a new signup of it is confirmed.

use crate::delivery::verp::Verp;
use crate::store::dmarc_reports::DmarcReportData;
use crate::store::mail_events::{MailEventKind, MailEventSource, NewMailEvent};
use crate::store::subscribers::{ClientMeta, ConsentSource};
use crate::store::{Store, StoreError, WriteTx, now_ms};
use crate::subscriptions::manage::{UnsubscribeScope, unsubscribe_in};
use crate::telemetry::mask_email;

use super::dmarc;
use super::report::{self, Report};

/// The most of a raw report kept for editors to read.
pub const RAW_KEPT_BYTES: usize = 64 * 1024;

/// A report as it came in.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    pub source: MailEventSource,
    pub raw: &'a [u8],
    /// The SMTP envelope's recipient, when the report came by SMTP.
    pub envelope_recipient: Option<&'a str>,
}

/// What became of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Processed {
    /// Recorded and applied.
    Recorded {
        kind: MailEventKind,
        delivery_id: Option<i64>,
    },
    /// Its delivery already had an event of this kind: nothing changed.
    Duplicate,
    /// Not a bounce or complaint (an auto-reply, a person's answer).
    NotAReport,
    /// A report about no message of ours that can be found.
    Unmatched,
    /// A DMARC aggregate report, stored for the DMARC page.
    DmarcReport,
}

#[derive(Clone)]
pub struct Processor {
    store: Store,
    verp: Verp,
    bounce_threshold: u32,
}

impl Processor {
    pub fn new(store: Store, verp: Verp, bounce_threshold: u32) -> Processor {
        Processor {
            store,
            verp,
            bounce_threshold,
        }
    }

    pub fn verp(&self) -> &Verp {
        &self.verp
    }

    /// A report that came as mail (by SMTP or from a mailbox).
    pub async fn process(&self, incoming: Incoming<'_>) -> Result<Processed, StoreError> {
        let Some(report) = report::read(incoming.raw) else {
            return match dmarc::read(incoming.raw) {
                Some(dmarc) => self.record_dmarc(incoming.source, &dmarc).await,
                None => Ok(Processed::NotAReport),
            };
        };
        let raw = kept_text(incoming.raw);
        self.record(incoming.source, &report, &raw, incoming.envelope_recipient)
            .await
    }

    /// An event a provider's webhook reported (its signature checked), with
    /// the payload it came in, kept as its raw report.
    pub async fn process_event(
        &self,
        source: MailEventSource,
        report: &Report,
        payload: &[u8],
    ) -> Result<Processed, StoreError> {
        self.record(source, report, &kept_text(payload), None).await
    }

    /// Stores a DMARC aggregate report once. Anyone can mail one, and it
    /// changes nothing but what the DMARC page shows.
    async fn record_dmarc(
        &self,
        source: MailEventSource,
        report: &DmarcReportData,
    ) -> Result<Processed, StoreError> {
        let mut tx = self.store.begin_write().await?;
        let stored = tx.dmarc_reports().record(report, source, now_ms()).await?;
        tx.commit().await?;
        if stored.is_none() {
            return Ok(Processed::Duplicate);
        }
        tracing::info!(
            %source,
            reporter = %report.org_name,
            domain = %report.domain,
            messages = report.messages(),
            passed = report.dmarc_pass(),
            "DMARC aggregate report stored"
        );
        Ok(Processed::DmarcReport)
    }

    /// Finds the delivery (the envelope's VERP address, then a VERP address
    /// or Message-ID tag anywhere in the report, then, for a provider's
    /// signed report only, the last message sent to the address it names),
    /// records the event once and applies it, in one transaction.
    async fn record(
        &self,
        source: MailEventSource,
        report: &Report,
        raw: &str,
        envelope_recipient: Option<&str>,
    ) -> Result<Processed, StoreError> {
        let delivery_id = envelope_recipient
            .and_then(|rcpt| self.verp.delivery_of(rcpt))
            .or_else(|| self.verp.deliveries_in(raw).first().copied());
        let mut delivery = match delivery_id {
            Some(id) => self.store.deliveries().reported(id).await?,
            None => None,
        };
        // Only a reporter that proved who it is (a provider's signed
        // webhook) is believed about an address alone: mail to the
        // listener or the mailbox can come from anyone, and a forged report
        // naming an address must not unsubscribe or bounce its owner. Such
        // mail must carry a genuine VERP address or Message-ID tag.
        let vouched = !matches!(source, MailEventSource::Smtp | MailEventSource::Imap);
        let key = report
            .recipient
            .as_deref()
            .filter(|_| vouched)
            .map(str::to_lowercase);
        if delivery.is_none()
            && let Some(key) = &key
        {
            delivery = self.store.deliveries().last_sent_to(key).await?;
        }
        let subscriber_id = match (&delivery, &key) {
            (Some(delivery), _) => delivery.subscriber_id,
            // A provider's complaint about a reader no message of ours
            // reached lately still reaches them, once: with no delivery to
            // count it against, a retried webhook would record it again.
            (None, Some(key)) if report.kind == MailEventKind::Complaint => {
                match self.store.subscribers().by_email_key(key).await? {
                    Some(subscriber) if subscriber.suppressed_at.is_some() => {
                        return Ok(Processed::Duplicate);
                    }
                    found => found.map(|s| s.id),
                }
            }
            _ => None,
        };
        if delivery.is_none() && subscriber_id.is_none() {
            tracing::info!(%source, kind = %report.kind, "a report names no message of ours; ignored");
            return Ok(Processed::Unmatched);
        }
        let event = NewMailEvent {
            kind: report.kind,
            source,
            delivery_id: delivery.as_ref().map(|d| d.id),
            subscriber_id,
            issue_id: delivery.as_ref().and_then(|d| d.issue_id),
            status_code: report.status_code.as_deref(),
            reason: &report.reason,
            raw_message: raw,
            received_at: now_ms(),
        };
        let mut tx = self.store.begin_write().await?;
        if tx.mail_events().record(&event).await?.is_none() {
            return Ok(Processed::Duplicate);
        }
        if let Some(subscriber_id) = subscriber_id {
            self.apply(&mut tx, report, subscriber_id, source).await?;
        }
        tx.commit().await?;
        let to = delivery.as_ref().map(|d| mask_email(&d.recipient));
        tracing::info!(
            %source,
            kind = %report.kind,
            delivery = ?event.delivery_id,
            to = ?to,
            status = report.status_code.as_deref().unwrap_or("-"),
            "report processed"
        );
        Ok(Processed::Recorded {
            kind: report.kind,
            delivery_id: event.delivery_id,
        })
    }

    async fn apply(
        &self,
        tx: &mut WriteTx,
        report: &Report,
        subscriber_id: i64,
        source: MailEventSource,
    ) -> Result<(), StoreError> {
        match report.kind {
            MailEventKind::HardBounce => {
                tx.subscribers()
                    .count_hard_bounce(subscriber_id, self.bounce_threshold, now_ms())
                    .await?;
            }
            MailEventKind::SoftBounce => {}
            MailEventKind::Complaint => {
                let client = ClientMeta {
                    ip: None,
                    user_agent: Some(format!("{source}: {}", report.reason)),
                };
                unsubscribe_in(
                    tx,
                    subscriber_id,
                    &UnsubscribeScope::All,
                    ConsentSource::Complaint,
                    &client,
                )
                .await?;
                tx.subscribers()
                    .set_suppressed(subscriber_id, Some(now_ms()))
                    .await?;
            }
        }
        Ok(())
    }
}

/// The report as text, cut at [`RAW_KEPT_BYTES`] on a character boundary.
fn kept_text(raw: &[u8]) -> String {
    // A cut through a multi-byte character leaves one replacement
    // character at the end, which is harmless.
    String::from_utf8_lossy(&raw[..raw.len().min(RAW_KEPT_BYTES)]).into_owned()
}
