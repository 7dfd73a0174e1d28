//! A subscriber's subscriptions, one per newsletter, and the count of
//! active subscribers each newsletter keeps (`newsletters.active_subscribers`),
//! right as statuses change.

use sqlx::{AnyConnection, Row};

use super::{Subscribers, SubscriptionStatus, decode_error};
use crate::store::{StoreError, now_ms};

/// One subscription of a subscriber, with its newsletter's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRow {
    pub newsletter_id: i64,
    pub slug: String,
    pub name: String,
    pub locale: String,
    pub status: SubscriptionStatus,
    pub created_at: i64,
}

impl Subscribers<'_> {
    /// Asks for a subscription: a new row is pending, an unsubscribed one
    /// goes back to pending, a pending or active one stays. True when it
    /// became pending now.
    pub async fn request_subscription(
        &mut self,
        subscriber_id: i64,
        newsletter_id: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.on.conn().await?;
        let done = sqlx::query(
            "INSERT INTO subscriptions (subscriber_id, newsletter_id, status, created_at, \
             updated_at) VALUES ($1, $2, 'pending', $3, $3) \
             ON CONFLICT (subscriber_id, newsletter_id) DO UPDATE \
             SET status = 'pending', updated_at = excluded.updated_at \
             WHERE subscriptions.status = 'unsubscribed'",
        )
        .bind(subscriber_id)
        .bind(newsletter_id)
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Where the subscriber's subscription to the newsletter stands, if
    /// they have one.
    pub async fn subscription_status(
        &mut self,
        subscriber_id: i64,
        newsletter_id: i64,
    ) -> Result<Option<SubscriptionStatus>, StoreError> {
        let mut conn = self.on.conn().await?;
        let raw: Option<String> = sqlx::query_scalar(
            "SELECT status FROM subscriptions WHERE subscriber_id = $1 AND newsletter_id = $2",
        )
        .bind(subscriber_id)
        .bind(newsletter_id)
        .fetch_optional(&mut *conn)
        .await?;
        raw.map(|raw| {
            SubscriptionStatus::parse(&raw)
                .ok_or_else(|| StoreError::Sql(decode_error("status", &raw)))
        })
        .transpose()
    }

    /// The subscriber's subscriptions in one status (all when `None`), by
    /// newsletter name.
    pub async fn subscriptions_of(
        &mut self,
        subscriber_id: i64,
        status: Option<SubscriptionStatus>,
    ) -> Result<Vec<SubscriptionRow>, StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(subscriptions_of(&mut conn, subscriber_id, status).await?)
    }

    /// Marks the subscription's welcome email as queued; true only the
    /// first time, so a reader is welcomed once whatever happens later.
    pub async fn claim_welcome(
        &mut self,
        subscriber_id: i64,
        newsletter_id: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.on.conn().await?;
        let claimed = sqlx::query(
            "UPDATE subscriptions SET welcomed_at = $3 \
             WHERE subscriber_id = $1 AND newsletter_id = $2 AND welcomed_at IS NULL",
        )
        .bind(subscriber_id)
        .bind(newsletter_id)
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        Ok(claimed > 0)
    }

    /// Moves one subscription from `from` to `to`, keeping the
    /// newsletter's count of active subscribers right; true when it moved.
    pub async fn set_subscription_status(
        &mut self,
        subscriber_id: i64,
        newsletter_id: i64,
        from: SubscriptionStatus,
        to: SubscriptionStatus,
    ) -> Result<bool, StoreError> {
        let mut conn = self.on.conn().await?;
        let changed = sqlx::query(
            "UPDATE subscriptions SET status = $4, updated_at = $5 \
             WHERE subscriber_id = $1 AND newsletter_id = $2 AND status = $3",
        )
        .bind(subscriber_id)
        .bind(newsletter_id)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(now_ms())
        .execute(&mut *conn)
        .await?
        .rows_affected()
            > 0;
        let delta = match (from, to) {
            (SubscriptionStatus::Active, SubscriptionStatus::Active) => 0,
            (_, SubscriptionStatus::Active) => 1,
            (SubscriptionStatus::Active, _) => -1,
            _ => 0,
        };
        if changed && delta != 0 {
            adjust_active_count(&mut conn, newsletter_id, delta).await?;
        }
        Ok(changed)
    }

    /// Cancels digests not yet sent to a subscriber (all newsletters, or
    /// one), so an unsubscribe takes effect even in the middle of a send.
    pub async fn cancel_pending_digests(
        &mut self,
        subscriber_id: i64,
        newsletter_id: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        sqlx::query(
            "UPDATE deliveries SET status = 'cancelled' \
             WHERE subscriber_id = $1 AND status = 'pending' AND kind = 'digest' \
             AND ($2 IS NULL OR issue_id IN (SELECT id FROM issues WHERE newsletter_id = $2))",
        )
        .bind(subscriber_id)
        .bind(newsletter_id)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

pub(super) async fn subscriptions_of(
    conn: &mut AnyConnection,
    subscriber_id: i64,
    status: Option<SubscriptionStatus>,
) -> Result<Vec<SubscriptionRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT s.newsletter_id, n.slug, n.name, n.locale, s.status, s.created_at \
         FROM subscriptions s JOIN newsletters n ON n.id = s.newsletter_id \
         WHERE s.subscriber_id = $1 AND ($2 IS NULL OR s.status = $2) ORDER BY n.name",
    )
    .bind(subscriber_id)
    .bind(status.map(SubscriptionStatus::as_str))
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(SubscriptionRow {
                newsletter_id: row.try_get("newsletter_id")?,
                slug: row.try_get("slug")?,
                name: row.try_get("name")?,
                locale: row.try_get("locale")?,
                status: {
                    let raw: String = row.try_get("status")?;
                    SubscriptionStatus::parse(&raw).ok_or_else(|| decode_error("status", &raw))?
                },
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
}

pub(super) async fn adjust_active_count(
    conn: &mut AnyConnection,
    newsletter_id: i64,
    delta: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE newsletters SET active_subscribers = active_subscribers + $2 WHERE id = $1",
    )
    .bind(newsletter_id)
    .bind(delta)
    .execute(conn)
    .await?;
    Ok(())
}
