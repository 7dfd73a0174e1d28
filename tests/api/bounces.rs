//! Bounces and complaints after the relay said yes, end to end on both
//! databases: an issue goes out through a real SMTP server with a VERP
//! Return-Path per message; real reports (a DSN made by Debian's Postfix,
//! flufl.bounce's samples, an ARF complaint, an auto-reply) come back to
//! Gazette's SMTP listener through Python's smtplib, as an MTA delivers
//! them; the next issue skips whom they suppressed, and the counts on the
//! issue agree.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use gazette::config::{ImapSettings, ImapTls, Settings};
use serde_json::{Value, json};
use sqlx::Row;

use crate::admin::{PASSWORD, csrf_of};
use crate::editor::Editor;
use crate::helpers::{Backend, TestApp, spawn_app_with};
use crate::imap_server::{self, ImapServer};
use crate::smtp_server::{ReceivedMail, SmtpServer};
use crate::subscriptions::mime_part;
use gazette::users::Role;

const WAIT: Duration = Duration::from_secs(20);
const BOUNCE_DOMAIN: &str = "bounces.example.org";
pub(crate) const COMPLAINTS: &str = "fbl@bounces.example.org";

pub(crate) fn with_bounces(smtp_port: u16) -> impl FnOnce(&mut Settings) {
    move |s: &mut Settings| {
        crate::helpers::send_through_smtp(s, smtp_port);
        s.mail.bounce_threshold = 1;
        s.mail.bounce.domain = Some(BOUNCE_DOMAIN.into());
        s.mail.bounce.listen = Some("127.0.0.1:0".into());
        s.mail.bounce.complaints_address = Some(COMPLAINTS.into());
    }
}

pub(crate) fn sample(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/api/fixtures/bounces")
        .join(format!("{name}.eml"));
    String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned()
}

/// Hands each `(recipient, message)` to the listener with Python's
/// smtplib from the null sender, as an MTA returns a bounce; one line per
/// message: `ok` or the refusal's code.
pub(crate) fn deliver_reports(port: u16, reports: &[(&str, String)]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![port.to_string()];
    for (n, (recipient, message)) in reports.iter().enumerate() {
        let file = dir.path().join(format!("{n}.eml"));
        std::fs::write(&file, message).unwrap();
        args.push((*recipient).to_string());
        args.push(file.display().to_string());
    }
    let script = r#"
import smtplib, sys
port = int(sys.argv[1])
pairs = sys.argv[2:]
with smtplib.SMTP("127.0.0.1", port, timeout=20) as smtp:
    smtp.ehlo("mx.example.net")
    for i in range(0, len(pairs), 2):
        rcpt, path = pairs[i], pairs[i + 1]
        data = open(path, "rb").read()
        try:
            smtp.sendmail("", [rcpt], data)
            print("ok")
        except smtplib.SMTPRecipientsRefused as e:
            print("refused", list(e.recipients.values())[0][0])
        except smtplib.SMTPResponseException as e:
            print("error", e.smtp_code)
"#;
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(&args)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "smtplib failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// The Return-Path each recipient's message went out with.
fn return_path_of<'a>(mails: &'a [ReceivedMail], recipient: &str) -> &'a str {
    let mail = mails
        .iter()
        .find(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(recipient)))
        .unwrap_or_else(|| panic!("no message to {recipient}"));
    &mail.from
}

async fn issue(editor: &Editor<'_>, id: i64) -> Value {
    editor.get(&format!("/api/issues/{id}")).await.body
}

async fn subscriber_state(app: &TestApp, id: i64) -> (String, i64, Option<i64>) {
    let row =
        sqlx::query("SELECT status, hard_bounces, suppressed_at FROM subscribers WHERE id = $1")
            .bind(id)
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    (
        row.get("status"),
        row.get("hard_bounces"),
        row.get("suppressed_at"),
    )
}

async fn send_issue(
    editor: &Editor<'_>,
    smtp: &SmtpServer,
    expected_total: usize,
) -> (i64, Vec<ReceivedMail>) {
    let before = smtp.received_count();
    let answer = editor
        .post("/api/newsletters/daily/issues", &json!({"send": true}))
        .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let mails = smtp.wait_for(before + expected_total, WAIT).await;
    (
        answer.body["id"].as_i64().unwrap(),
        mails[before..].to_vec(),
    )
}

async fn reports_after_the_relay_said_yes(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = spawn_app_with(backend, with_bounces(smtp.port)).await;
    let listener = app.bounce_port.expect("the bounce listener runs");
    let editor = app.editor().await;
    let readers = editor
        .newsletter_with_readers(
            "daily",
            &[
                "gone@example.net",
                "full@example.net",
                "reader@example.net",
                "away@example.net",
                "fine@example.net",
            ],
        )
        .await;
    let [gone, full, angry, away, _fine] = readers[..] else {
        unreachable!()
    };
    editor.story("first", "First story", 10, &[]).await;
    let (issue_id, mails) = send_issue(&editor, &smtp, 5).await;

    // Every message's envelope sender names its delivery.
    for mail in &mails {
        let (local, domain) = mail.from.split_once('@').unwrap();
        assert_eq!(domain, BOUNCE_DOMAIN, "{}", mail.from);
        let tag = local.strip_prefix("bounces+").expect("a VERP address");
        let (id, mac) = tag.split_once('.').unwrap();
        assert!(id.parse::<i64>().is_ok(), "{}", mail.from);
        assert_eq!(mac.len(), 12, "{}", mail.from);
        assert!(mac.bytes().all(|b| b.is_ascii_hexdigit()), "{}", mail.from);
    }
    let verp_gone = return_path_of(&mails, "gone@example.net").to_string();
    let verp_full = return_path_of(&mails, "full@example.net").to_string();
    let verp_angry = return_path_of(&mails, "reader@example.net").to_string();
    let verp_away = return_path_of(&mails, "away@example.net").to_string();
    assert_ne!(verp_gone, verp_full);

    // The ARF sample names a Return-Path of its own: ours goes in its place.
    let complaint =
        sample("arf-abuse").replace("bounces+42.abcdef123456@bounces.example.org", &verp_angry);
    let forged = verp_gone.replacen("bounces+", "bounces+9", 1);
    let answers = deliver_reports(
        listener,
        &[
            (&verp_gone, sample("postfix-unknown-user")),
            (&verp_full, sample("flufl-dsn_05")),
            (COMPLAINTS, complaint),
            (&verp_away, sample("vacation-reply")),
            (&forged, sample("postfix-unknown-user")),
            ("postmaster@example.org", sample("postfix-unknown-user")),
            // A forged complaint naming a reader, with no trace of a
            // message of ours: taken, and believed about nobody.
            (
                COMPLAINTS,
                sample("arf-abuse").replace("reader@example.net", "away@example.net"),
            ),
            // The same bounce again (a retry, a second copy): no change.
            (&verp_gone, sample("postfix-unknown-user")),
        ],
    );
    assert_eq!(
        answers,
        [
            "ok",
            "ok",
            "ok",
            "ok",
            "refused 550",
            "refused 550",
            "ok",
            "ok"
        ],
        "the listener's answers"
    );

    // A hard bounce at a threshold of one: bounced, nothing more.
    let (status, hard, _) = subscriber_state(&app, gone).await;
    assert_eq!((status.as_str(), hard), ("bounced", 1));
    // A soft bounce only marks the delivery.
    let (status, hard, _) = subscriber_state(&app, full).await;
    assert_eq!((status.as_str(), hard), ("active", 0));
    // A complaint unsubscribes from every newsletter and suppresses.
    let (status, _, suppressed) = subscriber_state(&app, angry).await;
    assert_eq!(status, "unsubscribed");
    assert!(suppressed.is_some());
    // An auto-reply is no bounce, and the forged complaint named nobody.
    assert_eq!(subscriber_state(&app, away).await.0, "active");

    let shown = issue(&editor, issue_id).await;
    assert_eq!(shown["bounced"], 1, "{shown}");
    assert_eq!(shown["complained"], 1, "{shown}");
    let events = app
        .store
        .mail_events()
        .list(Default::default(), 50)
        .await
        .unwrap();
    let mut kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["complaint", "hard_bounce", "soft_bounce"]);
    let hard = events
        .iter()
        .find(|e| e.subscriber_id == Some(gone))
        .unwrap();
    assert_eq!(hard.status_code.as_deref(), Some("5.1.1"));
    assert_eq!(hard.source.as_str(), "smtp");
    let (_, raw) = app
        .store
        .mail_events()
        .by_id(hard.id)
        .await
        .unwrap()
        .unwrap();
    assert!(raw.contains("Undelivered Mail Returned to Sender"), "{raw}");

    // What editors see: the events with their reasons and raw reports,
    // the rates beside the providers' lines, the counts on the issue.
    app.add_user("editor@example.org", Role::Editor).await;
    app.log_in("editor@example.org", PASSWORD).await;
    let page = app.get("/admin/bounces").await.text().await.unwrap();
    for needed in [
        "hard bounce",
        "soft bounce",
        "complaint",
        "5.1.1",
        "4.4.1",
        "abuse report from",
        "gone@example.net",
    ] {
        assert!(page.contains(needed), "{needed} on the Bounces page");
    }
    assert!(page.contains("20.00 %"), "1 bounce of 5 digests: {page}");
    let raw_page = app
        .get(&format!("/admin/bounces/{}", hard.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(raw_page.contains("Undelivered Mail Returned to Sender"));
    let dashboard = app.get("/admin").await.text().await.unwrap();
    assert!(dashboard.contains("complaint rate"), "{dashboard}");
    assert!(
        dashboard.contains("card warn"),
        "20 % complaints is above the line"
    );
    let issue_page = app
        .get(&format!("/admin/issues/{issue_id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        issue_page.contains("1 bounced, 1 complaints"),
        "{issue_page}"
    );
    let reader_page = app
        .get(&format!("/admin/subscribers/{angry}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(reader_page.contains("Suppressed since"));
    assert!(reader_page.contains("abuse report from"));

    // An import cannot bring a complainer back.
    let form = app
        .get("/admin/subscribers/import")
        .await
        .text()
        .await
        .unwrap();
    let started = app
        .upload(
            &csrf_of(&form),
            "daily",
            "email,opted_in\nREADER@example.net,yes\n",
        )
        .await;
    let job_page = started.headers()["location"].to_str().unwrap().to_string();
    let progress = app.finished_import(&job_page).await;
    assert_eq!(progress["rejected"], 1, "{progress}");
    let report = app.get(&job_page).await.text().await.unwrap();
    assert!(report.contains("data-code=\"complained\""), "{report}");

    // The next issue reaches only those still receiving.
    editor.story("second", "Second story", 0, &[]).await;
    let (_, next) = send_issue(&editor, &smtp, 3).await;
    let mut recipients: Vec<String> = next.iter().flat_map(|m| m.to.clone()).collect();
    recipients.sort();
    assert_eq!(
        recipients,
        ["away@example.net", "fine@example.net", "full@example.net"]
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.received_count(), 8, "nothing more went out");

    // Only a new confirmed signup lifts the suppression.
    let signup = app
        .post_json(
            "/api/subscriptions",
            &json!({"email": "reader@example.net", "newsletters": ["daily"]}),
        )
        .await;
    assert_eq!(signup.status(), 202);
    let mails = smtp.wait_for(9, WAIT).await;
    assert!(
        subscriber_state(&app, angry).await.2.is_some(),
        "still suppressed while pending"
    );
    let text = mime_part(&mails[8].data, "text/plain").unwrap();
    let token = text
        .split("token=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let confirmed = app
        .client
        .post(app.url("/confirm"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 200);
    let (status, _, suppressed) = subscriber_state(&app, angry).await;
    assert_eq!((status.as_str(), suppressed), ("active", None));
    app.stop().await;
    smtp.stop();
}

/// The same reports from a mailbox Gazette polls (a real Dovecot): the
/// reports about its messages are processed and deleted, the rest stays
/// for a person, flagged so it is not read again.
async fn reports_from_a_polled_mailbox(backend: Backend) {
    let imap = ImapServer::start().await;
    let smtp = SmtpServer::start().await;
    let imap_port = imap.port;
    let app = spawn_app_with(backend, move |s| {
        with_bounces(smtp.port)(s);
        s.mail.bounce.listen = None;
        s.mail.bounce.imap = Some(ImapSettings {
            host: "127.0.0.1".into(),
            port: imap_port,
            tls: ImapTls::None,
            username: imap_server::USER.into(),
            password: imap_server::PASSWORD.to_string().into(),
            mailbox: "INBOX".into(),
            poll_secs: 1,
        });
    })
    .await;
    let editor = app.editor().await;
    let readers = editor
        .newsletter_with_readers(
            "daily",
            &[
                "gone@example.net",
                "full@example.net",
                "reader@example.net",
                "away@example.net",
            ],
        )
        .await;
    let [gone, full, angry, away] = readers[..] else {
        unreachable!()
    };
    editor.story("first", "First story", 10, &[]).await;
    let (issue_id, mails) = send_issue(&editor, &smtp, 4).await;
    // As a mail host delivers them: the VERP address is the recipient.
    let to = |sample_text: String, address: &str| {
        sample_text
            .replace("gzsender@localhost", return_path_of(&mails, address))
            .replace(
                "bounces+42.abcdef123456@bounces.example.org",
                return_path_of(&mails, address),
            )
    };
    let vacation = to(sample("vacation-reply"), "away@example.net");
    let delayed = format!(
        "Delivered-To: {}\n{}",
        return_path_of(&mails, "full@example.net"),
        sample("flufl-dsn_05").split_once('\n').unwrap().1
    );
    imap.append(&[
        to(sample("postfix-unknown-user"), "gone@example.net"),
        delayed,
        to(sample("arf-abuse"), "reader@example.net"),
        vacation,
        sample("dmarc-outlook"),
    ]);
    let deadline = std::time::Instant::now() + WAIT;
    while app
        .store
        .mail_events()
        .list(Default::default(), 10)
        .await
        .unwrap()
        .len()
        < 3
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the mailbox was not read"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The next poll has deleted the four reports; the reply stays, flagged.
    let deadline = std::time::Instant::now() + WAIT;
    let left = loop {
        let left = imap.inbox();
        if left.len() == 1 && left[0].1.contains("$GazetteKept") {
            break left;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "left in the mailbox: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(left[0].0.contains("Out of office"), "{left:?}");
    assert!(
        !left[0].1.contains("\\Seen"),
        "a person still sees it as new: {left:?}"
    );
    assert_eq!(subscriber_state(&app, gone).await.0, "bounced");
    assert_eq!(subscriber_state(&app, full).await.0, "active");
    assert_eq!(subscriber_state(&app, angry).await.0, "unsubscribed");
    assert_eq!(subscriber_state(&app, away).await.0, "active");
    let shown = issue(&editor, issue_id).await;
    assert_eq!(
        (shown["bounced"].as_i64(), shown["complained"].as_i64()),
        (Some(1), Some(1))
    );
    let sources: Vec<String> = sqlx::query_scalar("SELECT DISTINCT source FROM mail_events")
        .fetch_all(app.store.pool())
        .await
        .unwrap();
    assert_eq!(sources, ["imap"]);
    let dmarc = app.store.dmarc_reports().list(None, 10).await.unwrap();
    assert_eq!(dmarc.len(), 1, "{dmarc:?}");
    assert_eq!((dmarc[0].messages, dmarc[0].source.as_str()), (12, "imap"));
    app.stop().await;
    smtp.stop();
}

crate::both_databases!(
    reports_after_the_relay_said_yes,
    reports_from_a_polled_mailbox
);
