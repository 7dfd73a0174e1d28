//! A newsletter's first issue, as a new user meets it: a schedule, a feed
//! that already holds the day's stories (served over HTTP on loopback), and
//! the first slot. The first issue covers the schedule's previous period,
//! so stories the site published before the newsletter existed go out
//! instead of the slot being skipped; without a schedule it covers
//! `scheduling.first_issue_window`. Editors see the window on the draft.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{DateTime, Duration, Timelike, Utc};
use gazette::delivery::outbox::MailWaker;
use gazette::scheduling::runner::SlotOutcome;
use gazette::scheduling::{ManualClock, Scheduler};
use gazette::users::Role;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;

use crate::admin::PASSWORD;
use crate::helpers::{Backend, TestApp, spawn_app};
use crate::http_server::serve_http;

/// Serves one RSS document at any path, for as long as the test runs.
pub(crate) async fn serve_feed(rss: String) -> String {
    serve_feed_behind(rss, None).await
}

/// [`serve_feed`] answering only once `gate` has a permit for each request:
/// a slow feed, as slow as the test wants.
pub(crate) async fn serve_feed_behind(rss: String, gate: Option<Arc<Semaphore>>) -> String {
    let base = serve_http(move |_request, mut socket| {
        let (rss, gate) = (rss.clone(), gate.clone());
        async move {
            if let Some(gate) = gate {
                let _ = gate.acquire().await.map(|permit| permit.forget());
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                rss.len()
            );
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(rss.as_bytes()).await;
        }
    })
    .await;
    format!("{base}/feed.xml")
}

/// An RSS feed of `(slug, title, published)` items.
pub(crate) fn rss(items: &[(&str, &str, DateTime<Utc>)]) -> String {
    let items: String = items
        .iter()
        .map(|(slug, title, at)| {
            format!(
                "<item><title>{title}</title><link>https://news.example.org/{slug}</link>\
                 <guid>{slug}</guid><pubDate>{}</pubDate></item>",
                at.to_rfc2822()
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>The Site</title>\
         <link>https://news.example.org/</link><description>News</description>{items}\
         </channel></rss>"
    )
}

/// Adds the feed through the API and polls it once, as the poller would.
async fn add_and_poll(app: &TestApp, url: &str) {
    let editor = app.editor().await;
    let added = editor.post("/api/feeds", &json!({"url": url})).await;
    assert_eq!(added.status, 201, "{}", added.body);
    let fetcher = gazette::feeds::FeedFetcher::new(&app.settings.feeds).unwrap();
    let report =
        gazette::feeds::poll_feed_now(&app.store, &fetcher, added.body["id"].as_i64().unwrap())
            .await
            .unwrap();
    assert_eq!(report.error, None, "{report:?}");
}

async fn story_titles_of(app: &TestApp, issue_id: i64) -> Vec<String> {
    let mut titles: Vec<String> = sqlx::query_scalar(
        "SELECT s.title FROM issue_stories i JOIN stories s ON s.id = i.story_id \
         WHERE i.issue_id = $1",
    )
    .bind(issue_id)
    .fetch_all(app.store.pool())
    .await
    .unwrap();
    titles.sort();
    titles
}

async fn the_first_slot_sends_the_stories_of_the_previous_period(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = Utc::now();
    // A daily schedule whose slot comes two minutes from now, in UTC: its
    // previous slot was a day earlier.
    let slot = (now + Duration::minutes(2))
        .with_second(0)
        .unwrap()
        .with_nanosecond(0)
        .unwrap();
    let url = serve_feed(rss(&[
        ("fresh", "Fresh this morning", now - Duration::hours(2)),
        ("minutes", "Minutes old", now - Duration::minutes(10)),
        ("old", "Before the previous slot", now - Duration::hours(30)),
    ]))
    .await;
    let editor = app.editor().await;
    editor
        .newsletter(
            "daily",
            json!({
                "schedule": format!("{} {} * * *", slot.minute(), slot.hour()),
                "timezone": "UTC",
                "review_before_send": true,
            }),
        )
        .await;
    add_and_poll(&app, &url).await;

    // The slot fires (the test's clock stands just after it).
    let clock = ManualClock::at(slot + Duration::seconds(10));
    let scheduler = Scheduler::new(
        app.store.clone(),
        Arc::new(app.settings.clone()),
        Arc::new(email_templates::Templates::builtin()),
        MailWaker::default(),
        Arc::new(clock),
    );
    let report = scheduler.tick().await.unwrap();
    assert_eq!(report.fired.len(), 1, "{report:?}");
    let SlotOutcome::Draft(issue_id) = report.fired[0].outcome else {
        panic!("the first slot was not built: {report:?}");
    };
    assert_eq!(
        story_titles_of(&app, issue_id).await,
        ["Fresh this morning", "Minutes old"]
    );

    // The draft says which stories it covers: from the slot before.
    app.add_user("admin@example.org", Role::Admin).await;
    app.log_in("admin@example.org", PASSWORD).await;
    let page = app
        .get(&format!("/admin/issues/{issue_id}"))
        .await
        .text()
        .await
        .unwrap();
    let previous = (slot - Duration::days(1)).format("%Y-%m-%d %H:%M UTC");
    assert!(
        page.contains(&format!("Stories published from {previous}")),
        "{page}"
    );
    app.stop().await;
}

/// Built by hand without a schedule, the first issue covers
/// `scheduling.first_issue_window` (7 days): the 30-hour-old story is in,
/// the 10-day-old one is not.
async fn a_first_issue_by_hand_covers_the_first_window(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = Utc::now();
    let url = serve_feed(rss(&[
        ("yesterday", "From yesterday", now - Duration::hours(30)),
        ("stale", "Ten days old", now - Duration::days(10)),
    ]))
    .await;
    let editor = app.editor().await;
    editor.newsletter("weekly", json!({})).await;
    add_and_poll(&app, &url).await;
    let built = editor
        .post("/api/newsletters/weekly/issues", &json!({}))
        .await;
    assert_eq!(built.status, 201, "{}", built.body);
    assert_eq!(built.body["status"], "draft");
    let issue_id = built.body["id"].as_i64().unwrap();
    assert_eq!(story_titles_of(&app, issue_id).await, ["From yesterday"]);
    app.stop().await;
}

crate::both_databases!(
    the_first_slot_sends_the_stories_of_the_previous_period,
    a_first_issue_by_hand_covers_the_first_window,
);
