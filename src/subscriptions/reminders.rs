//! Signups left unconfirmed. `subscriptions.reminder_after` after its last
//! confirmation email, a pending signup gets one reminder, with a fresh
//! link confirming the same newsletters (the first link stays valid while
//! it lasts); never a second. After `subscriptions.pending_expiry` it is
//! removed with its tokens, subscriptions and consent records: an address
//! that never confirmed is not kept. The day's signup counters keep it.

use std::time::Duration;

use email_templates::Locale;
use tokio_util::sync::CancellationToken;

use super::signup::{ConfirmationData, queue_confirmation};
use super::token::{CONFIRMATION_TOKEN_LIFETIME_HOURS, ConfirmationToken, id_list};
use crate::config::SubscriptionSettings;
use crate::delivery::outbox::MailWaker;
use crate::store::subscribers::SubscriptionStatus;
use crate::store::{Store, StoreError, now_ms};

/// How often the pass runs.
const EVERY: Duration = Duration::from_secs(300);
/// Signups handled in one transaction.
const BATCH: i64 = 200;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    pub reminded: u64,
    pub removed: u64,
}

/// Runs [`pass`] every few minutes until `shutdown`, the first a few
/// minutes after the start: nothing is urgent by a few minutes, and a
/// restart (or a test seeding old signups) does not race a pass.
pub async fn run(
    store: Store,
    settings: SubscriptionSettings,
    waker: MailWaker,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
        match pass(&store, &settings, &waker, now_ms()).await {
            Ok(PassReport {
                reminded: 0,
                removed: 0,
            }) => {}
            Ok(report) => tracing::info!(
                reminded = report.reminded,
                removed = report.removed,
                "unconfirmed signups reminded and removed"
            ),
            Err(error) => tracing::warn!(%error, "cannot remind or remove unconfirmed signups"),
        }
    }
}

/// Reminds the signups due at `now` and removes the expired ones.
pub async fn pass(
    store: &Store,
    settings: &SubscriptionSettings,
    waker: &MailWaker,
    now: i64,
) -> Result<PassReport, StoreError> {
    let reminder_after = millis(settings.reminder_after);
    let expiry = millis(settings.pending_expiry);
    let mut report = PassReport::default();
    loop {
        let reminded = remind_batch(
            store,
            now.saturating_sub(reminder_after),
            now.saturating_sub(expiry),
            now,
        )
        .await?;
        report.reminded += reminded as u64;
        if reminded > 0 {
            waker.wake();
        }
        if reminded < BATCH as usize {
            break;
        }
    }
    loop {
        let mut tx = store.begin_write().await?;
        let removed = tx
            .subscribers()
            .remove_expired_pending(now.saturating_sub(expiry), BATCH)
            .await?;
        tx.commit().await?;
        report.removed += removed;
        if removed < BATCH as u64 {
            break;
        }
    }
    Ok(report)
}

/// Claims a batch of due signups and queues each its reminder, in one
/// transaction: a crash leaves them unclaimed, never claimed and unsent.
async fn remind_batch(
    store: &Store,
    sent_before: i64,
    created_after: i64,
    now: i64,
) -> Result<usize, StoreError> {
    let mut tx = store.begin_write().await?;
    let due = tx
        .subscribers()
        .claim_reminders(sent_before, created_after, now, BATCH)
        .await?;
    for signup in &due {
        let pending = tx
            .subscribers()
            .subscriptions_of(signup.subscriber_id, Some(SubscriptionStatus::Pending))
            .await?;
        if pending.is_empty() {
            continue;
        }
        let token = ConfirmationToken::generate();
        tx.subscribers()
            .insert_confirmation_token(
                &token.hash(),
                signup.subscriber_id,
                CONFIRMATION_TOKEN_LIFETIME_HOURS,
                &id_list(pending.iter().map(|p| p.newsletter_id)),
            )
            .await?;
        let names: Vec<String> = pending.iter().map(|p| p.name.clone()).collect();
        let locale: Locale = signup.locale.parse().unwrap_or_default();
        let data =
            ConfirmationData::new(&token, locale, &names, signup.name.as_deref()).as_reminder();
        queue_confirmation(tx.outbox(), signup.subscriber_id, &signup.email, &data).await?;
    }
    tx.commit().await?;
    Ok(due.len())
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
