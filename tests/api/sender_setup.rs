//! Gazette ships no sender address and no postal address. Over SMTP an
//! issue is not sent until both are set (API, admin and CLI say so, and
//! change nothing), while test copies and confirmations still go; with the
//! file transport everything works under a banner. The dashboard lists
//! what set-up is left.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use gazette::users::Role;
use serde_json::json;

use crate::admin::{PASSWORD, csrf_of};
use crate::helpers::{Backend, TestApp, send_through_smtp, spawn_app, spawn_app_with};
use crate::smtp_server::SmtpServer;

const WAIT: Duration = Duration::from_secs(10);

/// A draft of the default newsletter with one story.
async fn draft(app: &TestApp) -> i64 {
    let editor = app.editor().await;
    editor.story("a", "Market day moves", 30, &[]).await;
    let built = editor
        .post("/api/newsletters/news/issues", &json!({}))
        .await;
    assert_eq!(built.status, 201, "{}", built.body);
    built.body["id"].as_i64().unwrap()
}

fn unset_sender(settings: &mut gazette::config::Settings) {
    settings.mail.from.address = String::new();
    settings.site.postal_address = String::new();
}

async fn smtp_sends_no_issue_until_the_sender_is_set(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = spawn_app_with(backend, |s| {
        send_through_smtp(s, smtp.port);
        unset_sender(s);
    })
    .await;
    let id = draft(&app).await;
    let editor = app.editor().await;

    let refused = editor
        .post(&format!("/api/issues/{id}/send"), &json!({}))
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(refused.body["error"]["code"], "sender_not_set");
    let message = refused.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("mail.from.address and site.postal_address are set"),
        "{message}"
    );
    let issue = editor.get(&format!("/api/issues/{id}")).await;
    assert_eq!(issue.body["status"], "draft");
    let issues = app.count("SELECT COUNT(*) FROM issues").await;
    let built_and_sent = editor
        .post("/api/newsletters/news/issues", &json!({"send": true}))
        .await;
    assert_eq!(built_and_sent.body["error"]["code"], "sender_not_set");
    assert_eq!(app.count("SELECT COUNT(*) FROM issues").await, issues);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM deliveries WHERE kind = 'digest'")
            .await,
        0
    );

    // A test copy and a confirmation still go, from the placeholder, with
    // no empty address block in their footers.
    let test = editor
        .post(
            &format!("/api/issues/{id}/test"),
            &json!({"email": "editor@example.org"}),
        )
        .await;
    assert_eq!(test.status, 202, "{}", test.body);
    let signup = app
        .post_subscription(&json!({"email": "reader@example.net"}))
        .await;
    assert_eq!(signup.status(), 202);
    let received = smtp.wait_for(2, WAIT).await;
    for mail in &received {
        assert_eq!(mail.from, "newsletter@localhost");
        assert!(!mail.data.contains("class=\"address\""), "{}", mail.data);
    }

    // The admin says why, offers no send, and refuses one.
    app.add_user("admin@example.org", Role::Admin).await;
    app.log_in("admin@example.org", PASSWORD).await;
    let page = app.page_text(&format!("/admin/issues/{id}")).await;
    assert!(page.contains("id=\"sender-banner\""), "{page}");
    assert!(page.contains("site.postal_address"), "{page}");
    assert!(!page.contains("Send now"), "{page}");
    let confirm = app.page_text(&format!("/admin/issues/{id}/send")).await;
    assert!(confirm.contains("cannot be sent yet"), "{confirm}");
    let posted = app
        .admin_post(
            &format!("/admin/issues/{id}/send"),
            &[("csrf", &csrf_of(&page))],
        )
        .await;
    assert_eq!(posted.status(), reqwest::StatusCode::BAD_REQUEST);
    assert!(posted.text().await.unwrap().contains("mail.from.address"));
    assert_eq!(
        editor.get(&format!("/api/issues/{id}")).await.body["status"],
        "draft"
    );
    let dashboard = app.page_text("/admin").await;
    assert!(dashboard.contains("id=\"sender-banner\""), "{dashboard}");
    for todo in ["setup-postal-address", "setup-sender"] {
        assert!(
            dashboard.contains(&format!("id=\"{todo}\" class=\"todo\"")),
            "{todo} in {dashboard}"
        );
    }

    // The CLI refuses with one line, and builds nothing.
    let output = cli_send(&app, "smtp").await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("mail.from.address"), "{stderr}");
    assert_eq!(app.count("SELECT COUNT(*) FROM issues").await, issues);
    app.stop().await;
}

async fn file_transport_sends_under_a_banner(backend: Backend) {
    let app = spawn_app_with(backend, unset_sender).await;
    let id = draft(&app).await;
    app.add_user("admin@example.org", Role::Admin).await;
    app.log_in("admin@example.org", PASSWORD).await;
    let page = app.page_text(&format!("/admin/issues/{id}")).await;
    assert!(page.contains("class=\"flash warn\""), "{page}");
    assert!(
        page.contains("not sent, so everything can be tried"),
        "{page}"
    );
    assert!(page.contains("Send now"), "{page}");
    let sent = app
        .editor()
        .await
        .post(&format!("/api/issues/{id}/send"), &json!({}))
        .await;
    assert_eq!(sent.status, 202, "{}", sent.body);
    assert_ne!(sent.body["status"], "draft");
    // The CLI too.
    let output = cli_send(&app, "file").await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    app.stop().await;
}

async fn dashboard_lists_the_set_up_left(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("admin@example.org", Role::Admin).await;
    app.log_in("admin@example.org", PASSWORD).await;
    let dashboard = app.page_text("/admin").await;
    assert!(!dashboard.contains("id=\"sender-banner\""), "both are set");
    for (step, state) in [
        ("setup-postal-address", "done"),
        ("setup-sender", "done"),
        ("setup-dkim", "todo"),
        ("setup-smtp", "todo"),
        ("setup-newsletter", "todo"),
        ("setup-story", "todo"),
    ] {
        assert!(
            dashboard.contains(&format!("id=\"{step}\" class=\"{state}\"")),
            "{step} {state} in {dashboard}"
        );
    }
    assert!(dashboard.contains("href=\"/admin/stories\""), "{dashboard}");
    let editor = app.editor().await;
    editor.story("a", "Market day moves", 30, &[]).await;
    let changed = editor
        .put("/api/newsletters/news", &json!({"schedule": "0 7 * * *"}))
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let dashboard = app.page_text("/admin").await;
    for step in ["setup-story", "setup-newsletter"] {
        assert!(
            dashboard.contains(&format!("id=\"{step}\" class=\"done\"")),
            "{step} in {dashboard}"
        );
    }
    app.stop().await;
}

crate::both_databases!(
    smtp_sends_no_issue_until_the_sender_is_set,
    file_transport_sends_under_a_banner,
    dashboard_lists_the_set_up_left,
);

/// `gazette digest send news` with the shipped settings but the transport.
async fn cli_send(app: &TestApp, transport: &'static str) -> std::process::Output {
    let database = app.db.url.clone();
    let outbox = app.db.dir().join("cli-outbox");
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_gazette"))
            .args(["--config", "/nonexistent", "digest", "send", "news"])
            .env("DATABASE_URL", database)
            .env("GAZETTE__MAIL__TRANSPORT", transport)
            .env("GAZETTE__MAIL__OUTBOX_DIR", outbox)
            .env("GAZETTE__LOG__LEVEL", "warn")
            .env_remove("GAZETTE__MAIL__FROM__ADDRESS")
            .env_remove("GAZETTE__SITE__POSTAL_ADDRESS")
            .env_remove("GAZETTE_ENV")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}
