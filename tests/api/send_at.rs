//! "Send at": a draft scheduled for a time is sent by the scheduler pass
//! that finds it due, once, whichever instance or restart finds it; a time
//! in the past, in a skipped hour, or long missed while down is not sent.
//! Time is a ManualClock driven by `Scheduler::tick`, as in scheduling.rs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{Duration, Utc};
use gazette::delivery::outbox::MailWaker;
use gazette::scheduling::{ManualClock, Scheduler};
use gazette::users::Role;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, TestApp, spawn_app};

fn scheduler(app: &TestApp, clock: &ManualClock) -> Scheduler {
    Scheduler::new(
        app.store.clone(),
        Arc::new(app.settings.clone()),
        Arc::new(email_templates::Templates::builtin()),
        MailWaker::default(),
        Arc::new(clock.clone()),
    )
}

async fn digests(app: &TestApp, issue_id: i64) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE issue_id = $1 AND kind = 'digest'")
        .bind(issue_id)
        .fetch_one(app.store.pool())
        .await
        .unwrap()
}

async fn status_of(app: &TestApp, issue_id: i64) -> String {
    app.store
        .issues()
        .by_id(issue_id)
        .await
        .unwrap()
        .unwrap()
        .status
        .to_string()
}

async fn scheduled_draft_goes_out_once_at_its_time(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.editor().await;
    let newsletter = editor
        .newsletter("weekly", json!({"timezone": "Europe/Paris"}))
        .await;
    let newsletter_id = newsletter["id"].as_i64().unwrap();
    for n in 0..3 {
        crate::editor::subscriber(
            &app,
            &format!("reader{n}@example.org"),
            "active",
            false,
            "active",
            newsletter_id,
        )
        .await;
    }
    editor.story("a", "Bridge reopens", 10, &[]).await;

    // A time in the past, or send and send_at together, builds nothing.
    let past = (Utc::now() - Duration::minutes(5)).to_rfc3339();
    let refused = editor
        .post("/api/newsletters/weekly/issues", &json!({"send_at": past}))
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(
        refused.body["error"]["fields"]["send_at"],
        "must be in the future"
    );
    let both = editor
        .post(
            "/api/newsletters/weekly/issues",
            &json!({"send": true, "send_at": "2099-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(both.status, 422);
    assert_eq!(app.count("SELECT COUNT(*) FROM issues").await, 0);

    // On a whole minute, as a datetime-local field gives it.
    let in_3h = (Utc::now() + Duration::hours(3)).timestamp();
    let at = chrono::DateTime::from_timestamp(in_3h - in_3h % 60, 0).unwrap();
    let built = editor
        .post(
            "/api/newsletters/weekly/issues",
            &json!({"send_at": at.to_rfc3339()}),
        )
        .await;
    assert_eq!(built.status, 201, "{}", built.body);
    assert_eq!(built.body["status"], "draft");
    let issue_id = built.body["id"].as_i64().unwrap();

    // The admin shows it in the newsletter's time and moves it.
    app.add_user("editor@example.org", Role::Editor).await;
    app.log_in("editor@example.org", crate::admin::PASSWORD)
        .await;
    let page = app
        .get(&format!("/admin/issues/{issue_id}"))
        .await
        .text()
        .await
        .unwrap();
    let paris = at.with_timezone(&chrono_tz::Europe::Paris);
    assert!(
        page.contains(&paris.format("%Y-%m-%d %H:%M").to_string()) && page.contains("Europe/Paris"),
        "{page}"
    );
    let csrf = app.admin_csrf().await;
    let later = at + Duration::hours(1);
    let local = later.with_timezone(&chrono_tz::Europe::Paris);
    let moved = app
        .admin_post(
            &format!("/admin/issues/{issue_id}/schedule"),
            &[
                ("csrf", &csrf),
                ("send_at", &local.format("%Y-%m-%dT%H:%M").to_string()),
            ],
        )
        .await;
    assert_eq!(moved.status(), StatusCode::SEE_OTHER);
    let stored = app.store.issues().by_id(issue_id).await.unwrap().unwrap();
    assert_eq!(stored.send_at, Some(later.timestamp_millis()));
    let gap = app
        .admin_post(
            &format!("/admin/issues/{issue_id}/schedule"),
            &[("csrf", &csrf), ("send_at", "2030-03-31T02:30")],
        )
        .await;
    assert_eq!(gap.status(), StatusCode::BAD_REQUEST);
    assert!(
        gap.text()
            .await
            .unwrap()
            .contains("does not exist in Europe/Paris")
    );

    // Before its time nothing goes; at its time one pass sends it; another
    // instance's pass, or a restart's, adds nothing.
    let clock = ManualClock::at(later - Duration::minutes(1));
    let first = scheduler(&app, &clock);
    assert!(first.tick().await.unwrap().sent_scheduled.is_empty());
    assert_eq!(status_of(&app, issue_id).await, "draft");
    clock.set(later + Duration::seconds(5));
    assert_eq!(first.tick().await.unwrap().sent_scheduled, vec![issue_id]);
    // the app's own delivery workers may already have sent the three
    // digests (they poll on the real clock)
    assert!(["sending", "sent"].contains(&status_of(&app, issue_id).await.as_str()));
    assert_eq!(digests(&app, issue_id).await, 3);
    let other = scheduler(&app, &clock);
    assert!(other.tick().await.unwrap().sent_scheduled.is_empty());
    assert!(first.tick().await.unwrap().sent_scheduled.is_empty());
    assert_eq!(digests(&app, issue_id).await, 3);
    app.stop().await;
}

async fn scheduled_send_missed_while_down_stays_a_draft(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.editor().await;
    editor.newsletter("weekly", json!({})).await;
    editor.story("a", "Bridge reopens", 10, &[]).await;
    let at = Utc::now() + Duration::minutes(30);
    let built = editor
        .post(
            "/api/newsletters/weekly/issues",
            &json!({"send_at": at.to_rfc3339()}),
        )
        .await;
    let issue_id = built.body["id"].as_i64().unwrap();
    // Back a day later: far past scheduling.catch_up_grace.
    let clock = ManualClock::at(at + Duration::days(1));
    assert!(
        scheduler(&app, &clock)
            .tick()
            .await
            .unwrap()
            .sent_scheduled
            .is_empty()
    );
    let issue = app.store.issues().by_id(issue_id).await.unwrap().unwrap();
    assert_eq!(issue.status.to_string(), "draft");
    assert_eq!(issue.send_at, None);
    assert!(
        issue
            .skip_reason
            .unwrap()
            .contains("passed while Gazette was not running")
    );
    assert_eq!(digests(&app, issue_id).await, 0);
    app.stop().await;
}

crate::both_databases!(
    scheduled_draft_goes_out_once_at_its_time,
    scheduled_send_missed_while_down_stays_a_draft,
);
