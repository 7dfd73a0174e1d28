//! What the admin's lists say when empty: each tells what to do and links
//! to it. And the feed form under Stories, which brings a site's stories
//! in at once, or in the background when the feed is slow.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{Duration, Utc};
use gazette::users::Role;
use reqwest::StatusCode;
use tokio::sync::Semaphore;

use crate::admin::{PASSWORD, csrf_of};
use crate::first_issue::{rss, serve_feed, serve_feed_behind};
use crate::helpers::{Backend, spawn_app};

async fn empty_lists_say_what_to_do_and_feeds_are_added_here(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("admin@example.org", Role::Admin).await;
    app.log_in("admin@example.org", PASSWORD).await;

    let issues = app.get("/admin/issues").await.text().await.unwrap();
    assert!(issues.contains("id=\"no-issues\""), "{issues}");
    assert!(issues.contains("href=\"/admin/stories#feeds\""), "{issues}");
    let stories = app.get("/admin/stories").await.text().await.unwrap();
    for shown in [
        "id=\"no-stories\"",
        "href=\"#feeds\"",
        "id=\"no-feeds\"",
        "action=\"/admin/feeds\"",
    ] {
        assert!(stories.contains(shown), "{shown} in {stories}");
    }
    let subscribers = app.get("/admin/subscribers").await.text().await.unwrap();
    assert!(
        subscribers.contains("id=\"no-subscribers\""),
        "{subscribers}"
    );
    assert!(subscribers.contains("href=\"/subscribe\""), "{subscribers}");
    assert!(subscribers.contains("href=\"/admin/subscribers/import\""));
    let searched = app
        .get("/admin/subscribers?q=nobody")
        .await
        .text()
        .await
        .unwrap();
    assert!(searched.contains("Nobody matches."), "{searched}");

    // A bad address is refused and stores nothing.
    let csrf = csrf_of(&stories);
    let refused = app
        .admin_post("/admin/feeds", &[("csrf", &csrf), ("url", "not a feed")])
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("url"));
    assert_eq!(app.count("SELECT COUNT(*) FROM feeds").await, 0);

    // The site's feed: added and polled at once.
    let url = serve_feed(rss(&[(
        "today",
        "Market day moves",
        Utc::now() - Duration::hours(1),
    )]))
    .await;
    let added = app
        .admin_post("/admin/feeds", &[("csrf", &csrf), ("url", &url)])
        .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let stories = app.get("/admin/stories").await.text().await.unwrap();
    assert!(stories.contains("Market day moves"), "{stories}");
    assert!(stories.contains(&url), "{stories}");
    assert!(!stories.contains("id=\"no-feeds\""));
    assert!(!stories.contains("id=\"no-stories\""));
    let again = app
        .admin_post("/admin/feeds", &[("csrf", &csrf), ("url", &url)])
        .await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST, "already there");
    assert_eq!(app.count("SELECT COUNT(*) FROM feeds").await, 1);

    // A slow feed: the editor gets the page back while it is still being
    // fetched, and its stories arrive once it answers.
    let gate = Arc::new(Semaphore::new(0));
    let slow = serve_feed_behind(
        rss(&[("late", "The slow story", Utc::now() - Duration::hours(1))]),
        Some(gate.clone()),
    )
    .await;
    let added = app
        .admin_post("/admin/feeds", &[("csrf", &csrf), ("url", &slow)])
        .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let stories = app.get("/admin/stories").await.text().await.unwrap();
    assert!(stories.contains("not polled yet"), "{stories}");
    assert!(!stories.contains("The slow story"), "{stories}");
    gate.add_permits(1);
    let mut arrived = false;
    for _ in 0..200 {
        let stories = app.get("/admin/stories").await.text().await.unwrap();
        // the stories, then the feed's poll time
        if stories.contains("The slow story") && !stories.contains("not polled yet") {
            arrived = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(arrived, "the slow feed's first poll finished");
    app.stop().await;
}

crate::both_databases!(empty_lists_say_what_to_do_and_feeds_are_added_here);
