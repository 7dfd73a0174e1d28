//! Importing subscribers from CSV, in the admin and with `gazette
//! subscribers import`: a wrong header refuses the file whole, every other
//! bad row is reported with its line and reason, opted-in rows are active
//! at once and get no mail, the others are pending with a confirmation
//! email through the outbox, and importing again adds nothing twice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use gazette::subscriptions::manage;
use gazette::users::Role;
use reqwest::StatusCode;
use serde_json::Value;

use crate::admin::{csrf_of, smtp_at};
use crate::cli::{gazette, text};
use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};
use crate::smtp_server::SmtpServer;

/// Line numbers matter: the report names them.
const FILE: &str = "email,name,opted_in,consented_at\n\
ann@example.org,Ann,yes,2024-03-01\n\
bob@example.org,,true,\n\
cat@example.org,Cat,no,\n\
dan@example.org,,,\n\
ANN@example.org,Ann twice,yes,\n\
not-an-address,Nobody,yes,\n\
gone@example.org,Erased,yes,\n\
short@example.org\n\
left@example.org,Left,yes,\n\
kept@example.org,Kept,yes,\n";

/// The people the file meets: an erased one, one who unsubscribed from the
/// newsletter, one already subscribed.
async fn seed(app: &TestApp) -> i64 {
    let news = app
        .store
        .newsletters()
        .by_slug("news")
        .await
        .unwrap()
        .unwrap();
    let gone =
        crate::editor::subscriber(app, "gone@example.org", "active", false, "active", news.id)
            .await;
    assert!(
        manage::erase(&app.store, &app.erased_addresses().await, gone)
            .await
            .unwrap()
    );
    crate::editor::subscriber(
        app,
        "left@example.org",
        "unsubscribed",
        false,
        "unsubscribed",
        news.id,
    )
    .await;
    crate::editor::subscriber(app, "kept@example.org", "active", false, "active", news.id).await;
    news.id
}

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(app.store.pool())
        .await
        .unwrap()
}

async fn subscription_of(app: &TestApp, email: &str) -> Option<(String, String, Option<i64>)> {
    sqlx::query_as(
        "SELECT s.status, su.status, s.confirmed_at FROM subscribers s \
         JOIN subscriptions su ON su.subscriber_id = s.id WHERE s.email_key = $1",
    )
    .bind(email)
    .fetch_optional(app.store.pool())
    .await
    .unwrap()
}

async fn active_count(app: &TestApp) -> i64 {
    count(
        app,
        "SELECT active_subscribers FROM newsletters WHERE slug = 'news'",
    )
    .await
}

/// What the rows of FILE must have become, whichever way it was imported.
async fn assert_imported(app: &TestApp) {
    let ann = subscription_of(app, "ann@example.org").await.unwrap();
    assert_eq!((ann.0.as_str(), ann.1.as_str()), ("active", "active"));
    assert_eq!(ann.2, Some(1_709_251_200_000), "consented_at kept");
    let bob = subscription_of(app, "bob@example.org").await.unwrap();
    assert_eq!((bob.0.as_str(), bob.1.as_str()), ("active", "active"));
    for pending in ["cat@example.org", "dan@example.org"] {
        let row = subscription_of(app, pending).await.unwrap();
        assert_eq!((row.0.as_str(), row.1.as_str()), ("pending", "pending"));
        assert_eq!(app.confirmation_mails(pending).await, 1, "{pending}");
    }
    for no_mail in ["ann@example.org", "bob@example.org", "kept@example.org"] {
        assert_eq!(app.confirmation_mails(no_mail).await, 0, "{no_mail}");
    }
    assert!(subscription_of(app, "gone@example.org").await.is_none());
    assert!(subscription_of(app, "short@example.org").await.is_none());
    let left = subscription_of(app, "left@example.org").await.unwrap();
    assert_eq!(
        left.1, "unsubscribed",
        "an import does not undo an unsubscribe"
    );
    let sources: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT c.source FROM consent_events c JOIN subscribers s \
         ON s.id = c.subscriber_id WHERE s.email_key IN ('ann@example.org', 'cat@example.org')",
    )
    .fetch_all(app.store.pool())
    .await
    .unwrap();
    assert_eq!(sources, vec!["import".to_string()]);
}

/// (line, code) of the rejected rows FILE must give.
const REJECTED: [(u64, &str); 5] = [
    (6, "duplicate_in_file"),
    (7, "bad_address"),
    (8, "erased"),
    (9, "missing_column"),
    (10, "unsubscribed"),
];

impl TestApp {
    pub(crate) async fn upload(
        &self,
        csrf: &str,
        newsletter: &str,
        csv: &str,
    ) -> reqwest::Response {
        let form = reqwest::multipart::Form::new()
            .text("csrf", csrf.to_string())
            .text("newsletter", newsletter.to_string())
            .part(
                "file",
                reqwest::multipart::Part::bytes(csv.as_bytes().to_vec())
                    .file_name("readers.csv")
                    .mime_str("text/csv")
                    .unwrap(),
            );
        self.client
            .post(self.url("/admin/subscribers/import"))
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// Polls the import's JSON until it is done.
    pub(crate) async fn finished_import(&self, page: &str) -> Value {
        for _ in 0..300 {
            let progress: Value = self
                .get(&format!("{page}/progress"))
                .await
                .json()
                .await
                .unwrap();
            if progress["done"] == true {
                return progress;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the import did not finish");
    }
}

async fn admin_import_reports_rejected_rows_and_mails_only_the_unconfirmed(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = spawn_app_with(backend, smtp_at(smtp.port)).await;
    seed(&app).await;
    app.add_user("editor@example.org", Role::Editor).await;
    app.log_in("editor@example.org", crate::admin::PASSWORD)
        .await;
    let form = app.get("/admin/subscribers/import").await;
    assert_eq!(form.status(), StatusCode::OK);
    let csrf = csrf_of(&form.text().await.unwrap());
    let subscribers_before = count(&app, "SELECT COUNT(*) FROM subscribers").await;

    // Without the token, or with a wrong header, nothing at all happens.
    let forged = app.upload("forged", "news", FILE).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let wrong = app
        .upload(&csrf, "news", "mail,name\nann@example.org,Ann\n")
        .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let page = wrong.text().await.unwrap();
    assert!(
        page.contains("unknown column") && page.contains("Nothing was imported"),
        "{page}"
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM subscribers").await,
        subscribers_before
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM imports").await, 0);
    // The upload may be larger than the 64 KiB other bodies are held to
    // (this one is still refused, for its header).
    let large = format!("mail\n{}", "someone@example.org\n".repeat(6000));
    assert!(large.len() > 100 * 1024);
    assert_eq!(
        app.upload(&csrf, "news", &large).await.status(),
        StatusCode::BAD_REQUEST
    );

    let started = app.upload(&csrf, "news", FILE).await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let job_page = started.headers()["location"].to_str().unwrap().to_string();
    assert!(job_page.starts_with("/admin/imports/"), "{job_page}");
    let progress = app.finished_import(&job_page).await;
    assert_eq!(progress["status"], "done");
    assert_eq!(progress["percent"], 100);
    assert_eq!(progress["total"], 10);
    assert_eq!(progress["added_active"], 2);
    assert_eq!(progress["added_pending"], 2);
    assert_eq!(progress["unchanged"], 1);
    assert_eq!(progress["rejected"], 5);

    let report = app.get(&job_page).await.text().await.unwrap();
    for (line, code) in REJECTED {
        assert!(
            report.contains(&format!("<td>{line}</td>"))
                && report.contains(&format!("data-code=\"{code}\"")),
            "line {line} {code} in the report"
        );
    }
    assert!(report.contains("the same address is on line 2"));
    let csv = app
        .get(&format!("{job_page}/rejected.csv"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 6, "{csv}");
    assert!(csv.contains("8,gone@example.org,erased,"), "{csv}");
    assert_imported(&app).await;

    // The two confirmation emails arrive through the outbox and SMTP.
    let mut received: Vec<String> = smtp
        .wait_for(2, Duration::from_secs(20))
        .await
        .iter()
        .flat_map(|m| m.to.clone())
        .collect();
    received.sort();
    assert_eq!(received, vec!["cat@example.org", "dan@example.org"]);
    assert!(smtp.received()[0].data.contains("/confirm?token="));

    // Again: nothing new, no second email.
    let again = app.upload(&csrf, "news", FILE).await;
    let again_page = again.headers()["location"].to_str().unwrap().to_string();
    let progress = app.finished_import(&again_page).await;
    assert_eq!(progress["added_active"], 0);
    assert_eq!(progress["added_pending"], 0);
    assert_eq!(progress["unchanged"], 5);
    assert_eq!(app.confirmation_mails("cat@example.org").await, 1);
    smtp.stop();
    app.stop().await;
}

async fn cli_import_reports_rejections_exits_2_and_export_prints_csv(backend: Backend) {
    let app = spawn_app(backend).await;
    seed(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong.csv");
    std::fs::write(&wrong, "address\nann@example.org\n").unwrap();
    let refused = gazette(
        &app,
        &[
            "subscribers",
            "import",
            wrong.to_str().unwrap(),
            "--newsletter",
            "news",
        ],
    )
    .await;
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(
        text(&refused.stderr).lines().count(),
        1,
        "{}",
        text(&refused.stderr)
    );
    assert!(text(&refused.stderr).contains("unknown column \"address\""));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM imports").await, 0);

    let file = dir.path().join("readers.csv");
    std::fs::write(&file, FILE).unwrap();
    let output = gazette(
        &app,
        &[
            "subscribers",
            "import",
            file.to_str().unwrap(),
            "--newsletter",
            "news",
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with("10 rows: 2 added as confirmed, 2 added pending"),
        "{stdout}"
    );
    for (line, _) in REJECTED {
        assert!(stdout.contains(&format!("line {line}: ")), "{stdout}");
    }
    assert!(
        stdout.contains("line 8: gone@example.org — erased"),
        "{stdout}"
    );
    assert!(text(&output.stderr).contains("10 of 10 rows (100 %)"));
    assert_imported(&app).await;

    // A larger clean file goes in several batches, and exits 0.
    let active_before = active_count(&app).await;
    let mut big = String::from("email,opted_in\n");
    for i in 0..1100 {
        big.push_str(&format!("reader{i}@example.net,yes\n"));
    }
    let big_file = dir.path().join("big.csv");
    std::fs::write(&big_file, big).unwrap();
    let output = gazette(
        &app,
        &[
            "subscribers",
            "import",
            big_file.to_str().unwrap(),
            "--newsletter",
            "news",
        ],
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("500 of 1100 rows"));
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM subscribers WHERE email_key LIKE 'reader%'"
        )
        .await,
        1100
    );
    assert_eq!(
        active_count(&app).await,
        active_before + 1100,
        "the counter moves with the imported rows"
    );

    let export = gazette(&app, &["subscribers", "export", "--status", "pending"]).await;
    assert!(export.status.success(), "{}", text(&export.stderr));
    let csv = text(&export.stdout);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("email,name,status,created_at,confirmed_at")
    );
    let mut emails: Vec<&str> = lines.map(|l| l.split(',').next().unwrap()).collect();
    emails.sort();
    assert_eq!(emails, vec!["cat@example.org", "dan@example.org"]);
    app.stop().await;
}

crate::both_databases!(
    admin_import_reports_rejected_rows_and_mails_only_the_unconfirmed,
    cli_import_reports_rejections_exits_2_and_export_prints_csv,
);
