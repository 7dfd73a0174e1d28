//! Counters kept as subscribers come and go, so the dashboard reads a
//! handful of rows, never the million subscribers: the daily signups,
//! confirmations and unsubscribes per newsletter (`daily_stats`, written
//! here), the subscribers per status (`subscriber_counts`, migration 0004)
//! and the new subscribers per day (`subscriber_growth`, migration 0007),
//! both kept by triggers. Each is sharded: concurrent writers mostly add
//! to different rows, and readers sum the shards.

use sqlx::{AnyConnection, Row};

use super::{SubscriberStatus, Subscribers, decode_error};
use crate::store::{StoreError, now_ms};

/// Milliseconds in a day: `daily_stats.day` is the UTC midnight of the day,
/// in Unix milliseconds like every other time in the database.
pub const DAY_MS: i64 = 86_400_000;

/// The daily counters of `daily_stats`.
#[derive(Debug, Clone, Copy)]
pub enum DailyCounter {
    Signups,
    Confirmations,
    Unsubscribes,
}

impl DailyCounter {
    /// Adds `$3` to the counter of day `$1` and newsletter `$2`, in
    /// shard `$4` ([`counter_shard`]).
    pub(crate) fn upsert(self) -> &'static str {
        match self {
            DailyCounter::Signups => {
                "INSERT INTO daily_stats (day, newsletter_id, signups, shard) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (day, newsletter_id, shard) DO UPDATE \
                 SET signups = daily_stats.signups + excluded.signups"
            }
            DailyCounter::Confirmations => {
                "INSERT INTO daily_stats (day, newsletter_id, confirmations, shard) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (day, newsletter_id, shard) DO UPDATE \
                 SET confirmations = daily_stats.confirmations + excluded.confirmations"
            }
            DailyCounter::Unsubscribes => {
                "INSERT INTO daily_stats (day, newsletter_id, unsubscribes, shard) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (day, newsletter_id, shard) DO UPDATE \
                 SET unsubscribes = daily_stats.unsubscribes + excluded.unsubscribes"
            }
        }
    }
}

/// Adds `amount` to today's counter of a newsletter (a group of signups
/// counts once).
pub(crate) async fn count_today_by(
    conn: &mut AnyConnection,
    newsletter_id: i64,
    counter: DailyCounter,
    amount: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(counter.upsert())
        .bind(today())
        .bind(newsletter_id)
        .bind(amount)
        .bind(counter_shard())
        .execute(conn)
        .await?;
    Ok(())
}

/// [`count_today_by`] on SQLite's direct writer.
pub(crate) fn count_today_by_direct(
    conn: &rusqlite::Connection,
    newsletter_id: i64,
    counter: DailyCounter,
    amount: i64,
) -> Result<(), rusqlite::Error> {
    conn.prepare_cached(counter.upsert())?.execute((
        today(),
        newsletter_id,
        amount,
        counter_shard(),
    ))?;
    Ok(())
}

/// Which of a day's 16 rows a write adds to (PostgreSQL migration 0011):
/// concurrent transactions mostly pick different rows, so they do not
/// wait for each other's commit. Readers sum the shards.
pub(crate) fn counter_shard() -> i64 {
    rand::random_range(0..16)
}

/// The start of today (UTC), the key of the daily counters.
pub(crate) fn today() -> i64 {
    let now = now_ms();
    now - now.rem_euclid(DAY_MS)
}

impl Subscribers<'_> {
    /// Adds one to today's counter of a newsletter.
    pub async fn count_today(
        &mut self,
        newsletter_id: i64,
        counter: DailyCounter,
    ) -> Result<(), StoreError> {
        let mut conn = self.on.conn().await?;
        Ok(count_today_by(&mut conn, newsletter_id, counter, 1).await?)
    }

    /// How many subscribers are in each status (statuses nobody is in may
    /// be missing).
    pub async fn count_by_status(&mut self) -> Result<Vec<(SubscriberStatus, i64)>, StoreError> {
        let mut conn = self.on.conn().await?;
        let rows = sqlx::query(
            "SELECT status, CAST(SUM(n) AS BIGINT) AS n FROM subscriber_counts GROUP BY status",
        )
        .fetch_all(&mut *conn)
        .await?;
        let counts = rows
            .iter()
            .map(|row| {
                let raw: String = row.try_get("status")?;
                let status =
                    SubscriberStatus::parse(&raw).ok_or_else(|| decode_error("status", &raw))?;
                Ok((status, row.try_get("n")?))
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(counts)
    }

    /// New subscribers per day (day number since the epoch, count) since
    /// `since_ms`, oldest first; days without any are missing.
    pub async fn new_per_day(&mut self, since_ms: i64) -> Result<Vec<(i64, i64)>, StoreError> {
        let mut conn = self.on.conn().await?;
        let rows = sqlx::query(
            "SELECT day, CAST(SUM(n) AS BIGINT) AS n FROM subscriber_growth \
             WHERE day >= $1 GROUP BY day ORDER BY day",
        )
        .bind(since_ms.div_euclid(DAY_MS))
        .fetch_all(&mut *conn)
        .await?;
        let days = rows
            .iter()
            .map(|row| Ok((row.try_get("day")?, row.try_get("n")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(days)
    }
}
