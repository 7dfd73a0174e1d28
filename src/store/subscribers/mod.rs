//! Subscribers and their per-newsletter subscriptions, confirmation
//! tokens, the consent record, erased-address hashes and the daily
//! counters: the rows, and the statements, the same on both databases,
//! behind [`Subscribers`] (on the pool, or in a transaction). The rules of
//! signing up, confirming, unsubscribing and erasing are the
//! `subscriptions` module's; the store keeps the denormalised counts
//! (`newsletters.active_subscribers`) right as statuses change.

use std::collections::HashSet;
use std::fmt;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::handle::On;
use super::{Savepoint, Store, StoreError, WriteTx, now_ms};

mod bounces;
mod consent;
mod counters;
mod pending;
pub mod search;
mod subscriptions;
mod tokens;

pub use consent::{ClientMeta, ConsentEvent, ConsentKind, ConsentSource};
pub use counters::{DAY_MS, DailyCounter};
pub(crate) use counters::{count_today_by, count_today_by_direct, counter_shard, today};
pub use pending::DueReminder;
pub use search::{Page, SubscriberFilter, SubscriberLine};
pub use subscriptions::SubscriptionRow;
pub use tokens::TokenRow;

/// Where a subscriber stands: waiting for their confirmation, receiving
/// mail, gone, or unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriberStatus {
    Pending,
    Active,
    Unsubscribed,
    Bounced,
}

impl SubscriberStatus {
    pub const ALL: [SubscriberStatus; 4] = [
        SubscriberStatus::Pending,
        SubscriberStatus::Active,
        SubscriberStatus::Unsubscribed,
        SubscriberStatus::Bounced,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SubscriberStatus::Pending => "pending",
            SubscriberStatus::Active => "active",
            SubscriberStatus::Unsubscribed => "unsubscribed",
            SubscriberStatus::Bounced => "bounced",
        }
    }

    pub fn parse(raw: &str) -> Option<SubscriberStatus> {
        SubscriberStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == raw)
    }
}

impl fmt::Display for SubscriberStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where one subscription stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionStatus {
    Pending,
    Active,
    Unsubscribed,
}

impl SubscriptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Pending => "pending",
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::Unsubscribed => "unsubscribed",
        }
    }

    pub fn parse(raw: &str) -> Option<SubscriptionStatus> {
        [
            SubscriptionStatus::Pending,
            SubscriptionStatus::Active,
            SubscriptionStatus::Unsubscribed,
        ]
        .into_iter()
        .find(|status| status.as_str() == raw)
    }
}

impl fmt::Display for SubscriptionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn decode_error(column: &str, raw: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.into(),
        source: format!("unknown status {raw:?}").into(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    pub id: i64,
    pub email: String,
    pub email_key: String,
    pub name: Option<String>,
    pub locale: String,
    pub status: SubscriberStatus,
    pub paused: bool,
    pub last_confirmation_sent_at: Option<i64>,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
    /// When a complaint suppressed the address: no newsletter reaches it
    /// until a new signup of it is confirmed.
    pub suppressed_at: Option<i64>,
    /// When the one reminder to confirm went out.
    pub reminded_at: Option<i64>,
}

const SUBSCRIBER_COLUMNS: &str = "id, email, email_key, name, locale, status, paused, \
     last_confirmation_sent_at, created_at, confirmed_at, suppressed_at, reminded_at";

impl Subscriber {
    fn from_row(row: &AnyRow) -> Result<Subscriber, sqlx::Error> {
        Ok(Subscriber {
            id: row.try_get("id")?,
            email: row.try_get("email")?,
            email_key: row.try_get("email_key")?,
            name: row.try_get("name")?,
            locale: row.try_get("locale")?,
            status: {
                let raw: String = row.try_get("status")?;
                SubscriberStatus::parse(&raw).ok_or_else(|| decode_error("status", &raw))?
            },
            paused: row.try_get::<i64, _>("paused")? != 0,
            last_confirmation_sent_at: row.try_get("last_confirmation_sent_at")?,
            created_at: row.try_get("created_at")?,
            confirmed_at: row.try_get("confirmed_at")?,
            suppressed_at: row.try_get("suppressed_at")?,
            reminded_at: row.try_get("reminded_at")?,
        })
    }
}

impl Store {
    pub fn subscribers(&self) -> Subscribers<'_> {
        Subscribers {
            on: On::Pool(self.pool()),
        }
    }
}

impl WriteTx {
    pub fn subscribers(&mut self) -> Subscribers<'_> {
        Subscribers { on: On::Tx(self) }
    }
}

impl Savepoint<'_> {
    pub fn subscribers(&mut self) -> Subscribers<'_> {
        Subscribers {
            on: On::Tx(&mut self.0),
        }
    }
}

/// Subscribers, their subscriptions, tokens and consent record; the time
/// of every write is now.
pub struct Subscribers<'a> {
    on: On<'a>,
}

impl Subscribers<'_> {
    pub async fn by_id(&mut self, id: i64) -> Result<Option<Subscriber>, StoreError> {
        let mut conn = self.on.conn().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        Ok(row.as_ref().map(Subscriber::from_row).transpose()?)
    }

    /// Inserts the subscriber as pending, or returns the existing one
    /// untouched. A write comes first so the transaction takes SQLite's
    /// write lock at once (a read first could fail with
    /// SQLITE_BUSY_SNAPSHOT under concurrency) and PostgreSQL locks the
    /// row against a concurrent signup of the same address.
    pub async fn upsert_pending(
        &mut self,
        email: &str,
        email_key: &str,
        name: Option<&str>,
        locale: &str,
    ) -> Result<Subscriber, StoreError> {
        let mut conn = self.on.conn().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO subscribers (email, email_key, name, locale, status, paused, \
             hard_bounces, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'pending', 0, 0, $5, $5) \
             ON CONFLICT (email_key) DO UPDATE SET email_key = excluded.email_key \
             RETURNING {SUBSCRIBER_COLUMNS}"
        )))
        .bind(email)
        .bind(email_key)
        .bind(name)
        .bind(locale)
        .bind(now_ms())
        .fetch_one(&mut *conn)
        .await?;
        Ok(Subscriber::from_row(&row)?)
    }

    /// Back to pending (from unsubscribed or bounced), with the latest name.
    pub async fn reopen(&mut self, id: i64, name: Option<&str>) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        sqlx::query(
            "UPDATE subscribers SET status = 'pending', name = COALESCE($2, name), \
             hard_bounces = 0, updated_at = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(name)
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// A write that changes nothing visible, so a transaction that reads
    /// next already holds SQLite's write lock (a read first could fail
    /// with SQLITE_BUSY_SNAPSHOT when another writer commits in between).
    pub async fn touch(&mut self, id: i64) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        sqlx::query("UPDATE subscribers SET updated_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now_ms())
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Sets the subscriber's status; `active` also sets `confirmed_at` and
    /// forgets their hard bounces.
    pub async fn set_status(
        &mut self,
        id: i64,
        status: SubscriberStatus,
    ) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        let now = now_ms();
        let confirmed_at = (status == SubscriberStatus::Active).then_some(now);
        sqlx::query(
            "UPDATE subscribers SET status = $2, confirmed_at = COALESCE($3, confirmed_at), \
             hard_bounces = CASE WHEN $2 = 'active' THEN 0 ELSE hard_bounces END, \
             updated_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(status.as_str())
        .bind(confirmed_at)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    pub async fn set_paused(&mut self, id: i64, paused: bool) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        sqlx::query("UPDATE subscribers SET paused = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(i64::from(paused))
            .bind(now_ms())
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Makes the subscriber active (unless they are), confirmed at
    /// `confirmed_at` when they never were.
    pub async fn activate_as_of(&mut self, id: i64, confirmed_at: i64) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        sqlx::query(
            "UPDATE subscribers SET status = 'active', confirmed_at = COALESCE(confirmed_at, $2), \
             updated_at = $3 WHERE id = $1 AND status <> 'active'",
        )
        .bind(id)
        .bind(confirmed_at)
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Erases the subscriber (address key `email_key`): the row and
    /// everything hanging off it (cascades), every outbox row addressed to
    /// them, the active counts; keeps only `email_hash`.
    pub async fn erase(
        &mut self,
        id: i64,
        email_key: &str,
        email_hash: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        let active =
            subscriptions::subscriptions_of(&mut conn, id, Some(SubscriptionStatus::Active))
                .await?;
        for subscription in active {
            subscriptions::adjust_active_count(&mut conn, subscription.newsletter_id, -1).await?;
        }
        sqlx::query(
            "INSERT INTO erased_addresses (email_hash, erased_at) VALUES ($1, $2) \
             ON CONFLICT (email_hash) DO NOTHING",
        )
        .bind(email_hash)
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
        sqlx::query("DELETE FROM deliveries WHERE subscriber_id = $1 OR LOWER(recipient) = $2")
            .bind(id)
            .bind(email_key)
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM subscribers WHERE id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Which of `hashes` are hashes of erased addresses.
    pub async fn erased_hashes(
        &mut self,
        hashes: &[String],
    ) -> Result<HashSet<String>, StoreError> {
        let mut conn = self.on.conn().await?;
        let mut found = HashSet::new();
        for chunk in hashes.chunks(300) {
            let placeholders = (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "SELECT email_hash FROM erased_addresses WHERE email_hash IN ({placeholders})"
            );
            let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
            for hash in chunk {
                query = query.bind(hash.clone());
            }
            found.extend(query.fetch_all(&mut *conn).await?);
        }
        Ok(found)
    }
}
