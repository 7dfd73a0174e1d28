//! Scheduling: slots fire once, in the newsletter's timezone, through
//! restarts and several instances. Time is injected with a ManualClock and
//! the passes are driven with `Scheduler::tick`, so no test waits for real
//! minutes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use gazette::delivery::outbox::MailWaker;
use gazette::newsletters::NewNewsletter;
use gazette::scheduling::runner::{SlotOutcome, TickReport};
use gazette::scheduling::{ManualClock, Scheduler};
use gazette::startup::Application;

use crate::helpers::{Backend, TestApp, spawn_app, test_settings};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn scheduler(app: &TestApp, clock: &ManualClock) -> Scheduler {
    Scheduler::new(
        app.store.clone(),
        Arc::new(app.settings.clone()),
        Arc::new(email_templates::Templates::builtin()),
        MailWaker::default(),
        Arc::new(clock.clone()),
    )
}

/// A newsletter with `cron` in `tz`, whose schedule was set at `set_at`.
async fn scheduled_newsletter(
    app: &TestApp,
    slug: &str,
    cron: &str,
    tz: &str,
    set_at: DateTime<Utc>,
    review: bool,
) -> i64 {
    let newsletter = app
        .store
        .newsletters()
        .create(
            &NewNewsletter {
                slug,
                name: "Weekly",
                locale: "en",
            },
            gazette::store::now_ms(),
        )
        .await
        .unwrap();
    sqlx::query(
        "UPDATE newsletters SET schedule = $1, timezone = $2, review_before_send = $3, \
         created_at = $4, updated_at = $4 WHERE id = $5",
    )
    .bind(cron)
    .bind(tz)
    .bind(i64::from(review))
    .bind(set_at.timestamp_millis())
    .bind(newsletter.id)
    .execute(app.store.pool())
    .await
    .unwrap();
    newsletter.id
}

async fn add_story(app: &TestApp, url: &str, published: DateTime<Utc>) {
    let at = published.timestamp_millis();
    sqlx::query(
        "INSERT INTO stories (url, title, published_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $3, $3)",
    )
    .bind(url)
    .bind(format!("Story at {url}"))
    .bind(at)
    .execute(app.store.pool())
    .await
    .unwrap();
}

async fn add_subscribers(app: &TestApp, newsletter_id: i64, count: usize) {
    let now = gazette::store::now_ms();
    let mut tx = app.store.begin_write().await.unwrap();
    for i in 0..count {
        let email = format!("reader{i}@example.org");
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO subscribers (email, email_key, status, created_at, confirmed_at, updated_at) \
             VALUES ($1, $1, 'active', $2, $2, $2) RETURNING id",
        )
        .bind(&email)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO subscriptions (subscriber_id, newsletter_id, status, created_at, updated_at) \
             VALUES ($1, $2, 'active', $3, $3)",
        )
        .bind(id)
        .bind(newsletter_id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

async fn issue_statuses(app: &TestApp, newsletter_id: i64) -> Vec<(i64, String)> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT slot_at, status FROM issues WHERE newsletter_id = $1 AND slot_at IS NOT NULL \
         ORDER BY slot_at",
    )
    .bind(newsletter_id)
    .fetch_all(app.store.pool())
    .await
    .unwrap();
    rows
}

async fn catch_up_after_outage_fires_latest_slot_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let set_at = utc("2026-11-20T12:00:00Z");
    let id = scheduled_newsletter(&app, "daily", "0 7 * * *", "Africa/Bamako", set_at, false).await;
    add_story(
        &app,
        "https://news.example.org/a",
        utc("2026-11-21T09:00:00Z"),
    )
    .await;
    add_subscribers(&app, id, 3).await;
    // Down from the 20th to the 23rd at 09:30: slots on the 21st, 22nd and
    // 23rd (07:00 in Bamako = 07:00 UTC) were missed; only the 23rd is young.
    let clock = ManualClock::at(utc("2026-11-23T09:30:00Z"));
    let report = scheduler(&app, &clock).tick().await.unwrap();
    assert_eq!(report.missed, 2, "{report:?}");
    assert_eq!(report.fired.len(), 1, "{report:?}");
    assert_eq!(report.fired[0].slot, utc("2026-11-23T07:00:00Z"));
    assert!(
        matches!(report.fired[0].outcome, SlotOutcome::Sent(_)),
        "{report:?}"
    );
    // A second start at the same moment fires nothing again.
    let again = scheduler(&app, &clock).tick().await.unwrap();
    assert_eq!(again, TickReport::default());
    let statuses = issue_statuses(&app, id).await;
    let kinds: Vec<&str> = statuses.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(kinds.len(), 3, "{statuses:?}");
    assert_eq!(&kinds[..2], &["missed", "missed"]);
    assert!(matches!(kinds[2], "sending" | "sent"), "{statuses:?}");
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE kind = 'digest'")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(rows, 3, "one digest per subscriber");
    app.stop().await;
}

async fn slot_older_than_grace_is_missed_not_sent_late(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = scheduled_newsletter(
        &app,
        "weekly",
        "0 7 * * FRI",
        "Europe/Paris",
        utc("2026-11-26T12:00:00Z"),
        false,
    )
    .await;
    add_story(
        &app,
        "https://news.example.org/b",
        utc("2026-11-26T13:00:00Z"),
    )
    .await;
    // Friday 27 November 07:00 in Paris is 06:00 UTC; we come back at 15:00.
    let clock = ManualClock::at(utc("2026-11-27T15:00:00Z"));
    let report = scheduler(&app, &clock).tick().await.unwrap();
    assert!(report.fired.is_empty(), "{report:?}");
    assert_eq!(report.missed, 1);
    assert_eq!(
        issue_statuses(&app, id).await,
        vec![(
            utc("2026-11-27T06:00:00Z").timestamp_millis(),
            "missed".to_string()
        )]
    );
    app.stop().await;
}

async fn review_newsletter_leaves_a_draft_and_tells_the_editors(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = scheduled_newsletter(
        &app,
        "reviewed",
        "0 7 * * *",
        "Africa/Lagos",
        utc("2026-11-26T00:00:00Z"),
        true,
    )
    .await;
    add_story(
        &app,
        "https://news.example.org/c",
        utc("2026-11-26T01:00:00Z"),
    )
    .await;
    add_subscribers(&app, id, 2).await;
    sqlx::query(
        "INSERT INTO users (email, password_hash, role, created_at) VALUES ('editor@example.org', 'x', 'editor', 0)",
    )
    .execute(app.store.pool())
    .await
    .unwrap();
    // 07:00 in Lagos is 06:00 UTC
    let clock = ManualClock::at(utc("2026-11-26T06:00:30Z"));
    let report = scheduler(&app, &clock).tick().await.unwrap();
    assert!(
        matches!(report.fired[0].outcome, SlotOutcome::Draft(_)),
        "{report:?}"
    );
    let notices: Vec<String> =
        sqlx::query_scalar("SELECT recipient FROM deliveries WHERE kind = 'notice'")
            .fetch_all(app.store.pool())
            .await
            .unwrap();
    assert_eq!(notices, vec!["editor@example.org".to_string()]);
    let digests: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE kind = 'digest'")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(digests, 0, "nothing goes out before review");
    app.stop().await;
}

async fn empty_slot_is_skipped_with_a_reason(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = scheduled_newsletter(
        &app,
        "quiet",
        "@daily",
        "UTC",
        utc("2026-11-26T12:00:00Z"),
        false,
    )
    .await;
    let clock = ManualClock::at(utc("2026-11-27T00:00:10Z"));
    let report = scheduler(&app, &clock).tick().await.unwrap();
    assert!(
        matches!(report.fired[0].outcome, SlotOutcome::Skipped(_)),
        "{report:?}"
    );
    let reason: Option<String> =
        sqlx::query_scalar("SELECT skip_reason FROM issues WHERE newsletter_id = $1")
            .bind(id)
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    assert!(reason.is_some_and(|r| !r.is_empty()));
    app.stop().await;
}

crate::both_databases!(
    catch_up_after_outage_fires_latest_slot_once,
    slot_older_than_grace_is_missed_not_sent_late,
    review_newsletter_leaves_a_draft_and_tells_the_editors,
    empty_slot_is_skipped_with_a_reason,
);

/// Another Gazette instance on the test app's database, sharing nothing but
/// the database. Returns the instance's settings and its stop token.
async fn second_instance(
    app: &TestApp,
) -> (
    gazette::config::Settings,
    tokio_util::sync::CancellationToken,
) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut settings = test_settings(&app.db, port);
    settings.mail.outbox_dir = app.db.dir().join(format!("outbox-{port}"));
    let instance = Application::build_on(settings.clone(), listener)
        .await
        .unwrap();
    let stop = instance.shutdown_token();
    tokio::spawn(instance.run(false));
    (settings, stop)
}

/// Three instances on one PostgreSQL fire a schedule of several slots at
/// the same moments: one issue per slot, one mail per subscriber per issue.
/// (SQLite is one instance by design.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_fire_each_slot_once() {
    if crate::helpers::skip_postgres() {
        return;
    }
    let app = spawn_app(Backend::Postgres).await;
    let (second, stop_second) = second_instance(&app).await;
    let (third, stop_third) = second_instance(&app).await;
    // Slots in the recent past: issues are stamped with the real time, and
    // a story counts when published after the previous issue and not in
    // the future.
    let now = Utc::now().timestamp();
    let start = DateTime::from_timestamp(now - now % 60 - 600, 0).unwrap();
    let id =
        scheduled_newsletter(&app, "minutely", "* * * * *", "Europe/Paris", start, false).await;
    let subscribers = 300;
    add_subscribers(&app, id, subscribers).await;
    let clock = ManualClock::at(start);
    let schedulers = [
        scheduler(&app, &clock),
        Scheduler::new(
            app.store.clone(),
            Arc::new(second.clone()),
            Arc::new(email_templates::Templates::builtin()),
            MailWaker::default(),
            Arc::new(clock.clone()),
        ),
        Scheduler::new(
            app.store.clone(),
            Arc::new(third.clone()),
            Arc::new(email_templates::Templates::builtin()),
            MailWaker::default(),
            Arc::new(clock.clone()),
        ),
    ];
    let slots = 3;
    for minute in 1..=slots {
        let slot = start + chrono::Duration::minutes(minute);
        tokio::time::sleep(Duration::from_millis(5)).await;
        add_story(
            &app,
            &format!("https://news.example.org/m{minute}"),
            Utc::now(),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        clock.set(slot + chrono::Duration::seconds(1));
        let (a, b, c) = tokio::join!(
            schedulers[0].tick(),
            schedulers[1].tick(),
            schedulers[2].tick()
        );
        let fired: usize = [a.unwrap(), b.unwrap(), c.unwrap()]
            .iter()
            .flat_map(|r| r.fired.iter())
            .filter(|f| matches!(f.outcome, SlotOutcome::Sent(_)))
            .count();
        assert_eq!(fired, 1, "slot {slot} must be sent by exactly one instance");
    }
    let issues: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM issues WHERE newsletter_id = $1")
        .bind(id)
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(issues, slots);
    // Wait for the three instances' delivery workers to drain the outbox.
    let expected = subscribers * slots as usize;
    let mut sent = 0;
    for _ in 0..240 {
        sent = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM deliveries WHERE status = 'sent'")
            .fetch_one(app.store.pool())
            .await
            .unwrap() as usize;
        if sent >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(sent, expected);
    let written = [
        &app.settings.mail.outbox_dir,
        &second.mail.outbox_dir,
        &third.mail.outbox_dir,
    ]
    .into_iter()
    .map(|dir| crate::helpers::outbox_files(dir).len())
    .sum::<usize>();
    assert_eq!(
        written, expected,
        "every subscriber gets each issue exactly once"
    );
    let per_pair: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT issue_id, subscriber_id FROM deliveries WHERE kind = 'digest' \
         GROUP BY issue_id, subscriber_id HAVING COUNT(*) > 1) d",
    )
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    assert_eq!(per_pair, 0);
    stop_second.cancel();
    stop_third.cancel();
    app.stop().await;
}
