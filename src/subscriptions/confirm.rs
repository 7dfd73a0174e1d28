//! Confirming a signup with the token from the email. Idempotent: a token
//! already used answers "confirmed" again and changes nothing.

use super::store::{self as sql, ClientMeta, ConsentKind, ConsentSource, DailyCounter, Subscriber};
use super::token::{hash_token, parse_id_list};
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
    {
        let mut conn = store.pool().acquire().await?;
        let Some(row) = sql::token_by_hash(&mut conn, &token_hash).await? else {
            return Ok(ConfirmOutcome::Unknown);
        };
        if row.used_at.is_some() || row.expires_at <= now_ms() {
            return unusable(&mut conn, &row).await;
        }
    }
    let mut tx = store.begin_write().await?;
    let Some((subscriber_id, named)) = sql::use_confirmation_token(&mut tx, &token_hash).await?
    else {
        // Used or expired since the look-up: say why, changing nothing.
        let Some(row) = sql::token_by_hash(&mut tx, &token_hash).await? else {
            return Ok(ConfirmOutcome::Unknown);
        };
        return unusable(&mut tx, &row).await;
    };
    let Some(subscriber) = sql::subscriber_by_id(&mut tx, subscriber_id).await? else {
        return Ok(ConfirmOutcome::Unknown);
    };
    // An address unsubscribed after this email was sent stays unsubscribed:
    // its subscriptions are no longer pending, so nothing below activates.
    if subscriber.status == "pending" {
        sql::set_subscriber_status(&mut tx, subscriber.id, "active").await?;
    }
    // Only the newsletters the email named: one added to the pending
    // signup since (by anyone who knows the address) waits for its own.
    let named = parse_id_list(named.as_deref());
    let pending = sql::subscriptions_of(&mut tx, subscriber.id, Some("pending")).await?;
    let mut activated = Vec::new();
    for subscription in pending.iter().filter(|s| {
        named
            .as_ref()
            .is_none_or(|ids| ids.contains(&s.newsletter_id))
    }) {
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

/// The answer for a token that cannot confirm: "confirmed" again when it
/// was used, "expired" (with what to ask again) when it ran out.
async fn unusable(
    conn: &mut sqlx::AnyConnection,
    row: &sql::TokenRow,
) -> Result<ConfirmOutcome, StoreError> {
    let Some(subscriber) = sql::subscriber_by_id(&mut *conn, row.subscriber_id).await? else {
        return Ok(ConfirmOutcome::Unknown);
    };
    if row.used_at.is_some() {
        return Ok(ConfirmOutcome::Confirmed {
            locale: subscriber.locale,
        });
    }
    expired(conn, &subscriber).await
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
