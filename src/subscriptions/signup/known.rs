//! A signup for an address that is already known (pending, confirmed,
//! unsubscribed or bounced), inside a group's transaction: the answer is
//! the same as for a new address, but what is written depends on its past.

use super::writer::Prepared;
use super::{CONFIRMATION_RESEND_INTERVAL_MS, SignupError, SignupOutcome, queue_confirmation};
use crate::store::subscribers::{ConsentKind, DailyCounter, SubscriberStatus, SubscriptionStatus};
use crate::store::{WriteTx, now_ms};
use crate::subscriptions::token::{CONFIRMATION_TOKEN_LIFETIME_HOURS, id_list};

/// Runs the signup in a savepoint of the group's transaction, undone when
/// it turns out there is nothing to ask (already subscribed), so a group
/// keeps exactly what signing up one at a time would have kept.
pub(super) async fn sign_up(
    tx: &mut WriteTx,
    signup: &Prepared<'_>,
) -> Result<SignupOutcome, SignupError> {
    let mut savepoint = tx.savepoint().await?;
    let name = signup.name();
    let subscriber = savepoint
        .subscribers()
        .upsert_pending(
            signup.request.email.as_str(),
            &signup.email_key,
            name,
            &signup.subscriber_locale,
        )
        .await?;
    match subscriber.status {
        SubscriberStatus::Active => {}
        SubscriberStatus::Pending if name.is_none() => {}
        _ => savepoint.subscribers().reopen(subscriber.id, name).await?,
    }
    let mut newly_pending = Vec::new();
    for newsletter in &signup.newsletters {
        if savepoint
            .subscribers()
            .request_subscription(subscriber.id, newsletter.id)
            .await?
        {
            newly_pending.push(newsletter.id);
        }
    }
    let pending = savepoint
        .subscribers()
        .subscriptions_of(subscriber.id, Some(SubscriptionStatus::Pending))
        .await?;
    if pending.is_empty() {
        savepoint.rollback().await?;
        return Ok(SignupOutcome::AlreadySubscribed);
    }
    savepoint
        .subscribers()
        .record_consent(
            subscriber.id,
            ConsentKind::Signup,
            signup.request.source,
            &signup.request.client,
            Some(&signup.requested_slugs),
        )
        .await?;
    // Only a still-pending address waits for the interval: one that had
    // unsubscribed, or asks for another newsletter, gets its email now (the
    // per-address rate limit still bounds how often).
    let sent_recently = subscriber.status == SubscriberStatus::Pending
        && subscriber
            .last_confirmation_sent_at
            .is_some_and(|at| now_ms() - at < CONFIRMATION_RESEND_INTERVAL_MS);
    let outcome = if sent_recently {
        SignupOutcome::ConfirmationRecentlySent
    } else {
        // The token confirms what the email names: every pending newsletter.
        savepoint
            .subscribers()
            .insert_confirmation_token(
                &signup.token_hash,
                subscriber.id,
                CONFIRMATION_TOKEN_LIFETIME_HOURS,
                &id_list(pending.iter().map(|p| p.newsletter_id)),
            )
            .await?;
        // The email tells about every pending newsletter, and greets by
        // the name on file when none was given this time.
        let names: Vec<String> = pending.iter().map(|p| p.name.clone()).collect();
        let greeting_name = name.or(subscriber.name.as_deref());
        let email = signup.confirmation(&names, greeting_name);
        queue_confirmation(savepoint.outbox(), subscriber.id, &subscriber.email, &email).await?;
        SignupOutcome::ConfirmationQueued
    };
    // Last, so the shared counter row is locked for the shortest time.
    for newsletter_id in newly_pending {
        savepoint
            .subscribers()
            .count_today(newsletter_id, DailyCounter::Signups)
            .await?;
    }
    savepoint.commit().await?;
    Ok(outcome)
}
