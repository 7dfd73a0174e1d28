//! Confirming a signup with the token from the email. Idempotent: a token
//! already used answers "confirmed" again and changes nothing. A
//! newsletter's welcome email is queued in the same transaction.

use super::token::{hash_token, parse_id_list};
use crate::store::subscribers::{
    ClientMeta, ConsentKind, ConsentSource, DailyCounter, Subscriber, SubscriberStatus,
    Subscribers, SubscriptionStatus, TokenRow,
};
use crate::store::{Store, StoreError, now_ms};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmOutcome {
    /// Confirmed now, or earlier with the same token.
    Confirmed { locale: String },
    /// The token was real but ran out before it was used; the slugs of the
    /// newsletters it was for, to ask again.
    Expired {
        locale: String,
        newsletters: Vec<String>,
    },
    /// Unknown token (mistyped, or its subscriber was erased).
    Unknown,
}

/// What the confirmation page shows before the POST: whether the token can
/// still confirm, and in which language. Reads only.
pub async fn inspect_token(store: &Store, token: &str) -> Result<ConfirmOutcome, StoreError> {
    let mut subscribers = store.subscribers();
    let Some(row) = subscribers.token_by_hash(&hash_token(token)).await? else {
        return Ok(ConfirmOutcome::Unknown);
    };
    let Some(subscriber) = subscribers.by_id(row.subscriber_id).await? else {
        return Ok(ConfirmOutcome::Unknown);
    };
    if row.used_at.is_none() && row.expires_at <= now_ms() {
        return expired(subscribers, &subscriber).await;
    }
    Ok(ConfirmOutcome::Confirmed {
        locale: subscriber.locale,
    })
}

/// Activates the subscriber and the pending subscriptions the token names,
/// records the consent and marks the token used, in one transaction. The
/// token is looked up first on a read connection: an unknown, used or
/// expired one (anything a visitor can post) never takes the writer.
pub async fn confirm_subscription(
    store: &Store,
    token: &str,
    client: &ClientMeta,
) -> Result<ConfirmOutcome, StoreError> {
    let token_hash = hash_token(token);
    let Some(row) = store.subscribers().token_by_hash(&token_hash).await? else {
        return Ok(ConfirmOutcome::Unknown);
    };
    if row.used_at.is_some() || row.expires_at <= now_ms() {
        return unusable(store.subscribers(), &row).await;
    }
    let mut tx = store.begin_write().await?;
    let Some((subscriber_id, named)) = tx.subscribers().use_confirmation_token(&token_hash).await?
    else {
        // Used or expired since the look-up: say why, changing nothing.
        let Some(row) = tx.subscribers().token_by_hash(&token_hash).await? else {
            return Ok(ConfirmOutcome::Unknown);
        };
        return unusable(tx.subscribers(), &row).await;
    };
    let Some(subscriber) = tx.subscribers().by_id(subscriber_id).await? else {
        return Ok(ConfirmOutcome::Unknown);
    };
    // An address unsubscribed after this email was sent stays unsubscribed:
    // its subscriptions are no longer pending, so nothing below activates.
    if subscriber.status == SubscriberStatus::Pending {
        tx.subscribers()
            .set_status(subscriber.id, SubscriberStatus::Active)
            .await?;
        // A new signup, confirmed: the one thing that lifts a complaint's
        // suppression.
        if subscriber.suppressed_at.is_some() {
            tx.subscribers().set_suppressed(subscriber.id, None).await?;
        }
    }
    // Only the newsletters the email named: one added to the pending
    // signup since (by anyone who knows the address) waits for its own.
    let named = parse_id_list(named.as_deref());
    let pending = tx
        .subscribers()
        .subscriptions_of(subscriber.id, Some(SubscriptionStatus::Pending))
        .await?;
    let mut activated = Vec::new();
    for subscription in pending.iter().filter(|s| {
        named
            .as_ref()
            .is_none_or(|ids| ids.contains(&s.newsletter_id))
    }) {
        if tx
            .subscribers()
            .set_subscription_status(
                subscriber.id,
                subscription.newsletter_id,
                SubscriptionStatus::Pending,
                SubscriptionStatus::Active,
            )
            .await?
        {
            activated.push(subscription);
        }
    }
    let slugs: Vec<&str> = activated.iter().map(|s| s.slug.as_str()).collect();
    tx.subscribers()
        .record_consent(
            subscriber.id,
            ConsentKind::Confirm,
            ConsentSource::Link,
            client,
            Some(&slugs.join(",")),
        )
        .await?;
    let now = now_ms();
    for subscription in activated {
        tx.subscribers()
            .count_today(subscription.newsletter_id, DailyCounter::Confirmations)
            .await?;
        super::welcome::queue(&mut tx, &subscriber, subscription.newsletter_id, now).await?;
    }
    tx.commit().await?;
    tracing::info!(
        email = %crate::telemetry::mask_email(&subscriber.email),
        "subscription confirmed"
    );
    Ok(ConfirmOutcome::Confirmed {
        locale: subscriber.locale,
    })
}

/// The answer for a token that cannot confirm: "confirmed" again when it
/// was used, "expired" (with what to ask again) when it ran out.
async fn unusable(
    mut subscribers: Subscribers<'_>,
    row: &TokenRow,
) -> Result<ConfirmOutcome, StoreError> {
    let Some(subscriber) = subscribers.by_id(row.subscriber_id).await? else {
        return Ok(ConfirmOutcome::Unknown);
    };
    if row.used_at.is_some() {
        return Ok(ConfirmOutcome::Confirmed {
            locale: subscriber.locale,
        });
    }
    expired(subscribers, &subscriber).await
}

async fn expired(
    mut subscribers: Subscribers<'_>,
    subscriber: &Subscriber,
) -> Result<ConfirmOutcome, StoreError> {
    let pending = subscribers
        .subscriptions_of(subscriber.id, Some(SubscriptionStatus::Pending))
        .await?;
    Ok(ConfirmOutcome::Expired {
        locale: subscriber.locale.clone(),
        newsletters: pending.into_iter().map(|s| s.slug).collect(),
    })
}
