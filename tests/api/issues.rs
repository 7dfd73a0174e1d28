//! Issue building, editing, sending, cancelling and previewing, on both
//! databases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{Value, json};

use crate::editor::{Editor, subscriber};
use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};
use gazette::issues::{BuildOutcome, build_issue};

fn story_ids(issue: &Value) -> Vec<i64> {
    issue["stories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect()
}

async fn shift_issue_back(app: &TestApp, issue_id: i64, minutes: i64) {
    sqlx::query("UPDATE issues SET created_at = created_at - $1 WHERE id = $2")
        .bind(minutes * 60_000)
        .bind(issue_id)
        .execute(app.store.pool())
        .await
        .unwrap();
}

async fn build(editor: &Editor<'_>, slug: &str) -> Value {
    let answer = editor
        .post(&format!("/api/newsletters/{slug}/issues"), &json!({}))
        .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    answer.body
}

async fn issue_takes_new_stories_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.editor().await;
    editor.newsletter("n", json!({})).await;
    // A first issue covers scheduling.first_issue_window (7 days): a story
    // of two hours ago is in, one of eight days ago is not.
    let before_newsletter = editor
        .story("a", "Before the window", 8 * 24 * 60, &[])
        .await;
    let earlier = editor.story("a2", "Earlier today", 120, &[]).await;
    let b = editor.story("b", "Story B", 30, &[]).await;
    let first = build(&editor, "n").await;
    assert_eq!(first["status"], "draft");
    assert_eq!(story_ids(&first), [b, earlier]);
    assert_eq!(
        first["subject"], "Story B",
        "default subject: the top story"
    );
    assert!(!story_ids(&first).contains(&before_newsletter));

    // Move the first issue 40 minutes back: B now falls inside the next
    // window, but it went out once and must not again.
    shift_issue_back(&app, first["id"].as_i64().unwrap(), 40).await;
    let before_issue = editor.story("d", "Before the first issue", 50, &[]).await;
    let c = editor.story("c", "Story C", 10, &[]).await;
    let newer = editor.story("e", "Story E", 5, &[]).await;
    let second = build(&editor, "n").await;
    assert_eq!(story_ids(&second), [newer, c], "newest first, no repeat");
    assert!(!story_ids(&second).contains(&before_issue));
    app.stop().await;
}

async fn tag_filter_and_max_stories_shape_the_issue(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.editor().await;
    editor
        .newsletter("sport", json!({"tags": ["sport", "a_b"], "max_stories": 2}))
        .await;
    let s1 = editor.story("s1", "Match one", 30, &["Sport"]).await;
    let s2 = editor
        .story("s2", "Match two", 20, &["world", "sport"])
        .await;
    let s3 = editor.story("s3", "Match three", 10, &["sport"]).await;
    editor.story("w", "World only", 5, &["world"]).await;
    editor
        .story("x", "Underscore is not a wildcard", 5, &["axb"])
        .await;
    editor.story("n", "No tags", 5, &[]).await;
    let issue = build(&editor, "sport").await;
    assert_eq!(
        story_ids(&issue),
        [s3, s2],
        "at most max_stories, newest first"
    );
    assert!(!story_ids(&issue).contains(&s1));
    app.stop().await;
}

async fn empty_issue_is_skipped_with_a_reason(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.editor().await;
    editor.newsletter("quiet", json!({})).await;
    let skipped = build(&editor, "quiet").await;
    assert_eq!(skipped["status"], "skipped");
    assert!(
        skipped["skip_reason"]
            .as_str()
            .unwrap()
            .contains("no new stories")
    );
    editor
        .newsletter("keep", json!({"skip_when_empty": false}))
        .await;
    let kept = build(&editor, "keep").await;
    assert_eq!(kept["status"], "draft");
    assert_eq!(kept["stories"], json!([]));
    app.stop().await;
}

async fn a_slot_is_built_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.editor().await;
    editor.newsletter("slotted", json!({})).await;
    editor.story("s", "Slot story", 10, &[]).await;
    let newsletter = app
        .store
        .newsletters()
        .by_slug("slotted")
        .await
        .unwrap()
        .unwrap();
    let slot = chrono::Utc::now().timestamp_millis() - 1000;
    let first = build_issue(
        &app.store,
        &newsletter,
        Some(slot),
        app.settings.scheduling.first_issue_window,
    )
    .await
    .unwrap();
    let BuildOutcome::Built(issue) = first else {
        panic!("expected a draft, got {first:?}");
    };
    let again = build_issue(
        &app.store,
        &newsletter,
        Some(slot),
        app.settings.scheduling.first_issue_window,
    )
    .await
    .unwrap();
    assert_eq!(again, BuildOutcome::AlreadyExists(issue.id));
    assert_eq!(app.count("SELECT COUNT(*) FROM issues").await, 1);
    app.stop().await;
}

async fn sending_reaches_active_subscribers_only_and_twice_adds_nothing(backend: Backend) {
    // One message a second, so the issue is still sending at the second send.
    let app = spawn_app_with(backend, |settings| {
        settings.mail.rate_per_second = 1;
    })
    .await;
    let editor = app.editor().await;
    let newsletter = editor.newsletter("fan", json!({})).await;
    let other = editor.newsletter("other", json!({})).await;
    let id = newsletter["id"].as_i64().unwrap();
    let ann = subscriber(&app, "ann@example.org", "active", false, "active", id).await;
    let bob = subscriber(&app, "Bob@Example.org", "active", false, "active", id).await;
    subscriber(&app, "pending@example.org", "pending", false, "pending", id).await;
    subscriber(
        &app,
        "left@example.org",
        "active",
        false,
        "unsubscribed",
        id,
    )
    .await;
    subscriber(&app, "bounced@example.org", "bounced", false, "active", id).await;
    subscriber(&app, "paused@example.org", "active", true, "active", id).await;
    let elsewhere = other["id"].as_i64().unwrap();
    subscriber(
        &app,
        "elsewhere@example.org",
        "active",
        false,
        "active",
        elsewhere,
    )
    .await;
    editor.story("s", "Fan-out story", 10, &[]).await;
    let issue = editor
        .post("/api/newsletters/fan/issues", &json!({"send": true}))
        .await;
    assert_eq!(issue.status, 201, "{}", issue.body);
    assert!(["sending", "sent"].contains(&issue.body["status"].as_str().unwrap()));
    let issue_id = issue.body["id"].as_i64().unwrap();
    assert_eq!(issue.body["counts"]["total"], 2);

    let again = editor
        .post(&format!("/api/issues/{issue_id}/send"), &json!({}))
        .await;
    // Still sending, as a second press of the button almost always finds
    // it: accepted, and nothing added. On a stalled machine both messages
    // may already be out: then the issue is sent and a send is refused.
    if again.status == 409 {
        let shown = editor.get(&format!("/api/issues/{issue_id}")).await;
        assert_eq!(shown.body["status"], "sent", "{}", again.body);
    } else {
        assert_eq!(again.status, 202, "{}", again.body);
        assert_eq!(again.body["counts"]["total"], 2);
    }
    let mut recipients: Vec<i64> =
        sqlx::query_scalar("SELECT subscriber_id FROM deliveries WHERE issue_id = $1")
            .bind(issue_id)
            .fetch_all(app.store.pool())
            .await
            .unwrap();
    recipients.sort_unstable();
    assert_eq!(recipients, [ann, bob]);

    // The workers deliver into the file outbox; the issue turns `sent`.
    let mut status = String::new();
    for _ in 0..100 {
        let shown = editor.get(&format!("/api/issues/{issue_id}")).await;
        status = shown.body["status"].as_str().unwrap().to_string();
        if status == "sent" {
            assert_eq!(shown.body["counts"]["sent"], 2, "{}", shown.body);
            assert_eq!(shown.body["counts"]["pending"], 0);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "sent");
    let resend = editor
        .post(&format!("/api/issues/{issue_id}/send"), &json!({}))
        .await;
    assert_eq!(resend.status, 409);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM deliveries WHERE kind = 'digest'")
            .await,
        2
    );
    app.stop().await;
}

async fn cancel_stops_pending_rows(backend: Backend) {
    // One message a second: most rows are still pending when we cancel.
    let app = spawn_app_with(backend, |settings| {
        settings.mail.rate_per_second = 1;
        settings.mail.concurrency = 1;
    })
    .await;
    let editor = app.editor().await;
    let newsletter = editor.newsletter("stop", json!({})).await;
    let id = newsletter["id"].as_i64().unwrap();
    // Workers claim a small batch at a time; the rest stays pending.
    for n in 0..40 {
        subscriber(
            &app,
            &format!("r{n}@example.org"),
            "active",
            false,
            "active",
            id,
        )
        .await;
    }
    editor.story("s", "Soon cancelled", 10, &[]).await;
    let issue = build(&editor, "stop").await;
    let issue_id = issue["id"].as_i64().unwrap();
    let sent = editor
        .post(&format!("/api/issues/{issue_id}/send"), &json!({}))
        .await;
    assert_eq!(sent.status, 202, "{}", sent.body);
    let cancelled = editor
        .post(&format!("/api/issues/{issue_id}/cancel"), &json!({}))
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(cancelled.body["counts"]["total"], 40);
    let gone_or_going = cancelled.body["counts"]["sent"].as_i64().unwrap()
        + cancelled.body["counts"]["pending"].as_i64().unwrap();
    assert!(
        cancelled.body["counts"]["cancelled"].as_i64().unwrap() >= 20,
        "{}",
        cancelled.body
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let later = editor.get(&format!("/api/issues/{issue_id}")).await;
    assert_eq!(later.body["status"], "cancelled");
    assert!(
        later.body["counts"]["sent"].as_i64().unwrap() <= gone_or_going,
        "no cancelled row went out: {}",
        later.body
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'")
            .await,
        0
    );
    let again = editor
        .post(&format!("/api/issues/{issue_id}/cancel"), &json!({}))
        .await;
    assert_eq!(again.status, 409);
    app.stop().await;
}

async fn drafts_are_edited_until_they_are_sent(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.editor().await;
    editor.newsletter("ed", json!({})).await;
    let a = editor.story("a", "A", 30, &[]).await;
    let b = editor.story("b", "B", 20, &[]).await;
    let c = editor.story("c", "C", 10, &[]).await;
    let issue = build(&editor, "ed").await;
    let issue_id = issue["id"].as_i64().unwrap();
    assert_eq!(story_ids(&issue), [c, b, a]);
    let path = format!("/api/issues/{issue_id}");
    let edited = editor
        .put(
            &path,
            &json!({"subject": "Hand-picked", "preheader": "Three things", "intro": "Hello.\n\nToday:",
                    "story_ids": [a, c]}),
        )
        .await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    assert_eq!(edited.body["subject"], "Hand-picked");
    assert_eq!(edited.body["intro"], "Hello.\n\nToday:");
    assert_eq!(story_ids(&edited.body), [a, c], "reordered, B dropped");
    let stranger = editor.put(&path, &json!({"story_ids": [b]})).await;
    assert_eq!(stranger.status, 422, "{}", stranger.body);
    let empty_subject = editor.put(&path, &json!({"subject": "  "})).await;
    assert_eq!(empty_subject.status, 422);
    let sent = editor.post(&format!("{path}/send"), &json!({})).await;
    assert_eq!(sent.status, 202);
    let late = editor.put(&path, &json!({"subject": "Too late"})).await;
    assert_eq!(late.status, 409, "{}", late.body);
    assert_eq!(late.body["error"]["code"], "conflict");
    assert_eq!(editor.get("/api/issues/999999").await.status, 404);
    app.stop().await;
}

async fn preview_reports_size_and_test_send_queues_one_mail(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.editor().await;
    editor.newsletter("big", json!({"max_stories": 20})).await;
    for n in 0..20 {
        let published = chrono::Utc::now() - chrono::Duration::minutes(30 - n);
        let answer = editor
            .post(
                "/api/stories",
                &json!({
                    "url": format!("https://news.example.org/2030/03/story-number-{n}-with-a-long-slug"),
                    "title": format!("Story {n}: a headline of a realistic length for a news site"),
                    "summary": "A summary of two or three sentences, as news sites write them. ".repeat(4),
                    "image_url": format!("https://cdn.example.org/images/2030/03/story-{n}.jpg"),
                    "author": "Ann Reporter",
                    "published_at": published.to_rfc3339(),
                }),
            )
            .await;
        assert_eq!(answer.status, 201);
    }
    let issue = build(&editor, "big").await;
    assert_eq!(issue["stories"].as_array().unwrap().len(), 20);
    let id = issue["id"].as_i64().unwrap();
    let html = app
        .client
        .get(app.url(&format!("/api/issues/{id}/preview")))
        .bearer_auth(&editor.token)
        .send()
        .await
        .unwrap();
    assert_eq!(html.status(), 200);
    let bytes: usize = html.headers()["x-gazette-html-bytes"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = html.text().await.unwrap();
    assert_eq!(bytes, body.len());
    assert!(body.contains("Story 19: a headline"));
    let report = editor
        .get(&format!("/api/issues/{id}/preview?format=json"))
        .await;
    assert_eq!(report.body["html_bytes"], bytes);
    assert_eq!(
        report.body["clipped_by_gmail"], false,
        "20 stories stay under 102 KB"
    );
    assert!(bytes < 102 * 1024);
    let text = editor
        .get(&format!("/api/issues/{id}/preview?format=text"))
        .await;
    assert!(text.body.as_str().unwrap().contains("1. Story 19"));

    let queued = editor
        .post(
            &format!("/api/issues/{id}/test"),
            &json!({"email": "editor@example.org"}),
        )
        .await;
    assert_eq!(queued.status, 202, "{}", queued.body);
    let (kind, recipient, subject): (String, String, String) = {
        let row: (String, String, String) =
            sqlx::query_as("SELECT kind, recipient, subject FROM deliveries WHERE id = $1")
                .bind(queued.body["delivery_id"].as_i64().unwrap())
                .fetch_one(app.store.pool())
                .await
                .unwrap();
        row
    };
    assert_eq!(kind, "test");
    assert_eq!(recipient, "editor@example.org");
    assert!(subject.contains("Story 19"), "{subject}");
    let bad = editor
        .post(
            &format!("/api/issues/{id}/test"),
            &json!({"email": "nobody"}),
        )
        .await;
    assert_eq!(bad.status, 422);
    let still_draft = editor.get(&format!("/api/issues/{id}")).await;
    assert_eq!(
        still_draft.body["status"], "draft",
        "a test send changes nothing"
    );
    app.stop().await;
}

/// Test copies go to the editors' own addresses freely, and to at most 20
/// other addresses an hour: an API token cannot make Gazette mail anyone.
async fn test_sends_to_other_addresses_are_limited(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("chief@example.org", gazette::users::Role::Editor)
        .await;
    let editor = app.editor().await;
    editor
        .newsletter("weekly", json!({"skip_when_empty": false}))
        .await;
    let id = build(&editor, "weekly").await["id"].as_i64().unwrap();
    let test_to = |address: String| {
        let editor = &editor;
        async move {
            editor
                .post(
                    &format!("/api/issues/{id}/test"),
                    &json!({"email": address}),
                )
                .await
        }
    };
    for n in 0..20 {
        let queued = test_to(format!("reader{n}@example.net")).await;
        assert_eq!(queued.status, 202, "{}", queued.body);
    }
    let refused = test_to("reader20@example.net".into()).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.body["error"]["code"], "rate_limited");
    // A counted address may get more copies; an editor's always may.
    assert_eq!(test_to("Reader3@example.net".into()).await.status, 202);
    assert_eq!(test_to("CHIEF@example.org".into()).await.status, 202);
    let copies: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE kind = 'test'")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(copies, 22);
    app.stop().await;
}

crate::both_databases!(
    test_sends_to_other_addresses_are_limited,
    issue_takes_new_stories_once,
    tag_filter_and_max_stories_shape_the_issue,
    empty_issue_is_skipped_with_a_reason,
    a_slot_is_built_once,
    sending_reaches_active_subscribers_only_and_twice_adds_nothing,
    cancel_stops_pending_rows,
    drafts_are_edited_until_they_are_sent,
    preview_reports_size_and_test_send_queues_one_mail,
);
