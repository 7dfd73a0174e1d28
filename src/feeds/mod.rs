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

pub use crate::store::feeds::Feed;
use crate::store::{Store, StoreError, now_ms};
use crate::stories::{FeedItemOutcome, ingest_feed_story};
pub use fetch::{FeedFetcher, FetchError, Fetched};

pub const DEFAULT_POLL_INTERVAL_SECS: i64 = 900;
pub const MIN_POLL_INTERVAL_SECS: i64 = 60;
pub const MAX_POLL_INTERVAL_SECS: i64 = 86_400;

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
    match store.feeds().insert(&url, interval, now_ms()).await {
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
        .feeds()
        .by_id(feed_id)
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
            store.feeds().record_unchanged(feed.id, now_ms()).await?;
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
        match ingest_feed_story(store, &item.story).await? {
            FeedItemOutcome::Created => report.created += 1,
            FeedItemOutcome::Updated => report.updated += 1,
            FeedItemOutcome::Unchanged => report.unchanged += 1,
            FeedItemOutcome::DuplicateUrl => report.duplicates += 1,
        }
    }
    // The validators are stored only once the items are in: a failure above
    // makes the next poll fetch the whole feed again.
    store
        .feeds()
        .record_success(
            feed.id,
            parsed.title.as_deref(),
            etag.as_deref(),
            last_modified.as_deref(),
            now_ms(),
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
    // the error is shown in lists: a thousand characters say enough
    let error: String = error.chars().take(1000).collect();
    store
        .feeds()
        .record_error(feed.id, &error, now_ms())
        .await?;
    report.error = Some(error);
    Ok(report)
}
