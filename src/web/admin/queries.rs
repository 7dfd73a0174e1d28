//! The admin's own reads: counts for the dashboard, the growth series,
//! lists with search and keyset pagination. Everything else the admin shows
//! comes from the domain modules' stores.

use sqlx::Row;

use crate::store::{Store, StoreError};
use crate::subscriptions::search::{Page, filtered_rows};
pub use crate::subscriptions::search::{SUBSCRIBER_STATUSES, SubscriberFilter};

pub const DAY_MS: i64 = 86_400_000;

/// One line of the subscribers list.
#[derive(Debug, Clone)]
pub struct SubscriberLine {
    pub id: i64,
    pub email: String,
    pub status: String,
    pub created_at: i64,
}

/// One delivery of a subscriber's history.
#[derive(Debug, Clone)]
pub struct DeliveryLine {
    pub kind: String,
    pub issue_id: Option<i64>,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

/// Subscribers by status, from the counters triggers keep (migration
/// 0004): a handful of rows, never the million subscribers.
pub async fn subscribers_by_status(store: &Store) -> Result<Vec<(String, i64)>, StoreError> {
    let rows = sqlx::query(
        "SELECT status, CAST(SUM(n) AS BIGINT) AS n FROM subscriber_counts GROUP BY status",
    )
    .fetch_all(store.pool())
    .await?;
    let mut counts = Vec::new();
    for row in &rows {
        counts.push((row.try_get("status")?, row.try_get("n")?));
    }
    Ok(counts)
}

/// New subscribers per day (day number since the epoch, count) since
/// `since_ms`, from the daily counter (`subscriber_growth`, migration
/// 0007): at most 90 days times 16 shards, never the subscribers.
pub async fn signups_per_day(store: &Store, since_ms: i64) -> Result<Vec<(i64, i64)>, StoreError> {
    let rows = sqlx::query(
        "SELECT day, CAST(SUM(n) AS BIGINT) AS n FROM subscriber_growth \
         WHERE day >= $1 GROUP BY day ORDER BY day",
    )
    .bind(since_ms.div_euclid(DAY_MS))
    .fetch_all(store.pool())
    .await?;
    let mut days = Vec::new();
    for row in &rows {
        days.push((row.try_get("day")?, row.try_get("n")?));
    }
    Ok(days)
}

/// A page of the subscribers list, and where the next page starts when a
/// short fragment's search stopped at the end of its window.
pub type SubscriberPage = Page<SubscriberLine>;

/// A page of subscribers after id `after` (keyset: the page costs the same
/// at the end of a million rows as at the start), filtered by an address
/// fragment, a status and a newsletter.
pub async fn subscribers_page(
    store: &Store,
    filter: &SubscriberFilter,
    after: i64,
    limit: i64,
) -> Result<SubscriberPage, StoreError> {
    filtered_rows(
        store,
        "s.id, s.email, s.status, s.created_at",
        filter,
        after,
        limit,
    )
    .await?
    .read(|row| {
        Ok(SubscriberLine {
            id: row.try_get("id")?,
            email: row.try_get("email")?,
            status: row.try_get("status")?,
            created_at: row.try_get("created_at")?,
        })
    })
}

/// A subscriber's last deliveries, newest first.
pub async fn deliveries_of(
    store: &Store,
    subscriber_id: i64,
    limit: i64,
) -> Result<Vec<DeliveryLine>, StoreError> {
    let rows = sqlx::query(
        "SELECT kind, issue_id, status, attempts, last_error, created_at, sent_at \
         FROM deliveries WHERE subscriber_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(subscriber_id)
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    let mut lines = Vec::new();
    for row in &rows {
        lines.push(DeliveryLine {
            kind: row.try_get("kind")?,
            issue_id: row.try_get("issue_id")?,
            status: row.try_get("status")?,
            attempts: row.try_get("attempts")?,
            last_error: row.try_get("last_error")?,
            created_at: row.try_get("created_at")?,
            sent_at: row.try_get("sent_at")?,
        });
    }
    Ok(lines)
}
