//! A newsletter's welcome email: written in Markdown in the admin (raw
//! HTML shown as text), previewed, and sent once to each reader who
//! confirms, through the outbox, in the newsletter's language, with the
//! unsubscribe headers and footer. A newsletter without one sends none.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use gazette::users::Role;
use reqwest::StatusCode;
use serde_json::json;

use crate::admin::{PASSWORD, csrf_of};
use crate::helpers::{Backend, TestApp, newest_mail_to, spawn_app};
use crate::subscriptions::mime_part;

const WELCOME_MD: &str = "Merci **beaucoup**.\n\n<script>alert(1)</script>\n\n\
                          [Les archives](https://news.example.org/archive)";

async fn welcome_rows(app: &TestApp, email: &str, status: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM deliveries WHERE kind = 'welcome' AND recipient = $1 \
         AND status = $2",
    )
    .bind(email)
    .bind(status)
    .fetch_one(app.store.pool())
    .await
    .unwrap()
}

async fn wait_welcome_sent(app: &TestApp, email: &str) {
    for _ in 0..300 {
        if welcome_rows(app, email, "sent").await == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no welcome email was sent to {email}");
}

async fn welcome_is_written_previewed_and_sent_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.editor().await;
    let french = editor
        .put("/api/newsletters/news", &json!({"locale": "fr"}))
        .await;
    assert_eq!(french.status, 200, "{}", french.body);
    editor.newsletter("quiet", json!({})).await;
    app.add_user("admin@example.org", Role::Admin).await;
    app.log_in("admin@example.org", PASSWORD).await;

    let page = app.page_text("/admin/newsletters/news/welcome").await;
    assert!(page.contains("id=\"no-welcome\""), "{page}");
    let csrf = csrf_of(&page);
    // A body without a subject is refused, and nothing is stored.
    let refused = app
        .admin_post(
            "/admin/newsletters/news/welcome",
            &[("csrf", &csrf), ("subject", " "), ("markdown", WELCOME_MD)],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("id=\"welcome-problem\"")
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM newsletters WHERE welcome_markdown <> ''")
            .await,
        0
    );
    let saved = app
        .admin_post(
            "/admin/newsletters/news/welcome",
            &[
                ("csrf", &csrf),
                ("subject", "Bienvenue"),
                ("markdown", WELCOME_MD),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let page = app.page_text("/admin/newsletters/news/welcome").await;
    assert!(page.contains("id=\"welcome-text\""), "{page}");
    assert!(page.contains("Merci **beaucoup**"), "{page}");
    let preview = app
        .get("/admin/newsletters/news/welcome/preview.html")
        .await;
    assert_eq!(preview.status(), StatusCode::OK);
    let preview = preview.text().await.unwrap();
    assert!(preview.contains("<strong>beaucoup</strong>"), "{preview}");
    assert!(preview.contains("&lt;script&gt;"), "{preview}");
    assert!(!preview.contains("<script>alert"), "{preview}");

    // A reader of both newsletters confirms: one welcome, from the one
    // newsletter that has one.
    let signup = app
        .post_subscription(
            &json!({"email": "reader@example.net", "newsletters": ["news", "quiet"]}),
        )
        .await;
    assert_eq!(signup.status(), 202);
    let link = app.confirmation_link("reader@example.net").await;
    let token = link.split("token=").nth(1).unwrap().to_string();
    let confirmed = app.post_form("/confirm", &[("token", &token)]).await;
    assert_eq!(confirmed.status(), 200);
    wait_welcome_sent(&app, "reader@example.net").await;
    let outbox = app.settings.mail.outbox_dir.clone();
    let raw = newest_mail_to(&outbox, "reader@example.net").unwrap();
    assert!(raw.contains("Subject: Bienvenue"), "{raw}");
    assert!(raw.contains("List-Unsubscribe: <http"), "{raw}");
    assert!(
        raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
        "{raw}"
    );
    let html = mime_part(&raw, "text/html").unwrap();
    assert!(html.contains("lang=\"fr\""), "{html}");
    assert!(html.contains("<strong>beaucoup</strong>"), "{html}");
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(html.contains("/unsubscribe?"), "{html}");
    assert!(html.contains("1 Example Street"), "{html}");
    let text = mime_part(&raw, "text/plain").unwrap();
    assert!(text.starts_with("Merci **beaucoup**"), "{text}");

    // Confirming again sends nothing more.
    let again = app.post_form("/confirm", &[("token", &token)]).await;
    assert_eq!(again.status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM deliveries WHERE kind = 'welcome'")
            .await,
        1
    );

    // A reader of the newsletter without one gets none.
    let quiet = app
        .post_subscription(&json!({"email": "quiet@example.net", "newsletters": ["quiet"]}))
        .await;
    assert_eq!(quiet.status(), 202);
    assert_eq!(app.confirm("quiet@example.net").await.status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(welcome_rows(&app, "quiet@example.net", "pending").await, 0);
    assert_eq!(welcome_rows(&app, "quiet@example.net", "sent").await, 0);

    // Emptied, it is off: the next reader gets none.
    let csrf = csrf_of(&page);
    let off = app
        .admin_post(
            "/admin/newsletters/news/welcome",
            &[("csrf", &csrf), ("subject", "Bienvenue"), ("markdown", "")],
        )
        .await;
    assert_eq!(off.status(), StatusCode::SEE_OTHER);
    let late = app
        .post_subscription(&json!({"email": "late@example.net", "newsletters": ["news"]}))
        .await;
    assert_eq!(late.status(), 202);
    assert_eq!(app.confirm("late@example.net").await.status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM deliveries WHERE kind = 'welcome'")
            .await,
        1
    );
    app.stop().await;
}

crate::both_databases!(welcome_is_written_previewed_and_sent_once);
