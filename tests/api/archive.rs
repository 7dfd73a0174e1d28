//! The public archive: published issues only, everything escaped, friendly
//! pages for what is not there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use crate::helpers::{Backend, spawn_app};

async fn archive_shows_sent_issues_escaped_and_hides_drafts(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.editor().await;
    editor
        .newsletter("arch", json!({"skip_when_empty": false}))
        .await;
    let nasty = r#"<script>alert("x")</script> Fish & "chips""#;
    let published = chrono::Utc::now() - chrono::Duration::minutes(10);
    let story = editor
        .post(
            "/api/stories",
            &json!({"url": "https://news.example.org/nasty", "title": nasty,
                    "summary": "Safe <b>summary</b> & more", "published_at": published.to_rfc3339()}),
        )
        .await;
    assert_eq!(story.status, 201);
    // No subscribers: the send finishes at once.
    let sent = editor
        .post("/api/newsletters/arch/issues", &json!({"send": true}))
        .await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    assert_eq!(sent.body["status"], "sent");
    let sent_id = sent.body["id"].as_i64().unwrap();
    editor.story("later", "Draft story", 1, &[]).await;
    let draft = editor
        .post("/api/newsletters/arch/issues", &json!({}))
        .await;
    let draft_id = draft.body["id"].as_i64().unwrap();
    assert_eq!(draft.body["status"], "draft");

    let list = app.get("/archive/arch").await;
    assert_eq!(list.status(), 200);
    let list = list.text().await.unwrap();
    assert!(list.contains(&format!("/archive/arch/{sent_id}")), "{list}");
    assert!(!list.contains(&format!("/archive/arch/{draft_id}")));
    assert!(!list.contains("<script>alert"), "{list}");
    assert!(list.contains("&lt;script&gt;"), "{list}");

    let page = app.get(&format!("/archive/arch/{sent_id}")).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(page.contains("&lt;script&gt;alert"), "{page}");
    assert!(page.contains("Fish &amp;"));
    assert!(
        !page.contains("/unsubscribe?token="),
        "no personal links in public"
    );

    for hidden in [
        format!("/archive/arch/{draft_id}"),
        format!("/archive/other/{sent_id}"),
        "/archive/arch/not-a-number".to_string(),
        "/archive/nope".to_string(),
    ] {
        let answer = app.get(&hidden).await;
        assert_eq!(answer.status(), 404, "{hidden}");
        let body = answer.text().await.unwrap();
        assert!(body.contains("<html"), "{hidden} answers a page: {body}");
    }
    app.stop().await;
}

async fn archive_pages_through_many_issues(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.editor().await;
    editor
        .newsletter("many", json!({"skip_when_empty": false}))
        .await;
    let mut ids = Vec::new();
    for _ in 0..22 {
        let sent = editor
            .post("/api/newsletters/many/issues", &json!({"send": true}))
            .await;
        assert_eq!(sent.body["status"], "sent", "{}", sent.body);
        ids.push(sent.body["id"].as_i64().unwrap());
    }
    let first = app.get("/archive/many").await.text().await.unwrap();
    let newest = ids[ids.len() - 1];
    let oldest = ids[0];
    assert!(first.contains(&format!("/archive/many/{newest}\"")));
    assert!(!first.contains(&format!("/archive/many/{oldest}\"")));
    assert!(first.contains("/archive/many?page=2"));
    let second = app.get("/archive/many?page=2").await.text().await.unwrap();
    assert!(second.contains(&format!("/archive/many/{oldest}\"")));
    let feed = app
        .get("/archive/many/feed.xml")
        .await
        .text()
        .await
        .unwrap();
    let feed = feed_rs::parser::parse(feed.as_bytes()).unwrap();
    assert_eq!(feed.entries.len(), 20, "the latest 20");
    assert!(
        feed.entries[0].links[0]
            .href
            .ends_with(&format!("/archive/many/{newest}"))
    );
    app.stop().await;
}

/// The archive as an Atom feed, read by an independent parser (feed-rs,
/// as feed readers read it): published issues only, their stories as
/// escaped HTML, linked from the archive page.
async fn archive_feed_follows_published_issues(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.editor().await;
    editor
        .newsletter(
            "feedy",
            json!({"name": "Feedy <News> & Co", "skip_when_empty": false}),
        )
        .await;
    let nasty = r#"<script>alert("x")</script> Fish & "chips""#;
    let published = chrono::Utc::now() - chrono::Duration::minutes(10);
    let story = editor
        .post(
            "/api/stories",
            &json!({"url": "https://news.example.org/nasty?a=1&b=2", "title": nasty,
                    "summary": "Safe summary", "published_at": published.to_rfc3339()}),
        )
        .await;
    assert_eq!(story.status, 201);
    let sent = editor
        .post("/api/newsletters/feedy/issues", &json!({"send": true}))
        .await;
    assert_eq!(sent.body["status"], "sent", "{}", sent.body);
    let sent_id = sent.body["id"].as_i64().unwrap();
    let subject = sent.body["subject"].as_str().unwrap().to_string();
    editor.story("later", "Draft story", 1, &[]).await;
    let draft = editor
        .post("/api/newsletters/feedy/issues", &json!({}))
        .await;
    assert_eq!(draft.body["status"], "draft");

    let page = app.get("/archive/feedy").await.text().await.unwrap();
    assert!(
        page.contains(r#"rel="alternate" type="application/atom+xml""#)
            && page.contains(r#"href="/archive/feedy/feed.xml""#),
        "{page}"
    );
    let answer = app.get("/archive/feedy/feed.xml").await;
    assert_eq!(answer.status(), 200);
    assert!(
        answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/atom+xml")
    );
    let xml = answer.text().await.unwrap();
    assert!(!xml.contains("<script>"), "{xml}");
    let feed = feed_rs::parser::parse(xml.as_bytes()).expect("a valid Atom feed");
    assert_eq!(feed.title.unwrap().content, "Feedy <News> & Co");
    assert_eq!(feed.entries.len(), 1, "the draft is not in it: {xml}");
    let entry = &feed.entries[0];
    assert_eq!(entry.title.as_ref().unwrap().content, subject);
    assert!(
        entry.links[0]
            .href
            .ends_with(&format!("/archive/feedy/{sent_id}"))
    );
    assert!(entry.published.is_some());
    let html = entry.content.as_ref().unwrap().body.as_deref().unwrap();
    assert!(html.contains("&lt;script&gt;alert"), "{html}");
    assert!(
        html.contains("https://news.example.org/nasty?a=1&amp;b=2"),
        "{html}"
    );

    assert_eq!(app.get("/archive/nope/feed.xml").await.status(), 404);
    app.stop().await;
}

crate::both_databases!(
    archive_feed_follows_published_issues,
    archive_shows_sent_issues_escaped_and_hides_drafts,
    archive_pages_through_many_issues,
);
