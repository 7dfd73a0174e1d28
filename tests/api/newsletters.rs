//! Newsletters through the API: create, read, update, validation, conflicts,
//! and the bearer-token check every editor endpoint shares.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use crate::helpers::{Backend, spawn_app};

async fn newsletter_crud_round_trips(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.editor().await;
    let created = editor
        .post(
            "/api/newsletters",
            &json!({
                "slug": "morning", "name": "Morning briefing", "locale": "fr",
                "max_stories": 5, "tags": ["World", "sport"], "reply_to": "desk@example.org",
                "schedule": "0 7 * * FRI", "timezone": "Africa/Bamako", "review_before_send": true
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["locale"], "fr");
    assert_eq!(created.body["tags"], json!(["world", "sport"]));
    assert_eq!(created.body["skip_when_empty"], true);

    let shown = editor.get("/api/newsletters/morning").await;
    assert_eq!(shown.status, 200);
    let runs = shown.body["next_runs"].as_array().unwrap();
    assert_eq!(runs.len(), 5, "{}", shown.body);
    // Bamako is UTC+0 all year: Fridays at 07:00 local and UTC.
    for run in runs {
        let utc = chrono::DateTime::parse_from_rfc3339(run["utc"].as_str().unwrap()).unwrap();
        assert_eq!(utc.format("%a %H:%M").to_string(), "Fri 07:00", "{run}");
        assert!(run["local"].as_str().unwrap().contains("T07:00:00"));
    }

    let updated = editor
        .put(
            "/api/newsletters/morning",
            &json!({"max_stories": 12, "paused": true}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["max_stories"], 12);
    assert_eq!(updated.body["paused"], true);
    assert_eq!(updated.body["locale"], "fr", "fields not sent are kept");
    assert_eq!(updated.body["schedule"], "0 7 * * FRI");

    let unscheduled = editor
        .put("/api/newsletters/morning", &json!({"schedule": null}))
        .await;
    assert_eq!(unscheduled.status, 200);
    assert!(unscheduled.body.get("next_runs").is_none());

    let listed = editor.get("/api/newsletters").await;
    let slugs: Vec<&str> = listed.body["newsletters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["slug"].as_str().unwrap())
        .collect();
    assert!(slugs.contains(&"morning"), "{slugs:?}");
    assert_eq!(editor.get("/api/newsletters/nope").await.status, 404);
    app.stop().await;
}

async fn invalid_newsletters_are_refused_and_nothing_is_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.editor().await;
    let before = app.count("SELECT COUNT(*) FROM newsletters").await;
    for (body, field) in [
        (json!({"slug": "Bad Slug!", "name": "x"}), "slug"),
        (json!({"slug": "ok", "name": "x", "locale": "de"}), "locale"),
        (
            json!({"slug": "ok", "name": "x", "schedule": "every friday"}),
            "schedule",
        ),
        (
            json!({"slug": "ok", "name": "x", "schedule": "0 7 * * FRI", "timezone": "Mars/Olympus"}),
            "timezone",
        ),
        (
            json!({"slug": "ok", "name": "x", "max_stories": 500}),
            "max_stories",
        ),
        (json!({"slug": "ok", "name": ""}), "name"),
    ] {
        let answer = editor.post("/api/newsletters", &body).await;
        assert_eq!(answer.status, 422, "{body}: {}", answer.body);
        assert_eq!(answer.body["error"]["code"], "invalid_input");
        assert!(
            answer.body["error"]["fields"][field].is_string(),
            "{field} not named: {}",
            answer.body
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM newsletters").await, before);

    editor.newsletter("weekly", json!({})).await;
    let bad_update = editor
        .put(
            "/api/newsletters/weekly",
            &json!({"timezone": "Nowhere/Land", "max_stories": 3}),
        )
        .await;
    assert_eq!(bad_update.status, 422);
    let kept = editor.get("/api/newsletters/weekly").await;
    assert_eq!(kept.body["timezone"], "UTC");
    assert_eq!(
        kept.body["max_stories"], 10,
        "a refused update changes nothing"
    );
    app.stop().await;
}

async fn duplicate_slug_is_a_conflict(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.editor().await;
    editor.newsletter("daily", json!({})).await;
    let again = editor
        .post(
            "/api/newsletters",
            &json!({"slug": "daily", "name": "Other"}),
        )
        .await;
    assert_eq!(again.status, 409);
    assert_eq!(again.body["error"]["code"], "conflict");
    app.stop().await;
}

async fn editor_api_requires_a_valid_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let missing = app.get("/api/newsletters").await;
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");

    let wrong = app
        .client
        .post(app.url("/api/stories"))
        .bearer_auth("gz_not-a-real-token")
        .json(&json!({"url": "https://x.example.org/a", "title": "A"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(app.count("SELECT COUNT(*) FROM stories").await, 0);

    let editor = app.editor().await;
    assert_eq!(editor.get("/api/newsletters").await.status, 200);
    let used: Option<i64> = sqlx::query_scalar("SELECT MAX(last_used_at) FROM api_tokens")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert!(used.is_some(), "a use is recorded");
    let token = app.store.api_tokens().all().await.unwrap().remove(0);
    gazette::api_tokens::revoke_token(&app.store, &token.name)
        .await
        .unwrap();
    assert_eq!(editor.get("/api/newsletters").await.status, 401);
    app.stop().await;
}

/// The signup form keeps the newsletter list in memory: a change made
/// through this instance shows at once, one made elsewhere (another
/// instance, written straight to the database here) within the refresh.
async fn the_form_shows_newsletter_changes(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.editor().await;
    editor
        .newsletter("first", json!({"name": "First Letter"}))
        .await;
    let form = app.get("/subscribe").await.text().await.unwrap();
    assert!(form.contains("First Letter"), "{form}");

    editor
        .newsletter("second", json!({"name": "Second Letter"}))
        .await;
    let form = app.get("/subscribe").await.text().await.unwrap();
    assert!(
        form.contains("Second Letter"),
        "a change here shows at once"
    );

    sqlx::query("UPDATE newsletters SET name = 'Renamed Elsewhere' WHERE slug = 'first'")
        .execute(app.store.pool())
        .await
        .unwrap();
    let deadline = std::time::Instant::now()
        + gazette::newsletters::listing::REFRESH
        + std::time::Duration::from_secs(5);
    loop {
        let form = app.get("/subscribe").await.text().await.unwrap();
        if form.contains("Renamed Elsewhere") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a change elsewhere never showed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    app.stop().await;
}

crate::both_databases!(
    the_form_shows_newsletter_changes,
    newsletter_crud_round_trips,
    invalid_newsletters_are_refused_and_nothing_is_stored,
    duplicate_slug_is_a_conflict,
    editor_api_requires_a_valid_token,
);
