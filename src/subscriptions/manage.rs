//! What a subscriber does with the signed link in every email: unsubscribe
//! (from one newsletter or all), choose newsletters, pause, export their
//! data, erase themselves. The link is the capability: it reaches only the
//! mailbox it was sent to, so no other login is needed.
//!
//! Choosing a newsletter on the preferences page activates it at once: the
//! link proves control of the mailbox, as a confirmation link would.

use serde::Serialize;

use crate::store::subscribers::{
    ClientMeta, ConsentKind, ConsentSource, DailyCounter, Subscriber, SubscriberStatus,
    SubscriptionRow, SubscriptionStatus,
};
use crate::store::{Store, StoreError, WriteTx};

/// Which newsletters to leave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnsubscribeScope {
    All,
    /// One newsletter, by slug.
    Newsletter(String),
}

/// A subscriber and their subscriptions, for the preferences page.
#[derive(Debug, Clone)]
pub struct SubscriberView {
    pub subscriber: Subscriber,
    pub subscriptions: Vec<SubscriptionRow>,
}

pub async fn subscriber_view(store: &Store, id: i64) -> Result<Option<SubscriberView>, StoreError> {
    let mut subscribers = store.subscribers();
    let Some(subscriber) = subscribers.by_id(id).await? else {
        return Ok(None);
    };
    let subscriptions = subscribers.subscriptions_of(id, None).await?;
    Ok(Some(SubscriberView {
        subscriber,
        subscriptions,
    }))
}

/// Leaves one newsletter or all. When nothing active or pending remains the
/// subscriber is marked unsubscribed. False when the subscriber is gone.
pub async fn unsubscribe(
    store: &Store,
    subscriber_id: i64,
    scope: &UnsubscribeScope,
    source: ConsentSource,
    client: &ClientMeta,
) -> Result<bool, StoreError> {
    let mut tx = store.begin_write().await?;
    let Some((subscriber, left)) =
        unsubscribe_in(&mut tx, subscriber_id, scope, source, client).await?
    else {
        return Ok(false);
    };
    tx.commit().await?;
    tracing::info!(
        email = %crate::telemetry::mask_email(&subscriber.email),
        newsletters = %left.join(","),
        "unsubscribed"
    );
    Ok(true)
}

/// [`unsubscribe`] inside the caller's transaction (a complaint also
/// suppresses the address in the same one): the subscriber as they were
/// and the slugs they left, or `None` when they are gone.
pub async fn unsubscribe_in(
    tx: &mut WriteTx,
    subscriber_id: i64,
    scope: &UnsubscribeScope,
    source: ConsentSource,
    client: &ClientMeta,
) -> Result<Option<(Subscriber, Vec<String>)>, StoreError> {
    let mut subscribers = tx.subscribers();
    // A write first: takes SQLite's write lock before any read.
    subscribers.touch(subscriber_id).await?;
    let Some(subscriber) = subscribers.by_id(subscriber_id).await? else {
        return Ok(None);
    };
    let subscriptions = subscribers.subscriptions_of(subscriber_id, None).await?;
    let mut left = Vec::new();
    for subscription in &subscriptions {
        let in_scope = match scope {
            UnsubscribeScope::All => true,
            UnsubscribeScope::Newsletter(slug) => &subscription.slug == slug,
        };
        if !in_scope || subscription.status == SubscriptionStatus::Unsubscribed {
            continue;
        }
        let from = subscription.status;
        if subscribers
            .set_subscription_status(
                subscriber_id,
                subscription.newsletter_id,
                from,
                SubscriptionStatus::Unsubscribed,
            )
            .await?
        {
            if from == SubscriptionStatus::Active {
                subscribers
                    .count_today(subscription.newsletter_id, DailyCounter::Unsubscribes)
                    .await?;
            }
            subscribers
                .cancel_pending_digests(subscriber_id, Some(subscription.newsletter_id))
                .await?;
            left.push(subscription.slug.clone());
        }
    }
    let remaining = subscribers
        .subscriptions_of(subscriber_id, None)
        .await?
        .into_iter()
        .filter(|s| s.status != SubscriptionStatus::Unsubscribed)
        .count();
    if remaining == 0 && subscriber.status != SubscriberStatus::Unsubscribed {
        subscribers
            .set_status(subscriber_id, SubscriberStatus::Unsubscribed)
            .await?;
    }
    let detail = match scope {
        UnsubscribeScope::All => "all".to_string(),
        UnsubscribeScope::Newsletter(slug) => slug.clone(),
    };
    subscribers
        .record_consent(
            subscriber_id,
            ConsentKind::Unsubscribe,
            source,
            client,
            Some(&detail),
        )
        .await?;
    Ok(Some((subscriber, left)))
}

/// Sets the newsletters the subscriber receives to exactly `chosen` (slugs
/// of existing newsletters; others are ignored). False when the subscriber
/// is gone.
pub async fn choose_newsletters(
    store: &Store,
    subscriber_id: i64,
    chosen: &[String],
    client: &ClientMeta,
) -> Result<bool, StoreError> {
    use SubscriptionStatus::{Active, Pending, Unsubscribed};
    let newsletters = store.newsletters().all().await?;
    let mut tx = store.begin_write().await?;
    let mut subscribers = tx.subscribers();
    subscribers.touch(subscriber_id).await?;
    let Some(subscriber) = subscribers.by_id(subscriber_id).await? else {
        return Ok(false);
    };
    let current = subscribers.subscriptions_of(subscriber_id, None).await?;
    // A complaint suppressed the address: only a new signup, confirmed,
    // adds newsletters again; here one can only leave.
    let may_add = subscriber.suppressed_at.is_none();
    let mut changes = Vec::new();
    for newsletter in &newsletters {
        let active = current
            .iter()
            .any(|s| s.newsletter_id == newsletter.id && s.status == Active);
        let wanted = chosen.iter().any(|slug| slug == &newsletter.slug) && (may_add || active);
        let status = current
            .iter()
            .find(|s| s.newsletter_id == newsletter.id)
            .map(|s| s.status);
        match (wanted, status) {
            (true, Some(Active)) | (false, None | Some(Unsubscribed)) => {}
            (true, None) => {
                subscribers
                    .request_subscription(subscriber_id, newsletter.id)
                    .await?;
                subscribers
                    .set_subscription_status(subscriber_id, newsletter.id, Pending, Active)
                    .await?;
                changes.push(format!("+{}", newsletter.slug));
            }
            (true, Some(from)) => {
                subscribers
                    .set_subscription_status(subscriber_id, newsletter.id, from, Active)
                    .await?;
                changes.push(format!("+{}", newsletter.slug));
            }
            (false, Some(from)) => {
                subscribers
                    .set_subscription_status(subscriber_id, newsletter.id, from, Unsubscribed)
                    .await?;
                if from == Active {
                    subscribers
                        .count_today(newsletter.id, DailyCounter::Unsubscribes)
                        .await?;
                }
                subscribers
                    .cancel_pending_digests(subscriber_id, Some(newsletter.id))
                    .await?;
                changes.push(format!("-{}", newsletter.slug));
            }
        }
    }
    if changes.is_empty() {
        return Ok(true);
    }
    let any_active = changes.iter().any(|c| c.starts_with('+'))
        || current
            .iter()
            .any(|s| s.status == Active && chosen.iter().any(|slug| slug == &s.slug));
    let status = if any_active {
        SubscriberStatus::Active
    } else {
        SubscriberStatus::Unsubscribed
    };
    if subscriber.status != status {
        subscribers.set_status(subscriber_id, status).await?;
    }
    subscribers
        .record_consent(
            subscriber_id,
            ConsentKind::Preferences,
            ConsentSource::Preferences,
            client,
            Some(&changes.join(",")),
        )
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// Pauses or resumes every email without leaving any newsletter.
pub async fn set_paused(
    store: &Store,
    subscriber_id: i64,
    paused: bool,
    client: &ClientMeta,
) -> Result<bool, StoreError> {
    let mut tx = store.begin_write().await?;
    let mut subscribers = tx.subscribers();
    subscribers.set_paused(subscriber_id, paused).await?;
    if subscribers.by_id(subscriber_id).await?.is_none() {
        return Ok(false);
    }
    let kind = if paused {
        ConsentKind::Pause
    } else {
        ConsentKind::Resume
    };
    subscribers
        .record_consent(
            subscriber_id,
            kind,
            ConsentSource::Preferences,
            client,
            None,
        )
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// Everything Gazette holds about one subscriber, as they download it.
#[derive(Debug, Serialize)]
pub struct DataExport {
    pub subscriber: ExportedSubscriber,
    pub subscriptions: Vec<ExportedSubscription>,
    pub consent_events: Vec<ExportedConsent>,
}

#[derive(Debug, Serialize)]
pub struct ExportedSubscriber {
    pub email: String,
    pub name: Option<String>,
    pub locale: String,
    pub status: String,
    pub paused: bool,
    pub created_at: String,
    pub confirmed_at: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ExportedSubscription {
    pub newsletter: String,
    pub newsletter_name: String,
    pub status: String,
    pub created_at: String,
}

#[derive(Debug, Serialize)]
pub struct ExportedConsent {
    pub kind: String,
    pub source: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
    pub at: String,
}

pub async fn export_data(
    store: &Store,
    subscriber_id: i64,
) -> Result<Option<DataExport>, StoreError> {
    let mut subscribers = store.subscribers();
    let Some(s) = subscribers.by_id(subscriber_id).await? else {
        return Ok(None);
    };
    let subscriptions = subscribers.subscriptions_of(subscriber_id, None).await?;
    let events = subscribers.consent_events_of(subscriber_id).await?;
    Ok(Some(DataExport {
        subscriber: ExportedSubscriber {
            email: s.email,
            name: s.name,
            locale: s.locale,
            status: s.status.to_string(),
            paused: s.paused,
            created_at: rfc3339(s.created_at),
            confirmed_at: s.confirmed_at.map(rfc3339),
        },
        subscriptions: subscriptions
            .into_iter()
            .map(|sub| ExportedSubscription {
                newsletter: sub.slug,
                newsletter_name: sub.name,
                status: sub.status.to_string(),
                created_at: rfc3339(sub.created_at),
            })
            .collect(),
        consent_events: events
            .into_iter()
            .map(|e| ExportedConsent {
                kind: e.kind,
                source: e.source,
                ip: e.ip,
                user_agent: e.user_agent,
                detail: e.detail,
                at: rfc3339(e.at),
            })
            .collect(),
    }))
}

/// Erases the subscriber's personal data for good: their row and
/// everything of theirs, every outbox row addressed to them; only the keyed
/// hash of the address stays, so an import cannot add it back. False when
/// there was nobody to erase.
pub async fn erase(
    store: &Store,
    addresses: &super::ErasedAddresses,
    subscriber_id: i64,
) -> Result<bool, StoreError> {
    let mut tx = store.begin_write().await?;
    let mut subscribers = tx.subscribers();
    subscribers.touch(subscriber_id).await?;
    let Some(subscriber) = subscribers.by_id(subscriber_id).await? else {
        return Ok(false);
    };
    let hash = addresses.hash(&subscriber.email_key);
    subscribers
        .erase(subscriber_id, &subscriber.email_key, &hash)
        .await?;
    tx.commit().await?;
    tracing::info!(subscriber_id, "subscriber erased at their request");
    Ok(true)
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}
