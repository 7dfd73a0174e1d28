//! Signups left unconfirmed, through the form as visitors sign up: one
//! reminder after `subscriptions.reminder_after` with a fresh link that
//! confirms, never a second; removal after `subscriptions.pending_expiry`
//! with the tokens and consent records, the day's counters kept.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gazette::delivery::outbox::MailWaker;
use gazette::store::now_ms;
use gazette::subscriptions::reminders::{PassReport, pass};
use gazette::users::Role;

use crate::admin::PASSWORD;
use crate::helpers::{Backend, TestApp, newest_mail_to, spawn_app};

const HOUR_MS: i64 = 3_600_000;

/// Moves a signup (and its confirmation email) `hours` into the past.
async fn age(app: &TestApp, email: &str, hours: i64) {
    sqlx::query(
        "UPDATE subscribers SET created_at = created_at - $1, \
         last_confirmation_sent_at = last_confirmation_sent_at - $1 WHERE email_key = $2",
    )
    .bind(hours * HOUR_MS)
    .bind(email)
    .execute(app.store.pool())
    .await
    .unwrap();
}

async fn one_reminder_then_removal(backend: Backend) {
    let app = spawn_app(backend).await;
    for email in ["late@example.net", "gone@example.net", "fresh@example.net"] {
        let answer = app
            .post_form("/subscribe", &[("email", email), ("newsletter", "news")])
            .await;
        assert_eq!(answer.status(), 200);
        app.confirmation_link(email).await;
    }
    let settings = app.settings.subscriptions.clone();
    let waker = MailWaker::default();

    // Nothing is due yet.
    assert_eq!(
        pass(&app.store, &settings, &waker, now_ms()).await.unwrap(),
        PassReport::default()
    );
    age(&app, "late@example.net", 25).await;
    let report = pass(&app.store, &settings, &waker, now_ms()).await.unwrap();
    assert_eq!(
        report,
        PassReport {
            reminded: 1,
            removed: 0
        }
    );
    assert_eq!(app.confirmation_mails("late@example.net").await, 2);
    // The reminder says so, and its fresh link confirms.
    app.confirmation_link("late@example.net").await;
    let mail = newest_mail_to(&app.settings.mail.outbox_dir, "late@example.net").unwrap();
    assert!(
        mail.contains("Subject: Reminder: confirm your subscription"),
        "{mail}"
    );
    // as the confirmation page's form posts it
    assert_eq!(app.confirm("late@example.net").await.status(), 200);
    let status: String =
        sqlx::query_scalar("SELECT status FROM subscribers WHERE email_key = 'late@example.net'")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    assert_eq!(status, "active");

    // Never a second reminder, however late.
    age(&app, "gone@example.net", 25).await;
    pass(&app.store, &settings, &waker, now_ms()).await.unwrap();
    age(&app, "gone@example.net", 48).await;
    let again = pass(&app.store, &settings, &waker, now_ms()).await.unwrap();
    assert_eq!(again.reminded, 0);
    assert_eq!(app.confirmation_mails("gone@example.net").await, 2);

    // The reminder shows on the subscriber's page.
    app.add_user("admin@example.org", Role::Admin).await;
    app.log_in("admin@example.org", PASSWORD).await;
    let gone_id: i64 =
        sqlx::query_scalar("SELECT id FROM subscribers WHERE email_key = 'gone@example.net'")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    let page = app
        .get(&format!("/admin/subscribers/{gone_id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"reminded\""), "{page}");

    // Past the expiry the signup goes, with its tokens and consent rows;
    // the day's signup counter keeps it, the confirmed and fresh stay.
    let signups_before = app
        .count("SELECT CAST(COALESCE(SUM(signups), 0) AS BIGINT) FROM daily_stats")
        .await;
    assert_eq!(signups_before, 3, "the three signups are counted");
    age(&app, "gone@example.net", 31 * 24).await;
    let expired = pass(&app.store, &settings, &waker, now_ms()).await.unwrap();
    assert_eq!(expired.removed, 1);
    let left: Vec<String> =
        sqlx::query_scalar("SELECT email_key FROM subscribers ORDER BY email_key")
            .fetch_all(app.store.pool())
            .await
            .unwrap();
    assert_eq!(left, ["fresh@example.net", "late@example.net"]);
    for table in ["confirmation_tokens", "consent_events", "subscriptions"] {
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {table} WHERE subscriber_id = $1"
        )))
        .bind(gone_id)
        .fetch_one(app.store.pool())
        .await
        .unwrap();
        assert_eq!(rows, 0, "{table}");
    }
    assert_eq!(
        app.count("SELECT CAST(COALESCE(SUM(signups), 0) AS BIGINT) FROM daily_stats")
            .await,
        signups_before
    );
    app.stop().await;
}

crate::both_databases!(one_reminder_then_removal);
