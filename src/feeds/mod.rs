//! Feeds: RSS 2.0, Atom and JSON Feed URLs that Gazette polls for stories,
//! for sites whose CMS does not push them through the API. [`poller`] polls
//! each due feed on its interval ([`fetch`] with a conditional GET, [`parse`]
//! with feed-rs), and every item becomes a story named
//! `feed:<feed_id>:<guid>`, so an item seen twice is one story. A feed that
//! fails (unreachable, not a feed, too big, too slow) gets the reason in
//! `last_error` and is tried again at its next interval; nothing else stops.

pub mod cli;
pub mod fetch;
pub mod guard;
pub mod parse;
pub mod poller;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::store::{Store, StoreError, now_ms};
use crate::stories::store::FeedItemOutcome;
pub use fetch::{FeedFetcher, FetchError, Fetched};

pub const DEFAULT_POLL_INTERVAL_SECS: i64 = 900;
pub const MIN_POLL_INTERVAL_SECS: i64 = 60;
pub const MAX_POLL_INTERVAL_SECS: i64 = 86_400;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    pub id: i64,
    pub url: String,
    pub title: Option<String>,
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

impl Feed {
    fn from_row(row: &AnyRow) -> Result<Feed, sqlx::Error> {
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
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("url: {0}")]
    InvalidUrl(String),
    #[error(
        "poll_interval_secs: must be between {MIN_POLL_INTERVAL_SECS} and {MAX_POLL_INTERVAL_SECS}"
    )]
    InvalidInterval,
    #[error("the feed {0} is already configured")]
    Duplicate(String),
    #[error("no feed with id {0}")]
    NotFound(i64),
    #[error(transparent)]
    Fetcher(#[from] FetchError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one poll of one feed did (the API answers it as is).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PollReport {
    pub not_modified: bool,
    pub created: usize,
    pub updated: usize,
    /// Items whose guid was known and whose content had not changed.
    pub unchanged: usize,
    /// Items whose URL another story already had.
    pub duplicates: usize,
    /// Why the poll failed; also stored in the feed's `last_error`.
    pub error: Option<String>,
}

/// Configures a feed to poll; a URL the poller may not fetch (an inside
/// address, see [`guard`]) is refused at once.
pub async fn add_feed(
    store: &Store,
    fetcher: &FeedFetcher,
    url: &str,
    poll_interval_secs: Option<i64>,
) -> Result<Feed, FeedError> {
    let url = crate::stories::input::web_url(url).map_err(FeedError::InvalidUrl)?;
    let parsed = url::Url::parse(&url).map_err(|e| FeedError::InvalidUrl(e.to_string()))?;
    fetcher
        .check_reachable(&parsed)
        .await
        .map_err(|refused| FeedError::InvalidUrl(refused.to_string()))?;
    let interval = poll_interval_secs.unwrap_or(DEFAULT_POLL_INTERVAL_SECS);
    if !(MIN_POLL_INTERVAL_SECS..=MAX_POLL_INTERVAL_SECS).contains(&interval) {
        return Err(FeedError::InvalidInterval);
    }
    match store.insert_feed(&url, interval).await {
        Ok(feed) => Ok(feed),
        Err(error) if error.is_unique_violation() => Err(FeedError::Duplicate(url)),
        Err(error) => Err(error.into()),
    }
}

/// Polls one feed at once, due or not (the API's "poll now" and the tests).
pub async fn poll_feed_now(
    store: &Store,
    fetcher: &FeedFetcher,
    feed_id: i64,
) -> Result<PollReport, FeedError> {
    let feed = store
        .feed_by_id(feed_id)
        .await?
        .ok_or(FeedError::NotFound(feed_id))?;
    Ok(poll_feed(store, fetcher, &feed).await?)
}

/// Fetches, parses and stores one feed, recording the outcome on the feed.
/// Only a database failure is an `Err`: the feed's own failures are in the
/// report and in `last_error`.
pub async fn poll_feed(
    store: &Store,
    fetcher: &FeedFetcher,
    feed: &Feed,
) -> Result<PollReport, StoreError> {
    let mut report = PollReport::default();
    let fetched = fetcher
        .fetch(
            &feed.url,
            feed.etag.as_deref(),
            feed.last_modified.as_deref(),
        )
        .await;
    let (bytes, etag, last_modified) = match fetched {
        Ok(Fetched::NotModified) => {
            report.not_modified = true;
            store.record_feed_unchanged(feed.id).await?;
            return Ok(report);
        }
        Ok(Fetched::Body {
            bytes,
            etag,
            last_modified,
        }) => (bytes, etag, last_modified),
        Err(error) => {
            return record_failure(store, feed, report, error.to_string()).await;
        }
    };
    let parsed = match parse::parse_feed(feed.id, &bytes) {
        Ok(parsed) => parsed,
        Err(error) => return record_failure(store, feed, report, error.to_string()).await,
    };
    for item in &parsed.items {
        match store.ingest_feed_story(&item.story).await? {
            FeedItemOutcome::Created => report.created += 1,
            FeedItemOutcome::Updated => report.updated += 1,
            FeedItemOutcome::Unchanged => report.unchanged += 1,
            FeedItemOutcome::DuplicateUrl => report.duplicates += 1,
        }
    }
    // The validators are stored only once the items are in: a failure above
    // makes the next poll fetch the whole feed again.
    store
        .record_feed_success(
            feed.id,
            parsed.title.as_deref(),
            etag.as_deref(),
            last_modified.as_deref(),
        )
        .await?;
    tracing::debug!(
        feed_id = feed.id,
        created = report.created,
        updated = report.updated,
        "feed polled"
    );
    Ok(report)
}

async fn record_failure(
    store: &Store,
    feed: &Feed,
    mut report: PollReport,
    error: String,
) -> Result<PollReport, StoreError> {
    tracing::warn!(feed_id = feed.id, error = %error, "feed poll failed");
    store.record_feed_error(feed.id, &error).await?;
    report.error = Some(error);
    Ok(report)
}

impl Store {
    pub async fn insert_feed(
        &self,
        url: &str,
        poll_interval_secs: i64,
    ) -> Result<Feed, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO feeds (url, poll_interval_secs, active, created_at) \
             VALUES ($1, $2, 1, $3) RETURNING {FEED_COLUMNS}"
        )))
        .bind(url)
        .bind(poll_interval_secs)
        .bind(now_ms())
        .fetch_one(self.pool())
        .await?;
        Ok(Feed::from_row(&row)?)
    }

    pub async fn feeds(&self) -> Result<Vec<Feed>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {FEED_COLUMNS} FROM feeds ORDER BY id"
        )))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(Feed::from_row).collect::<Result<_, _>>()?)
    }

    pub async fn feed_by_id(&self, id: i64) -> Result<Option<Feed>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {FEED_COLUMNS} FROM feeds WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(Feed::from_row).transpose()?)
    }

    /// Claims up to `limit` feeds whose interval has passed by moving their
    /// `last_polled_at` to now, each with a conditional update: when several
    /// instances share the database, only one of them polls a feed.
    pub async fn claim_due_feeds(&self, limit: i64) -> Result<Vec<Feed>, StoreError> {
        let now = now_ms();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {FEED_COLUMNS} FROM feeds WHERE active = 1 AND \
             (last_polled_at IS NULL OR last_polled_at + poll_interval_secs * 1000 <= $1) \
             ORDER BY COALESCE(last_polled_at, 0) LIMIT $2"
        )))
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in &rows {
            let feed = Feed::from_row(row)?;
            let won = sqlx::query(
                "UPDATE feeds SET last_polled_at = $1 \
                 WHERE id = $2 AND COALESCE(last_polled_at, -1) = $3",
            )
            .bind(now)
            .bind(feed.id)
            .bind(feed.last_polled_at.unwrap_or(-1))
            .execute(self.pool())
            .await?
            .rows_affected()
                == 1;
            if won {
                claimed.push(feed);
            }
        }
        Ok(claimed)
    }

    /// A 304: the feed is unchanged, its validators stay.
    pub async fn record_feed_unchanged(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE feeds SET last_polled_at = $1, last_error = NULL WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// A feed fetched and stored: the error is cleared, the title kept when
    /// the feed has none, the HTTP validators replaced by the new ones.
    pub async fn record_feed_success(
        &self,
        id: i64,
        title: Option<&str>,
        etag: Option<&str>,
        last_modified: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE feeds SET last_polled_at = $1, last_error = NULL, \
             title = COALESCE($2, title), etag = $3, last_modified = $4 WHERE id = $5",
        )
        .bind(now_ms())
        .bind(title)
        .bind(etag)
        .bind(last_modified)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn record_feed_error(&self, id: i64, error: &str) -> Result<(), StoreError> {
        let error: String = error.chars().take(1000).collect();
        sqlx::query("UPDATE feeds SET last_polled_at = $1, last_error = $2 WHERE id = $3")
            .bind(now_ms())
            .bind(error)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
