//! Writing valid import rows, one batch per transaction. Each row's writes
//! (subscriber, subscription, consent record, token and confirmation mail,
//! counters) go into the batch's transaction together, so a crash leaves
//! whole rows or none, and every write is idempotent for a re-run.
//!
//! The pending path writes what a signup writes (see `signup::sign_up`),
//! but inside the batch's transaction instead of one of its own.

use super::{ImportRow, RejectReason, Rejection, jobs};
use crate::newsletters::Newsletter;
use crate::store::subscribers::{
    ClientMeta, ConsentKind, ConsentSource, DailyCounter, Subscriber, SubscriberStatus,
    SubscriptionStatus,
};
use crate::store::{Store, StoreError, WriteTx, now_ms};
use crate::subscriptions::signup::{ConfirmationData, queue_confirmation};
use crate::subscriptions::token::{CONFIRMATION_TOKEN_LIFETIME_HOURS, ConfirmationToken};
use email_templates::Locale;

#[derive(Debug, Default)]
pub(super) struct BatchOutcome {
    pub added_active: u64,
    pub added_pending: u64,
    pub unchanged: u64,
    pub rejected: Vec<Rejection>,
}

enum RowOutcome {
    AddedActive,
    AddedPending,
    Unchanged,
    Rejected(RejectReason),
}

pub(super) struct RowWriter<'a> {
    newsletter: &'a Newsletter,
    locale: Locale,
    newsletter_names: Vec<String>,
}

impl<'a> RowWriter<'a> {
    pub fn new(newsletter: &'a Newsletter) -> RowWriter<'a> {
        RowWriter {
            newsletter,
            locale: newsletter.locale.parse().unwrap_or(Locale::En),
            newsletter_names: vec![newsletter.name.clone()],
        }
    }

    /// Writes `rows` in one transaction, with the job's progress
    /// (`processed_before` rows were handled before this batch).
    pub async fn write_batch(
        &self,
        store: &Store,
        rows: &[ImportRow],
        job_id: i64,
        processed_before: u64,
    ) -> Result<BatchOutcome, StoreError> {
        let mut outcome = BatchOutcome::default();
        let mut tx = store.begin_write().await?;
        for row in rows {
            match self.write_row(&mut tx, row, job_id).await? {
                RowOutcome::AddedActive => outcome.added_active += 1,
                RowOutcome::AddedPending => outcome.added_pending += 1,
                RowOutcome::Unchanged => outcome.unchanged += 1,
                RowOutcome::Rejected(reason) => outcome.rejected.push(Rejection {
                    line: row.line,
                    email: row.email.as_str().to_string(),
                    reason,
                }),
            }
        }
        jobs::record_batch(
            &mut tx,
            job_id,
            processed_before + rows.len() as u64,
            &outcome,
        )
        .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn write_row(
        &self,
        tx: &mut WriteTx,
        row: &ImportRow,
        job_id: i64,
    ) -> Result<RowOutcome, StoreError> {
        let name = row.name.as_ref().map(|n| n.as_str());
        // A write first, as in a signup: it takes SQLite's write lock and
        // locks the row on PostgreSQL against a signup of the same address.
        let subscriber = tx
            .subscribers()
            .upsert_pending(
                row.email.as_str(),
                &row.email.key(),
                name,
                &self.newsletter.locale,
            )
            .await?;
        if subscriber.status == SubscriberStatus::Bounced {
            return Ok(RowOutcome::Rejected(RejectReason::Bounced));
        }
        if subscriber.suppressed_at.is_some() {
            return Ok(RowOutcome::Rejected(RejectReason::Complained));
        }
        let current = tx
            .subscribers()
            .subscription_status(subscriber.id, self.newsletter.id)
            .await?;
        let detail = format!("{}; import #{job_id}", self.newsletter.slug);
        Ok(match (current, row.opted_in) {
            (Some(SubscriptionStatus::Unsubscribed), _) => {
                RowOutcome::Rejected(RejectReason::Unsubscribed)
            }
            (Some(SubscriptionStatus::Active), _) | (Some(_), false) => RowOutcome::Unchanged,
            (Some(_), true) => {
                self.activate(tx, &subscriber, row, &detail).await?;
                RowOutcome::AddedActive
            }
            (None, true) => {
                tx.subscribers()
                    .request_subscription(subscriber.id, self.newsletter.id)
                    .await?;
                record(tx, subscriber.id, ConsentKind::Signup, &detail).await?;
                tx.subscribers()
                    .count_today(self.newsletter.id, DailyCounter::Signups)
                    .await?;
                self.activate(tx, &subscriber, row, &detail).await?;
                RowOutcome::AddedActive
            }
            (None, false) => {
                self.request_confirmation(tx, &subscriber, row, &detail)
                    .await?;
                RowOutcome::AddedPending
            }
        })
    }

    /// The file says they opted in: the subscription is active at once.
    async fn activate(
        &self,
        tx: &mut WriteTx,
        subscriber: &Subscriber,
        row: &ImportRow,
        detail: &str,
    ) -> Result<(), StoreError> {
        tx.subscribers()
            .set_subscription_status(
                subscriber.id,
                self.newsletter.id,
                SubscriptionStatus::Pending,
                SubscriptionStatus::Active,
            )
            .await?;
        let consented_at = row.consented_at.unwrap_or_else(now_ms);
        tx.subscribers()
            .activate_as_of(subscriber.id, consented_at)
            .await?;
        let when = row
            .consented_at
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|at| format!(" at {}", at.format("%Y-%m-%dT%H:%M:%SZ")))
            .unwrap_or_default();
        let detail = format!("{detail}; opted in{when} according to the imported file");
        record(tx, subscriber.id, ConsentKind::Confirm, &detail).await?;
        tx.subscribers()
            .count_today(self.newsletter.id, DailyCounter::Confirmations)
            .await?;
        Ok(())
    }

    /// No opt-in in the file: a pending subscription and a confirmation
    /// email, as for a signup.
    async fn request_confirmation(
        &self,
        tx: &mut WriteTx,
        subscriber: &Subscriber,
        row: &ImportRow,
        detail: &str,
    ) -> Result<(), StoreError> {
        let name = row.name.as_ref().map(|n| n.as_str());
        if subscriber.status == SubscriberStatus::Unsubscribed {
            tx.subscribers().reopen(subscriber.id, name).await?;
        }
        tx.subscribers()
            .request_subscription(subscriber.id, self.newsletter.id)
            .await?;
        record(tx, subscriber.id, ConsentKind::Signup, detail).await?;
        let token = ConfirmationToken::generate();
        tx.subscribers()
            .insert_confirmation_token(
                &token.hash(),
                subscriber.id,
                CONFIRMATION_TOKEN_LIFETIME_HOURS,
                &self.newsletter.id.to_string(),
            )
            .await?;
        let name = name.or(subscriber.name.as_deref());
        let email = ConfirmationData::new(&token, self.locale, &self.newsletter_names, name);
        queue_confirmation(tx.outbox(), subscriber.id, &subscriber.email, &email).await?;
        tx.subscribers()
            .count_today(self.newsletter.id, DailyCounter::Signups)
            .await?;
        Ok(())
    }
}

async fn record(
    tx: &mut WriteTx,
    subscriber_id: i64,
    kind: ConsentKind,
    detail: &str,
) -> Result<(), StoreError> {
    tx.subscribers()
        .record_consent(
            subscriber_id,
            kind,
            ConsentSource::Import,
            &ClientMeta::default(),
            Some(detail),
        )
        .await
}
