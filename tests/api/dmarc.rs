//! DMARC aggregate reports mailed to the rua address (the complaints
//! address) through the SMTP listener, as receivers mail them: Google's
//! zipped, Microsoft's gzipped. They are stored once and shown to editors
//! with the sources that fail; they change no subscriber.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gazette::users::Role;

use crate::admin::PASSWORD;
use crate::bounces::{COMPLAINTS, deliver_reports, sample, with_bounces};
use crate::helpers::{Backend, spawn_app_with};
use crate::smtp_server::SmtpServer;

/// A message whose only part is `content`, gzipped, as a report would be.
fn attached_gzip(content: &[u8]) -> String {
    use base64::Engine;
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(content).unwrap();
    let encoded = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
    format!(
        "From: someone@example.net\r\nTo: {COMPLAINTS}\r\nSubject: Report\r\n\
         MIME-Version: 1.0\r\nContent-Type: application/gzip\r\n\
         Content-Disposition: attachment; filename=\"report.xml.gz\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n"
    )
}

async fn aggregate_reports_are_stored_once_and_shown(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = spawn_app_with(backend, with_bounces(smtp.port)).await;
    let listener = app.bounce_port.expect("the bounce listener runs");
    let editor = app.editor().await;
    editor
        .newsletter_with_readers("daily", &["reader@example.net"])
        .await;
    app.add_user("admin@example.org", Role::Admin).await;
    app.log_in("admin@example.org", PASSWORD).await;
    let empty = app.get("/admin/dmarc").await.text().await.unwrap();
    assert!(empty.contains("No DMARC report yet"), "{empty}");

    // A gzipped attachment that is not a report is no report either.
    let not_a_report = attached_gzip(b"<rss><channel><title>News</title></channel></rss>");
    let answers = deliver_reports(
        listener,
        &[
            (COMPLAINTS, sample("dmarc-google")),
            (COMPLAINTS, sample("dmarc-outlook")),
            // read twice (a retry, a second copy): stored once
            (COMPLAINTS, sample("dmarc-google")),
            (COMPLAINTS, not_a_report),
        ],
    );
    assert_eq!(answers, ["ok", "ok", "ok", "ok"]);

    let reports = app.store.dmarc_reports().list(None, 10).await.unwrap();
    let mut seen: Vec<(&str, i64, i64)> = reports
        .iter()
        .map(|r| (r.org_name.as_str(), r.messages, r.dmarc_pass))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [("Enterprise Outlook", 12, 12), ("google.com", 42, 40)]
    );
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mail_events")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(events, 0, "a DMARC report is no bounce");

    let list = app.get("/admin/dmarc").await.text().await.unwrap();
    assert!(list.contains("google.com"), "{list}");
    assert!(list.contains("Enterprise Outlook"), "{list}");
    assert!(list.contains("data-passed=\"40\""), "{list}");
    assert!(list.contains("p=none"), "{list}");
    let google = reports.iter().find(|r| r.org_name == "google.com").unwrap();
    let detail = app
        .get(&format!("/admin/dmarc/{}", google.id))
        .await
        .text()
        .await
        .unwrap();
    let failing = &detail[detail.find("198.51.100.9").expect("the failing source")..];
    assert!(
        failing[..failing.find("</tr>").unwrap()].contains("data-dmarc=\"fail\""),
        "{detail}"
    );
    assert!(detail.contains("192.0.2.25"), "{detail}");
    let bounces = app.get("/admin/bounces").await.text().await.unwrap();
    assert!(bounces.contains("href=\"/admin/dmarc\""), "{bounces}");
    let missing = app.get("/admin/dmarc/999999").await;
    assert_eq!(missing.status(), reqwest::StatusCode::NOT_FOUND);
    app.stop().await;
    smtp.stop();
}

crate::both_databases!(aggregate_reports_are_stored_once_and_shown);
