//! Confirming a signup with the token from the email. Idempotent: a token
//! already used answers "confirmed" again and changes nothing.

use super::store::{self as sql, ClientMeta, ConsentKind, ConsentSource, DailyCounter, Subscriber};
use super::token::hash_token;
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
    let mut conn = store.pool().acquire().await?;
    let Some(row) = sql::token_by_hash(&mut conn, &hash_token(token)).await? else {
        return Ok(ConfirmOutcome::Unknown);
    };
    let Some(subscriber) = sql::subscriber_by_id(&mut conn, row.subscriber_id).await? else {
        return Ok(ConfirmOutcome::Unknown);
    };
    if row.used_at.is_none() && row.expires_at <= now_ms() {
        return expired(&mut conn, &subscriber).await;
    }
    Ok(ConfirmOutcome::Confirmed {
        locale: subscriber.locale,
    })
}

/// Activates the subscriber and their pending subscriptions, records the
/// consent and marks the token used, in one transaction.
pub async fn confirm_subscription(
    store: &Store,
    token: &str,
    client: &ClientMeta,
) -> Result<ConfirmOutcome, StoreError> {
    let token_hash = hash_token(token);
    let mut tx = store.begin_write().await?;
    let Some(subscriber_id) = sql::use_confirmation_token(&mut tx, &token_hash).await? else {
        // Not usable now: say why, changing nothing.
        let Some(row) = sql::token_by_hash(&mut tx, &token_hash).await? else {
            return Ok(ConfirmOutcome::Unknown);
        };
        let Some(subscriber) = sql::subscriber_by_id(&mut tx, row.subscriber_id).await? else {
            return Ok(ConfirmOutcome::Unknown);
        };
        if row.used_at.is_some() {
            return Ok(ConfirmOutcome::Confirmed {
                locale: subscriber.locale,
            });
        }
        return expired(&mut tx, &subscriber).await;
    };
    let Some(subscriber) = sql::subscriber_by_id(&mut tx, subscriber_id).await? else {
        return Ok(ConfirmOutcome::Unknown);
    };
    // An address unsubscribed after this email was sent stays unsubscribed:
    // its subscriptions are no longer pending, so nothing below activates.
    if subscriber.status == "pending" {
        sql::set_subscriber_status(&mut tx, subscriber.id, "active").await?;
    }
    let pending = sql::subscriptions_of(&mut tx, subscriber.id, Some("pending")).await?;
    let mut activated = Vec::new();
    for subscription in &pending {
        if sql::set_subscription_status(
            &mut tx,
            subscriber.id,
            subscription.newsletter_id,
            "pending",
            "active",
        )
        .await?
        {
            activated.push(subscription);
        }
    }
    let slugs: Vec<&str> = activated.iter().map(|s| s.slug.as_str()).collect();
    sql::record_consent(
        &mut tx,
        subscriber.id,
        ConsentKind::Confirm,
        ConsentSource::Link,
        client,
        Some(&slugs.join(",")),
    )
    .await?;
    for subscription in activated {
        sql::count_today(
            &mut tx,
            subscription.newsletter_id,
            DailyCounter::Confirmations,
        )
        .await?;
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

async fn expired(
    conn: &mut sqlx::AnyConnection,
    subscriber: &Subscriber,
) -> Result<ConfirmOutcome, StoreError> {
    let pending = sql::subscriptions_of(conn, subscriber.id, Some("pending")).await?;
    Ok(ConfirmOutcome::Expired {
        locale: subscriber.locale.clone(),
        newsletters: pending.into_iter().map(|s| s.slug).collect(),
    })
}
