//! Feeds polled for stories: their rows and statements, the same on both
//! databases. Which feeds are due and what a poll recorded are decided by
//! the `feeds` module; [`Feeds::claim_due`] makes sure that, with several
//! instances on one database, each due feed is polled by one of them.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    pub id: i64,
    pub url: String,
    pub title: Option<String>,
    /// HTTP validators of the last full answer, sent back on the next poll.
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub poll_interval_secs: i64,
    pub last_polled_at: Option<i64>,
    pub last_error: Option<String>,
    pub active: bool,
    pub created_at: i64,
}

const FEED_COLUMNS: &str = "id, url, title, etag, last_modified, poll_interval_secs, \
     last_polled_at, last_error, active, created_at";

fn feed(row: &AnyRow) -> Result<Feed, sqlx::Error> {
    Ok(Feed {
        id: row.try_get("id")?,
        url: row.try_get("url")?,
        title: row.try_get("title")?,
        etag: row.try_get("etag")?,
        last_modified: row.try_get("last_modified")?,
        poll_interval_secs: row.try_get("poll_interval_secs")?,
        last_polled_at: row.try_get("last_polled_at")?,
        last_error: row.try_get("last_error")?,
        active: row.try_get::<i64, _>("active")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    pub fn feeds(&self) -> Feeds<'_> {
        Feeds { store: self }
    }
}

pub struct Feeds<'a> {
    store: &'a Store,
}

impl Feeds<'_> {
    /// A new active feed; a URL already configured is a unique violation.
    pub async fn insert(
        &self,
        url: &str,
        poll_interval_secs: i64,
        now: i64,
    ) -> Result<Feed, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO feeds (url, poll_interval_secs, active, created_at) \
             VALUES ($1, $2, 1, $3) RETURNING {FEED_COLUMNS}"
        )))
        .bind(url)
        .bind(poll_interval_secs)
        .bind(now)
        .fetch_one(self.store.pool())
        .await?;
        Ok(feed(&row)?)
    }

    /// Every feed, oldest first.
    pub async fn all(&self) -> Result<Vec<Feed>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {FEED_COLUMNS} FROM feeds ORDER BY id"
        )))
        .fetch_all(self.store.pool())
        .await?;
        Ok(rows.iter().map(feed).collect::<Result<_, _>>()?)
    }

    pub async fn by_id(&self, id: i64) -> Result<Option<Feed>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {FEED_COLUMNS} FROM feeds WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.store.pool())
        .await?;
        Ok(row.as_ref().map(feed).transpose()?)
    }

    /// Claims up to `limit` active feeds whose interval has passed at `now`
    /// (never polled ones first) by moving their `last_polled_at` to `now`,
    /// each with a conditional update: when several instances share the
    /// database, only one of them gets a feed.
    pub async fn claim_due(&self, limit: i64, now: i64) -> Result<Vec<Feed>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {FEED_COLUMNS} FROM feeds WHERE active = 1 AND \
             (last_polled_at IS NULL OR last_polled_at + poll_interval_secs * 1000 <= $1) \
             ORDER BY COALESCE(last_polled_at, 0) LIMIT $2"
        )))
        .bind(now)
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in &rows {
            let feed = feed(row)?;
            let won = sqlx::query(
                "UPDATE feeds SET last_polled_at = $1 \
                 WHERE id = $2 AND COALESCE(last_polled_at, -1) = $3",
            )
            .bind(now)
            .bind(feed.id)
            .bind(feed.last_polled_at.unwrap_or(-1))
            .execute(self.store.pool())
            .await?
            .rows_affected()
                == 1;
            if won {
                claimed.push(feed);
            }
        }
        Ok(claimed)
    }

    /// A 304: the feed is unchanged, its validators stay, its error goes.
    pub async fn record_unchanged(&self, id: i64, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE feeds SET last_polled_at = $1, last_error = NULL WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    /// A feed fetched and stored: the error is cleared, the title kept when
    /// the feed has none, the HTTP validators replaced by the new ones.
    pub async fn record_success(
        &self,
        id: i64,
        title: Option<&str>,
        etag: Option<&str>,
        last_modified: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE feeds SET last_polled_at = $1, last_error = NULL, \
             title = COALESCE($2, title), etag = $3, last_modified = $4 WHERE id = $5",
        )
        .bind(now)
        .bind(title)
        .bind(etag)
        .bind(last_modified)
        .bind(id)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    pub async fn record_error(&self, id: i64, error: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE feeds SET last_polled_at = $1, last_error = $2 WHERE id = $3")
            .bind(now)
            .bind(error)
            .bind(id)
            .execute(self.store.pool())
            .await?;
        Ok(())
    }
}
