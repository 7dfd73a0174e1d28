//! Feeds.

use super::fresh_store;
use crate::helpers::Backend;

async fn feeds_are_added_found_and_listed(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let feeds = store.feeds();
    let rss = feeds
        .insert("https://a.example.org/rss", 900, 1_000)
        .await
        .unwrap();
    assert_eq!(
        (
            rss.url.as_str(),
            rss.poll_interval_secs,
            rss.created_at,
            rss.active
        ),
        ("https://a.example.org/rss", 900, 1_000, true)
    );
    assert_eq!(
        (rss.title, rss.last_polled_at, rss.last_error),
        (None, None, None)
    );
    let twice = feeds.insert("https://a.example.org/rss", 60, 2_000).await;
    assert!(twice.unwrap_err().is_unique_violation());
    let atom = feeds
        .insert("https://b.example.org/atom", 60, 3_000)
        .await
        .unwrap();
    assert_eq!(feeds.by_id(atom.id).await.unwrap().unwrap(), atom);
    assert!(feeds.by_id(atom.id + 10).await.unwrap().is_none());
    let ids: Vec<i64> = feeds.all().await.unwrap().iter().map(|f| f.id).collect();
    assert_eq!(ids, [rss.id, atom.id]);
}

async fn due_feeds_are_claimed_once(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let feeds = store.feeds();
    let hourly = feeds
        .insert("https://a.example.org/feed", 3_600, 0)
        .await
        .unwrap();
    let minutely = feeds
        .insert("https://b.example.org/feed", 60, 0)
        .await
        .unwrap();
    // never polled: both due, and a second claim at the same time gets none
    let first = feeds.claim_due(10, 10_000).await.unwrap();
    assert_eq!(first.len(), 2);
    assert!(feeds.claim_due(10, 10_000).await.unwrap().is_empty());
    assert_eq!(
        feeds
            .by_id(hourly.id)
            .await
            .unwrap()
            .unwrap()
            .last_polled_at,
        Some(10_000)
    );
    // a minute later only the minutely one is due again
    let again = feeds.claim_due(10, 70_000).await.unwrap();
    assert_eq!(
        again.iter().map(|f| f.id).collect::<Vec<_>>(),
        [minutely.id]
    );
    // the limit holds
    assert_eq!(feeds.claim_due(1, 10_000_000).await.unwrap().len(), 1);
}

async fn poll_results_are_recorded(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let feeds = store.feeds();
    let feed = feeds
        .insert("https://a.example.org/feed", 900, 0)
        .await
        .unwrap();
    feeds
        .record_error(feed.id, "the feed answered HTTP 500", 5)
        .await
        .unwrap();
    let failed = feeds.by_id(feed.id).await.unwrap().unwrap();
    assert_eq!(
        failed.last_error.as_deref(),
        Some("the feed answered HTTP 500")
    );
    assert_eq!(failed.last_polled_at, Some(5));
    feeds
        .record_success(
            feed.id,
            Some("The Bugle"),
            Some("\"v1\""),
            Some("Mon, 04 Mar 2024"),
            6,
        )
        .await
        .unwrap();
    let fetched = feeds.by_id(feed.id).await.unwrap().unwrap();
    assert_eq!(fetched.title.as_deref(), Some("The Bugle"));
    assert_eq!(fetched.etag.as_deref(), Some("\"v1\""));
    assert_eq!(fetched.last_modified.as_deref(), Some("Mon, 04 Mar 2024"));
    assert_eq!(
        (fetched.last_error, fetched.last_polled_at),
        (None, Some(6))
    );
    // no title this time: the old one stays; the validators are replaced
    feeds
        .record_success(feed.id, None, None, None, 7)
        .await
        .unwrap();
    let untitled = feeds.by_id(feed.id).await.unwrap().unwrap();
    assert_eq!(untitled.title.as_deref(), Some("The Bugle"));
    assert_eq!((untitled.etag, untitled.last_modified), (None, None));
    feeds.record_error(feed.id, "down", 8).await.unwrap();
    feeds.record_unchanged(feed.id, 9).await.unwrap();
    let unchanged = feeds.by_id(feed.id).await.unwrap().unwrap();
    assert_eq!(
        (unchanged.last_error, unchanged.last_polled_at),
        (None, Some(9))
    );
}

crate::both_databases!(
    feeds_are_added_found_and_listed,
    due_feeds_are_claimed_once,
    poll_results_are_recorded,
);
