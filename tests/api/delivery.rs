//! The delivery engine against a real SMTP server on loopback: messages
//! arrive whole with their headers and both parts, DKIM signatures verify
//! with an independent implementation (Python's dkimpy), 4xx replies and
//! dropped connections are retried, 5xx replies fail and count bounces,
//! and two instances never send a row twice. A process killed half-way
//! (SIGKILL) is tested on both databases in the fault suite,
//! `tests/faults/killed_sender.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gazette::config::{DkimSettings, MailTransportKind, Settings, SmtpTls};
use gazette::delivery::dkim::DkimSigner;
use gazette::delivery::outbox::{MailBody, OneOffMail};
use gazette::startup::Application;
use gazette::store::{Store, now_ms};
use sqlx::Row;

use crate::helpers::{Backend, TestApp, spawn_app_with, test_settings};
use crate::smtp_server::{ReceivedMail, Reply, SmtpServer};

const WAIT: Duration = Duration::from_secs(15);

fn smtp_to(server: &SmtpServer) -> impl FnOnce(&mut Settings) + use<> {
    let port = server.port;
    move |s: &mut Settings| use_smtp(s, port)
}

fn use_smtp(s: &mut Settings, port: u16) {
    s.mail.transport = MailTransportKind::Smtp;
    s.mail.smtp.host = "127.0.0.1".into();
    s.mail.smtp.port = port;
    s.mail.smtp.tls = SmtpTls::None;
    s.mail.retry_base_ms = 100;
    s.mail.rate_per_second = 10_000;
    s.mail.reply_to = Some("desk@example.org".into());
    s.mail.unsubscribe_mailto = Some("leave@example.org".into());
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/api/fixtures")
        .join(name)
}

/// A newsletter with one issue of `stories` stories, and one active
/// subscriber per `(address, name)`, each with a pending digest row.
struct Digest {
    issue_id: i64,
    subscribers: Vec<i64>,
}

impl TestApp {
    async fn enqueue_one_off_mail(&self, recipient: &str, subscriber_id: Option<i64>) -> i64 {
        let mut tx = self.store.begin_write().await.unwrap();
        let id = tx.outbox()
            .enqueue(
                &OneOffMail {
                kind: gazette::subscriptions::signup::CONFIRMATION,
                subscriber_id,
                recipient,
                body: MailBody::Rendered {
                    subject: "Please confirm",
                    html: "<p>Click <a href=\"https://x.org/confirm?token=secret\">here</a></p>",
                    text: "Open https://x.org/confirm?token=secret",
                },
            },
                now_ms(),
            )
            .await
        .unwrap();
        tx.commit().await.unwrap();
        id
    }

    async fn seed_digest_issue(
        &self,
        recipients: &[(&str, Option<&str>)],
        stories: usize,
    ) -> Digest {
        seed_digest(&self.store, recipients, stories, now_ms()).await
    }

    async fn delivery_row(&self, id: i64) -> (String, i64, Option<String>, Option<String>) {
        let row = sqlx::query(
            "SELECT status, attempts, last_error, html_body FROM deliveries WHERE id = $1",
        )
        .bind(id)
        .fetch_one(self.store.pool())
        .await
        .unwrap();
        (
            row.get("status"),
            row.get("attempts"),
            row.get("last_error"),
            row.get("html_body"),
        )
    }

    /// Waits until the row reaches `status`.
    async fn wait_delivery_status(&self, id: i64, status: &str) -> (String, i64, Option<String>) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (current, attempts, error, _) = self.delivery_row(id).await;
            if current == status {
                return (current, attempts, error);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "delivery {id} stayed {current} (attempts {attempts}, error {error:?})"
            );
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    async fn bounce_state(&self, id: i64) -> (String, i64) {
        let row = sqlx::query("SELECT status, hard_bounces FROM subscribers WHERE id = $1")
            .bind(id)
            .fetch_one(self.store.pool())
            .await
            .unwrap();
        (row.get("status"), row.get("hard_bounces"))
    }
}

/// Digest rows become due at `due_at`.
async fn seed_digest(
    store: &Store,
    recipients: &[(&str, Option<&str>)],
    stories: usize,
    due_at: i64,
) -> Digest {
    let pool = store.pool();
    let now = now_ms();
    let newsletter: i64 = sqlx::query_scalar(
        "INSERT INTO newsletters (slug, name, locale, sender_name, reply_to, created_at, updated_at) \
         VALUES ('morning', 'Morning Brief', 'en', 'The Morning Desk', 'morning@example.org', $1, $1) \
         RETURNING id",
    )
    .bind(now)
    .fetch_one(pool)
    .await
    .unwrap();
    let issue_id: i64 = sqlx::query_scalar(
        "INSERT INTO issues (newsletter_id, status, subject, preheader, intro, created_at, updated_at) \
         VALUES ($1, 'sending', 'Your morning news', 'Five things', 'Good morning.', $2, $2) RETURNING id",
    )
    .bind(newsletter)
    .bind(now)
    .fetch_one(pool)
    .await
    .unwrap();
    for n in 0..stories {
        let story: i64 = sqlx::query_scalar(
            "INSERT INTO stories (url, title, summary, published_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4, $4) RETURNING id",
        )
        .bind(format!("https://news.example.org/story-{n}"))
        .bind(format!("Story number {n}"))
        .bind("A summary of the story that is long enough to look like one. ".repeat(8))
        .bind(now)
        .fetch_one(pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO issue_stories (issue_id, newsletter_id, story_id, position) VALUES ($1, $2, $3, $4)",
        )
        .bind(issue_id)
        .bind(newsletter)
        .bind(story)
        .bind(n as i64)
        .execute(pool)
        .await
        .unwrap();
    }
    let mut subscribers = Vec::new();
    for (address, name) in recipients {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO subscribers (email, email_key, name, status, created_at, confirmed_at, updated_at) \
             VALUES ($1, $1, $2, 'active', $3, $3, $3) RETURNING id",
        )
        .bind(*address)
        .bind(*name)
        .bind(now)
        .fetch_one(pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO subscriptions (subscriber_id, newsletter_id, status, created_at, updated_at) \
             VALUES ($1, $2, 'active', $3, $3)",
        )
        .bind(id)
        .bind(newsletter)
        .bind(now)
        .execute(pool)
        .await
        .unwrap();
        subscribers.push(id);
    }
    sqlx::query(
        "INSERT INTO deliveries (kind, issue_id, subscriber_id, recipient, status, attempts, next_attempt_at, created_at) \
         SELECT 'digest', $1, s.id, s.email, 'pending', 0, $2, $3 FROM subscribers s \
         JOIN subscriptions x ON x.subscriber_id = s.id WHERE x.newsletter_id = $4",
    )
    .bind(issue_id)
    .bind(due_at)
    .bind(now)
    .bind(newsletter)
    .execute(pool)
    .await
    .unwrap();
    Digest {
        issue_id,
        subscribers,
    }
}

/// The decoded text of the MIME part whose Content-Type starts with `kind`.
fn part(mail: &ReceivedMail, kind: &str) -> String {
    crate::subscriptions::mime_part(&mail.data, kind)
        .unwrap_or_else(|| panic!("no {kind} part in\n{}", mail.data))
}

async fn one_off_mail_arrives_whole(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = spawn_app_with(backend, smtp_to(&smtp)).await;
    let id = app.enqueue_one_off_mail("ann@example.net", None).await;
    let mail = smtp.wait_for(1, WAIT).await.remove(0);
    assert_eq!(mail.to, vec!["ann@example.net".to_string()]);
    assert_eq!(mail.from, "newsletter@example.org");
    let message_id = mail.header("Message-ID").unwrap();
    assert!(
        message_id.starts_with('<') && message_id.ends_with("@example.org>"),
        "{message_id}"
    );
    assert!(mail.header("Date").is_some());
    assert_eq!(
        mail.header("From").unwrap(),
        "Gazette <newsletter@example.org>"
    );
    assert_eq!(mail.header("To").unwrap(), "ann@example.net");
    assert_eq!(mail.header("Reply-To").unwrap(), "desk@example.org");
    assert_eq!(mail.header("Subject").unwrap(), "Please confirm");
    assert!(
        mail.header("Content-Type")
            .unwrap()
            .starts_with("multipart/alternative")
    );
    assert!(part(&mail, "text/plain").contains("Open https://x.org/confirm?token=secret"));
    assert!(part(&mail, "text/html").contains("<a href=\"https://x.org/confirm?token=secret\">"));
    // only newsletter mail carries list headers
    assert!(mail.header("List-Unsubscribe").is_none());
    let (status, attempts, _) = app.wait_delivery_status(id, "sent").await;
    assert_eq!((status.as_str(), attempts), ("sent", 1));
    // the body held a token: it is gone once sent
    assert_eq!(app.delivery_row(id).await.3, None);
    app.stop().await;
}

/// A confirmation is rendered by the sender from the data its row keeps;
/// data it cannot read fails that row with the reason and nothing else.
async fn confirmation_rows_are_rendered_at_send_and_unreadable_data_fails_alone(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = spawn_app_with(backend, smtp_to(&smtp)).await;
    let mut tx = app.store.begin_write().await.unwrap();
    let mut ids = Vec::new();
    for (recipient, data) in [
        ("broken@example.net", "{\"token\": 7}"),
        (
            "fine@example.net",
            r#"{"token":"tok-123","locale":"fr","newsletters":["Le Matin"],"name":"Zoé"}"#,
        ),
    ] {
        let id = tx
            .outbox()
            .enqueue(
                &OneOffMail {
                    kind: gazette::subscriptions::signup::CONFIRMATION,
                    subscriber_id: None,
                    recipient,
                    body: MailBody::Data(data),
                },
                now_ms(),
            )
            .await
            .unwrap();
        ids.push(id);
    }
    tx.commit().await.unwrap();
    let (_, _, error) = app.wait_delivery_status(ids[0], "failed").await;
    let error = error.unwrap_or_default();
    assert!(error.starts_with("unreadable confirmation data"), "{error}");
    app.wait_delivery_status(ids[1], "sent").await;
    let mail = smtp.wait_for(1, WAIT).await.remove(0);
    assert_eq!(mail.to, vec!["fine@example.net".to_string()]);
    let text = part(&mail, "text/plain");
    let link = format!("{}/confirm?token=tok-123", app.settings.base_url());
    assert!(text.contains(&link), "{text}");
    assert!(part(&mail, "text/html").contains("Le Matin"));
    for id in ids {
        let data: Option<String> =
            sqlx::query_scalar("SELECT template_data FROM deliveries WHERE id = $1")
                .bind(id)
                .fetch_one(app.store.pool())
                .await
                .unwrap();
        assert_eq!(data, None, "the token is erased with the row's content");
    }
    app.stop().await;
}

async fn digest_row_is_rendered_per_recipient_with_list_headers(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = spawn_app_with(backend, smtp_to(&smtp)).await;
    let digest = app
        .seed_digest_issue(
            &[("ann@example.net", Some("Ann")), ("bob@example.net", None)],
            3,
        )
        .await;
    let mut received = smtp.wait_for(2, WAIT).await;
    received.sort_by(|a, b| a.to.cmp(&b.to));
    let ann = &received[0];
    assert_eq!(ann.to, vec!["ann@example.net".to_string()]);
    assert_eq!(ann.header("Subject").unwrap(), "Your morning news");
    assert_eq!(
        ann.header("From").unwrap(),
        "\"The Morning Desk\" <newsletter@example.org>"
    );
    assert_eq!(ann.header("Reply-To").unwrap(), "morning@example.org");
    assert_eq!(
        ann.header("List-Id").unwrap(),
        "Morning Brief <morning.example.org>"
    );
    let unsubscribe = format!(
        "<{}/unsubscribe?token=",
        app.settings.base_url().trim_end_matches('/')
    );
    let list_unsubscribe = ann.header("List-Unsubscribe").unwrap();
    assert!(
        list_unsubscribe.starts_with(&unsubscribe),
        "{list_unsubscribe}"
    );
    assert!(
        list_unsubscribe.ends_with(", <mailto:leave@example.org?subject=unsubscribe>"),
        "{list_unsubscribe}"
    );
    assert_eq!(
        ann.header("List-Unsubscribe-Post").unwrap(),
        "List-Unsubscribe=One-Click"
    );
    let text = part(ann, "text/plain");
    assert!(text.contains("Ann"), "{text}");
    assert!(text.contains("Story number 2"), "{text}");
    let html = part(ann, "text/html");
    assert!(html.contains("Story number 0"));
    assert!(html.contains("/unsubscribe?token="));
    // each recipient gets their own link
    let bob_unsubscribe = received[1].header("List-Unsubscribe").unwrap();
    assert_ne!(bob_unsubscribe, list_unsubscribe);
    let token = list_unsubscribe
        .split("token=")
        .nth(1)
        .unwrap()
        .split('>')
        .next()
        .unwrap()
        .to_string();
    assert!(html.contains(&token), "the HTML carries Ann's own link");
    let counts = app
        .store
        .deliveries()
        .progress(digest.issue_id)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut counts = counts;
    while counts.sent < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(30)).await;
        counts = app
            .store
            .deliveries()
            .progress(digest.issue_id)
            .await
            .unwrap();
    }
    assert_eq!((counts.total, counts.sent, counts.pending), (2, 2, 0));
    assert_eq!(digest.subscribers.len(), 2);
    app.stop().await;
}

async fn digest_rows_of_unsubscribed_readers_are_cancelled(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = spawn_app_with(backend, smtp_to(&smtp)).await;
    let later = now_ms() + 3_600_000;
    let digest = seed_digest(
        &app.store,
        &[("stay@example.net", None), ("gone@example.net", None)],
        1,
        later,
    )
    .await;
    sqlx::query("UPDATE subscriptions SET status = 'unsubscribed' WHERE subscriber_id = $1")
        .bind(digest.subscribers[1])
        .execute(app.store.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE deliveries SET next_attempt_at = $1")
        .bind(now_ms())
        .execute(app.store.pool())
        .await
        .unwrap();
    smtp.wait_for(1, WAIT).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let counts = app
            .store
            .deliveries()
            .progress(digest.issue_id)
            .await
            .unwrap();
        if counts.sent == 1 && counts.cancelled == 1 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{counts:?}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(smtp.received().len(), 1);
    assert_eq!(smtp.received()[0].to, vec!["stay@example.net".to_string()]);
    app.stop().await;
}

fn dkim_verifies(message: &[u8], txt_record: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("message.eml");
    std::fs::write(&path, message).unwrap();
    let script = "import sys, dkim\n\
        msg = open(sys.argv[1], 'rb').read()\n\
        record = sys.argv[2].encode()\n\
        ok = dkim.verify(msg, dnsfunc=lambda name, timeout=5: record)\n\
        print('verified' if ok else 'signature does not verify')\n\
        sys.exit(0 if ok else 1)\n";
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&path)
        .arg(txt_record)
        .output()
        .expect("python3 runs (.ci/run installs dkimpy)");
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

async fn dkim_signature_verifies_for_rsa_and_ed25519_keys(backend: Backend) {
    for key in [
        "dkim-rsa-pkcs1.pem",
        "dkim-rsa-pkcs8.pem",
        "dkim-ed25519.pem",
    ] {
        let smtp = SmtpServer::start().await;
        let dkim = DkimSettings {
            domain: "example.org".into(),
            selector: "gazette".into(),
            private_key_path: fixture(key),
        };
        let txt = DkimSigner::load(&dkim).unwrap().dns_txt_record();
        let app = spawn_app_with(backend, |s| {
            use_smtp(s, smtp.port);
            s.mail.dkim = Some(dkim);
        })
        .await;
        app.seed_digest_issue(&[("ann@example.net", Some("Ann"))], 2)
            .await;
        let mail = smtp.wait_for(1, WAIT).await.remove(0);
        let signature = mail.header("DKIM-Signature").expect("signed");
        for header in [
            "from",
            "to",
            "subject",
            "date",
            "message-id",
            "list-id",
            "list-unsubscribe",
            "list-unsubscribe-post",
        ] {
            assert!(
                signature.replace(' ', "").contains(header),
                "{key}: h= lacks {header}: {signature}"
            );
        }
        dkim_verifies(mail.data.as_bytes(), &txt)
            .unwrap_or_else(|e| panic!("{key}: {e}\n{}", mail.data));
        // a changed body no longer verifies: the check can fail
        let tampered = mail.data.replace("Story number 1", "Story number 9");
        assert!(dkim_verifies(tampered.as_bytes(), &txt).is_err(), "{key}");
        app.stop().await;
    }
}

async fn a_bad_dkim_key_stops_the_start_with_one_line(backend: Backend) {
    let db = crate::helpers::TestDb::create(backend).await;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut settings = test_settings(&db, listener.local_addr().unwrap().port());
    settings.mail.dkim = Some(DkimSettings {
        domain: "example.org".into(),
        selector: "gazette".into(),
        private_key_path: fixture("../smtp_server.rs"),
    });
    let error = match Application::build_on(settings, listener).await {
        Ok(_) => panic!("started with a bad key"),
        Err(error) => error.to_string(),
    };
    assert!(error.contains("mail.dkim.private_key_path"), "{error}");
    assert!(!error.contains('\n'), "{error}");
}

async fn temporary_failure_then_success_delivers_once(backend: Backend) {
    let smtp = SmtpServer::start().await;
    smtp.then(&[Reply::TempFail]);
    let app = spawn_app_with(backend, smtp_to(&smtp)).await;
    let id = app.enqueue_one_off_mail("ann@example.net", None).await;
    let (_, attempts, _) = app.wait_delivery_status(id, "sent").await;
    assert_eq!(attempts, 2, "one 451, then the 250");
    assert_eq!(smtp.received().len(), 1);
    assert_eq!(smtp.data_attempts(), 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.received().len(), 1, "delivered exactly once");
    app.stop().await;
}

async fn permanent_failure_keeps_reply_and_bounces_at_threshold(backend: Backend) {
    let smtp = SmtpServer::start().await;
    smtp.on_recipient("dead@", Reply::PermFail);
    let app = spawn_app_with(backend, |s| {
        use_smtp(s, smtp.port);
        s.mail.bounce_threshold = 2;
    })
    .await;
    // a digest row not yet due: it must be cancelled when the reader bounces
    let later = now_ms() + 3_600_000;
    let digest = seed_digest(&app.store, &[("dead@example.net", None)], 1, later).await;
    let subscriber = digest.subscribers[0];
    let first = app
        .enqueue_one_off_mail("dead@example.net", Some(subscriber))
        .await;
    let (_, attempts, error) = app.wait_delivery_status(first, "failed").await;
    assert_eq!(attempts, 1, "a 5xx is not retried");
    let error = error.unwrap();
    assert!(
        error.contains("550") && error.contains("mailbox unavailable"),
        "{error}"
    );
    assert_eq!(app.bounce_state(subscriber).await, ("active".into(), 1));
    let again = app
        .enqueue_one_off_mail("dead@example.net", Some(subscriber))
        .await;
    app.wait_delivery_status(again, "failed").await;
    assert_eq!(app.bounce_state(subscriber).await, ("bounced".into(), 2));
    let digest_row: String =
        sqlx::query_scalar("SELECT status FROM deliveries WHERE issue_id = $1")
            .bind(digest.issue_id)
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    assert_eq!(digest_row, "cancelled");
    assert!(smtp.received().is_empty());
    app.stop().await;
}

async fn connection_dropped_during_data_is_retried_and_delivered(backend: Backend) {
    let smtp = SmtpServer::start().await;
    smtp.then(&[Reply::DropDuringData, Reply::DropDuringData]);
    let app = spawn_app_with(backend, smtp_to(&smtp)).await;
    let id = app.enqueue_one_off_mail("ann@example.net", None).await;
    app.wait_delivery_status(id, "sent").await;
    assert_eq!(smtp.data_attempts(), 3);
    assert_eq!(smtp.received().len(), 1);
    app.stop().await;
}

/// A server that does not offer PIPELINING gets each command in its turn,
/// and its replies mean what they do on a pipelining server.
async fn a_server_without_pipelining_gets_one_command_at_a_time(backend: Backend) {
    let smtp = SmtpServer::start().await;
    smtp.without_pipelining();
    smtp.on_recipient("dead@", Reply::PermFail);
    smtp.then(&[Reply::TempFail]);
    let app = spawn_app_with(backend, smtp_to(&smtp)).await;
    let retried = app.enqueue_one_off_mail("ann@example.net", None).await;
    let (_, attempts, _) = app.wait_delivery_status(retried, "sent").await;
    assert_eq!(attempts, 2, "one 451 after DATA, then the 250");
    let refused = app.enqueue_one_off_mail("dead@example.net", None).await;
    let (_, _, error) = app.wait_delivery_status(refused, "failed").await;
    assert!(error.unwrap().contains("550"), "the RCPT reply is kept");
    let after = app.enqueue_one_off_mail("bob@example.net", None).await;
    app.wait_delivery_status(after, "sent").await;
    let received = smtp.received();
    let recipients: Vec<&str> = received.iter().map(|m| m.to[0].as_str()).collect();
    assert_eq!(recipients, ["ann@example.net", "bob@example.net"]);
    assert!(received.iter().all(|m| m.data.contains("Subject: ")));
    assert_eq!(smtp.pipelined_unasked(), 0, "no command ahead of its turn");
    app.stop().await;
}

async fn file_transport_writes_a_parseable_eml(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.mail.transport = MailTransportKind::File;
    })
    .await;
    app.seed_digest_issue(&[("ann@example.net", Some("Ann"))], 2)
        .await;
    let dir = app.settings.mail.outbox_dir.clone();
    let deadline = tokio::time::Instant::now() + WAIT;
    let file = loop {
        if let Some(file) = crate::helpers::outbox_files(&dir).into_iter().next() {
            break file;
        }
        assert!(tokio::time::Instant::now() < deadline, "no .eml in {dir:?}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    };
    let data = std::fs::read_to_string(&file).unwrap();
    let mail = ReceivedMail {
        from: String::new(),
        to: Vec::new(),
        data,
    };
    assert_eq!(mail.header("To").unwrap(), "ann@example.net");
    assert!(mail.header("List-Unsubscribe-Post").is_some());
    assert!(part(&mail, "text/plain").contains("Story number 1"));
    assert!(part(&mail, "text/html").contains("Story number 0"));
    // no temporary file is left behind
    let leftovers = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .count();
    assert_eq!(leftovers, 0);
    app.stop().await;
}

/// A second Gazette instance on the database of a [`TestApp`].
struct Instance {
    shutdown: tokio_util::sync::CancellationToken,
    running: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Instance {
    async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.running.await;
    }
}

async fn start_instance(app: &TestApp, adjust: impl FnOnce(&mut Settings)) -> Instance {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut settings = test_settings(&app.db, port);
    adjust(&mut settings);
    let instance = Application::build_on(settings, listener).await.unwrap();
    let shutdown = instance.shutdown_token();
    Instance {
        shutdown,
        running: tokio::spawn(instance.run(false)),
    }
}

async fn seed_notices(store: &Store, count: i64) {
    sqlx::query(
        "INSERT INTO deliveries (kind, recipient, subject, html_body, text_body, status, attempts, next_attempt_at, created_at) \
         SELECT 'notice', 'r' || g || '@example.net', 'Notice', '<p>hi</p>', 'hi', 'pending', 0, $1, $1 \
         FROM generate_series(1, $2::bigint) AS g",
    )
    .bind(now_ms())
    .bind(count)
    .execute(store.pool())
    .await
    .unwrap();
}

fn copies_per_recipient(received: &[ReceivedMail]) -> HashMap<String, usize> {
    let mut copies = HashMap::new();
    for mail in received {
        for to in &mail.to {
            *copies.entry(to.clone()).or_insert(0) += 1;
        }
    }
    copies
}

async fn count_status(store: &Store, status: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE status = $1")
        .bind(status)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// PostgreSQL only: SQLite means one instance.
async fn two_instances_send_each_row_exactly_once(backend: Backend) {
    assert_eq!(backend, Backend::Postgres);
    let smtp = SmtpServer::start().await;
    let first = spawn_app_with(backend, smtp_to(&smtp)).await;
    let second = start_instance(&first, |s| use_smtp(s, smtp.port)).await;
    seed_notices(&first.store, 2000).await;
    let received = smtp.wait_for(2000, Duration::from_secs(40)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = if smtp.received().len() > received.len() {
        smtp.received()
    } else {
        received
    };
    let copies = copies_per_recipient(&received);
    assert_eq!(copies.len(), 2000);
    assert!(copies.values().all(|n| *n == 1), "a row went twice");
    let deadline = tokio::time::Instant::now() + WAIT;
    while count_status(&first.store, "sent").await < 2000 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let by_instance: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT leased_by) FROM deliveries WHERE status = 'sent'",
    )
    .fetch_one(first.store.pool())
    .await
    .unwrap();
    println!("rows sent by {by_instance} instances");
    second.stop().await;
    first.stop().await;
}

crate::both_databases!(
    one_off_mail_arrives_whole,
    confirmation_rows_are_rendered_at_send_and_unreadable_data_fails_alone,
    digest_row_is_rendered_per_recipient_with_list_headers,
    digest_rows_of_unsubscribed_readers_are_cancelled,
    dkim_signature_verifies_for_rsa_and_ed25519_keys,
    a_bad_dkim_key_stops_the_start_with_one_line,
    temporary_failure_then_success_delivers_once,
    permanent_failure_keeps_reply_and_bounces_at_threshold,
    connection_dropped_during_data_is_retried_and_delivered,
    a_server_without_pipelining_gets_one_command_at_a_time,
    file_transport_writes_a_parseable_eml,
);

mod postgres_only {
    use crate::helpers::{Backend, skip_postgres};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_instances_send_each_row_exactly_once() {
        if skip_postgres() {
            return;
        }
        super::two_instances_send_each_row_exactly_once(Backend::Postgres).await
    }
}
