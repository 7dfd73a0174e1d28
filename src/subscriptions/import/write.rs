//! Writing valid import rows, one batch per transaction. Each row's writes
//! (subscriber, subscription, consent record, token and confirmation mail,
//! counters) go into the batch's transaction together, so a crash leaves
//! whole rows or none, and every write is idempotent for a re-run.
//!
//! The pending path writes what a signup writes (see `signup::sign_up`),
//! but inside the batch's transaction instead of one of its own.

use email_templates::Locale;
use sqlx::AnyConnection;

use super::{ImportRow, RejectReason, Rejection, jobs};
use crate::newsletters::Newsletter;
use crate::store::{Store, StoreError, now_ms};
use crate::subscriptions::signup::{ConfirmationData, queue_confirmation};
use crate::subscriptions::store::{
    self as sql, ClientMeta, ConsentKind, ConsentSource, DailyCounter, Subscriber,
};
use crate::subscriptions::token::{CONFIRMATION_TOKEN_LIFETIME_HOURS, ConfirmationToken};

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
        conn: &mut AnyConnection,
        row: &ImportRow,
        job_id: i64,
    ) -> Result<RowOutcome, sqlx::Error> {
        let name = row.name.as_ref().map(|n| n.as_str());
        // A write first, as in a signup: it takes SQLite's write lock and
        // locks the row on PostgreSQL against a signup of the same address.
        let subscriber = sql::upsert_pending_subscriber(
            conn,
            row.email.as_str(),
            &row.email.key(),
            name,
            &self.newsletter.locale,
        )
        .await?;
        if subscriber.status == "bounced" {
            return Ok(RowOutcome::Rejected(RejectReason::Bounced));
        }
        let current: Option<String> = sqlx::query_scalar(
            "SELECT status FROM subscriptions WHERE subscriber_id = $1 AND newsletter_id = $2",
        )
        .bind(subscriber.id)
        .bind(self.newsletter.id)
        .fetch_optional(&mut *conn)
        .await?;
        let detail = format!("{}; import #{job_id}", self.newsletter.slug);
        Ok(match (current.as_deref(), row.opted_in) {
            (Some("unsubscribed"), _) => RowOutcome::Rejected(RejectReason::Unsubscribed),
            (Some("active"), _) | (Some(_), false) => RowOutcome::Unchanged,
            (Some(_), true) => {
                self.activate(conn, &subscriber, row, &detail).await?;
                RowOutcome::AddedActive
            }
            (None, true) => {
                sql::request_subscription(conn, subscriber.id, self.newsletter.id).await?;
                record(conn, subscriber.id, ConsentKind::Signup, &detail).await?;
                sql::count_today(conn, self.newsletter.id, DailyCounter::Signups).await?;
                self.activate(conn, &subscriber, row, &detail).await?;
                RowOutcome::AddedActive
            }
            (None, false) => {
                self.request_confirmation(conn, &subscriber, row, &detail)
                    .await?;
                RowOutcome::AddedPending
            }
        })
    }

    /// The file says they opted in: the subscription is active at once.
    async fn activate(
        &self,
        conn: &mut AnyConnection,
        subscriber: &Subscriber,
        row: &ImportRow,
        detail: &str,
    ) -> Result<(), sqlx::Error> {
        sql::set_subscription_status(conn, subscriber.id, self.newsletter.id, "pending", "active")
            .await?;
        let consented_at = row.consented_at.unwrap_or_else(now_ms);
        sqlx::query(
            "UPDATE subscribers SET status = 'active', confirmed_at = COALESCE(confirmed_at, $2), \
             updated_at = $3 WHERE id = $1 AND status <> 'active'",
        )
        .bind(subscriber.id)
        .bind(consented_at)
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
        let when = row
            .consented_at
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|at| format!(" at {}", at.format("%Y-%m-%dT%H:%M:%SZ")))
            .unwrap_or_default();
        let detail = format!("{detail}; opted in{when} according to the imported file");
        record(conn, subscriber.id, ConsentKind::Confirm, &detail).await?;
        sql::count_today(conn, self.newsletter.id, DailyCounter::Confirmations).await?;
        Ok(())
    }

    /// No opt-in in the file: a pending subscription and a confirmation
    /// email, as for a signup.
    async fn request_confirmation(
        &self,
        conn: &mut AnyConnection,
        subscriber: &Subscriber,
        row: &ImportRow,
        detail: &str,
    ) -> Result<(), sqlx::Error> {
        let name = row.name.as_ref().map(|n| n.as_str());
        if subscriber.status == "unsubscribed" {
            sql::reopen_subscriber(conn, subscriber.id, name).await?;
        }
        sql::request_subscription(conn, subscriber.id, self.newsletter.id).await?;
        record(conn, subscriber.id, ConsentKind::Signup, detail).await?;
        let token = ConfirmationToken::generate();
        sql::insert_confirmation_token(
            conn,
            &token.hash(),
            subscriber.id,
            CONFIRMATION_TOKEN_LIFETIME_HOURS,
            &self.newsletter.id.to_string(),
        )
        .await?;
        let name = name.or(subscriber.name.as_deref());
        let email = ConfirmationData::new(&token, self.locale, &self.newsletter_names, name);
        queue_confirmation(conn, subscriber.id, &subscriber.email, &email).await?;
        sql::count_today(conn, self.newsletter.id, DailyCounter::Signups).await?;
        Ok(())
    }
}

async fn record(
    conn: &mut AnyConnection,
    subscriber_id: i64,
    kind: ConsentKind,
    detail: &str,
) -> Result<(), sqlx::Error> {
    sql::record_consent(
        conn,
        subscriber_id,
        kind,
        ConsentSource::Import,
        &ClientMeta::default(),
        Some(detail),
    )
    .await
}
