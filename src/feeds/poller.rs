//! The background task that polls due feeds, started with the server and
//! stopped by the shutdown token. It wakes every [`TICK`], claims the feeds
//! whose interval has passed and polls them one after another: feeds are
//! few and slow to change, so one at a time keeps the load negligible.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{FeedFetcher, poll_feed};
use crate::store::Store;

const TICK: Duration = Duration::from_secs(30);
/// The first poll waits a little: a restart storm should not hit every feed
/// at once, and the server should be serving first.
const START_DELAY: Duration = Duration::from_secs(60);
const FEEDS_PER_TICK: i64 = 20;

pub async fn run(store: Store, fetcher: FeedFetcher, shutdown: CancellationToken) {
    let mut wait = START_DELAY;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = TICK;
        let due = match store
            .feeds()
            .claim_due(FEEDS_PER_TICK, crate::store::now_ms())
            .await
        {
            Ok(due) => due,
            Err(error) => {
                tracing::warn!(error = %error, "cannot read the feeds to poll");
                continue;
            }
        };
        for feed in due {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                polled = poll_feed(&store, &fetcher, &feed) => {
                    if let Err(error) = polled {
                        tracing::warn!(feed_id = feed.id, error = %error, "feed poll not recorded");
                    }
                }
            }
        }
    }
}
