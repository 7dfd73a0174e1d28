//! Stories through the API: upsert by URL and by external id, bounds,
//! unsafe URLs, cleaned summaries, listing since a time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use crate::helpers::{Backend, spawn_app};

async fn story_upsert_by_url_creates_then_updates(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.editor().await;
    let story = json!({"url": "https://news.example.org/a", "title": "First title",
                       "author": "Ann", "tags": ["World"]});
    let created = editor.post("/api/stories", &story).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["title"], "First title");
    assert_eq!(created.body["tags"], json!(["world"]));
    let again = editor
        .post(
            "/api/stories",
            &json!({"url": "https://news.example.org/a", "title": "Second title"}),
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["id"], created.body["id"]);
    assert_eq!(again.body["title"], "Second title");
    assert_eq!(app.count("SELECT COUNT(*) FROM stories").await, 1);
    app.stop().await;
}

async fn story_upsert_by_external_id_follows_a_moved_url(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.editor().await;
    let created = editor
        .post(
            "/api/stories",
            &json!({"url": "https://news.example.org/draft-slug", "title": "T",
                    "external_id": "cms-42"}),
        )
        .await;
    assert_eq!(created.status, 201);
    let moved = editor
        .post(
            "/api/stories",
            &json!({"url": "https://news.example.org/final-slug", "title": "T",
                    "external_id": "cms-42"}),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(moved.body["id"], created.body["id"]);
    assert_eq!(moved.body["url"], "https://news.example.org/final-slug");
    assert_eq!(app.count("SELECT COUNT(*) FROM stories").await, 1);
    app.stop().await;
}

async fn unsafe_or_oversized_stories_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.editor().await;
    for (body, field) in [
        (json!({"url": "javascript:alert(1)", "title": "x"}), "url"),
        (
            json!({"url": "https://a.example.org/", "title": "x", "image_url": "javascript:alert(1)"}),
            "image_url",
        ),
        (
            json!({"url": "https://a.example.org/", "title": "t".repeat(301)}),
            "title",
        ),
        (
            json!({"url": "https://a.example.org/", "title": "x", "summary": "s".repeat(5001)}),
            "summary",
        ),
        (
            json!({"url": format!("https://a.example.org/{}", "p".repeat(2100)), "title": "x"}),
            "url",
        ),
        (
            json!({"url": "https://a.example.org/", "title": "x", "tags": vec!["t"; 21]}),
            "tags",
        ),
        (
            json!({"url": "https://a.example.org/", "title": "x", "published_at": "last week"}),
            "published_at",
        ),
    ] {
        let answer = editor.post("/api/stories", &body).await;
        assert_eq!(answer.status, 422, "{field}: {}", answer.body);
        assert!(
            answer.body["error"]["fields"][field].is_string(),
            "{}",
            answer.body
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM stories").await, 0);
    app.stop().await;
}

async fn summaries_are_cleaned_to_text(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.editor().await;
    let answer = editor
        .post(
            "/api/stories",
            &json!({"url": "https://news.example.org/s", "title": "S",
                    "summary": "<p onclick=\"x()\">Fish &amp; <b>chips</b></p><script>alert(1)</script>"}),
        )
        .await;
    assert_eq!(answer.status, 201);
    assert_eq!(answer.body["summary"], "Fish & chips");
    app.stop().await;
}

async fn stories_are_listed_since_a_time(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.editor().await;
    editor
        .post(
            "/api/stories",
            &json!({"url": "https://n.example.org/old", "title": "Old",
                    "published_at": "2030-01-01T00:00:00Z"}),
        )
        .await;
    editor
        .post(
            "/api/stories",
            &json!({"url": "https://n.example.org/new", "title": "New",
                    "published_at": "2030-02-01T00:00:00Z"}),
        )
        .await;
    let since = editor
        .get("/api/stories?since=2030-01-15T00:00:00%2B01:00")
        .await;
    assert_eq!(since.status, 200, "{}", since.body);
    let titles: Vec<&str> = since.body["stories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["New"]);
    let all = editor.get("/api/stories?limit=1").await;
    assert_eq!(all.body["stories"].as_array().unwrap().len(), 1);
    let bad = editor.get("/api/stories?since=yesterday").await;
    assert_eq!(bad.status, 422);
    assert!(bad.body["error"]["fields"]["since"].is_string());
    app.stop().await;
}

crate::both_databases!(
    story_upsert_by_url_creates_then_updates,
    story_upsert_by_external_id_follows_a_moved_url,
    unsafe_or_oversized_stories_are_refused,
    summaries_are_cleaned_to_text,
    stories_are_listed_since_a_time,
);
