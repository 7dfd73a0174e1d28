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
    app.stop().await;
}

crate::both_databases!(
    archive_shows_sent_issues_escaped_and_hides_drafts,
    archive_pages_through_many_issues,
);
