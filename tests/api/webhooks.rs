//! Providers' webhooks on both databases: an issue goes out through a real
//! SMTP server; Mailgun, SendGrid and Postmark then report bounces and a
//! complaint about it, each payload signed as its provider signs it
//! (Mailgun's HMAC, SendGrid's ECDSA P-256, Postmark's Basic credentials).
//! Bad signatures are refused with 401 and store nothing; a replay counts
//! nothing twice; the issue's counts agree with what was reported.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use base64::Engine;
use gazette::bounces::webhooks::mailgun;
use gazette::config::{MailgunWebhook, PostmarkWebhook, SendgridWebhook, Settings};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, spawn_app_with};
use crate::smtp_server::{ReceivedMail, SmtpServer};

const MAILGUN_KEY: &str = "key-0123456789abcdef0123456789abcdef";
const POSTMARK_PASSWORD: &str = "a long postmark password";

fn sendgrid_key() -> SigningKey {
    SigningKey::from_slice(&[7u8; 32]).unwrap()
}

fn with_webhooks(smtp_port: u16) -> impl FnOnce(&mut Settings) {
    move |s: &mut Settings| {
        crate::helpers::send_through_smtp(s, smtp_port);
        s.mail.bounce_threshold = 1;
        // The SubjectPublicKeyInfo of a P-256 key: a fixed header, then
        // the uncompressed point (what SendGrid's settings show, in base64).
        let mut public = b"\x30\x59\x30\x13\x06\x07\x2a\x86\x48\xce\x3d\x02\x01\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07\x03\x42\x00".to_vec();
        public.extend_from_slice(
            sendgrid_key()
                .verifying_key()
                .to_encoded_point(false)
                .as_bytes(),
        );
        s.mail.bounce.webhooks.mailgun = Some(MailgunWebhook {
            signing_key: MAILGUN_KEY.to_string().into(),
        });
        s.mail.bounce.webhooks.sendgrid = Some(SendgridWebhook {
            public_key: base64::engine::general_purpose::STANDARD.encode(&public),
        });
        s.mail.bounce.webhooks.postmark = Some(PostmarkWebhook {
            username: "postmark".into(),
            password: POSTMARK_PASSWORD.to_string().into(),
        });
    }
}

fn message_id_to(mails: &[ReceivedMail], recipient: &str) -> String {
    mails
        .iter()
        .find(|m| m.to.iter().any(|t| t == recipient))
        .and_then(|m| m.header("Message-ID"))
        .unwrap_or_else(|| panic!("no message to {recipient}"))
}

impl TestApp {
    async fn post_raw(&self, path: &str, body: &str, headers: &[(&str, String)]) -> (u16, Value) {
        let mut request = self
            .client
            .post(self.url(path))
            .header("Content-Type", "application/json")
            .body(body.to_string());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn event_count(&self) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM mail_events")
            .fetch_one(self.store.pool())
            .await
            .unwrap()
    }

    async fn status_of(&self, id: i64) -> (String, bool) {
        let (status, suppressed): (String, Option<i64>) =
            sqlx::query_as("SELECT status, suppressed_at FROM subscribers WHERE id = $1")
                .bind(id)
                .fetch_one(self.store.pool())
                .await
                .unwrap();
        (status, suppressed.is_some())
    }
}

fn mailgun_body(key: &str, event: Value) -> String {
    let (timestamp, token) = (
        "1767225600",
        "5f1d0c3e9a7b42a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4",
    );
    json!({
        "signature": {
            "timestamp": timestamp,
            "token": token,
            "signature": mailgun::sign(key, timestamp, token),
        },
        "event-data": event,
    })
    .to_string()
}

fn sendgrid_headers(body: &str, key: &SigningKey) -> Vec<(&'static str, String)> {
    let timestamp = "1767225600".to_string();
    let signature: Signature = key.sign(format!("{timestamp}{body}").as_bytes());
    vec![
        (
            "X-Twilio-Email-Event-Webhook-Signature",
            base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes()),
        ),
        ("X-Twilio-Email-Event-Webhook-Timestamp", timestamp),
    ]
}

fn basic(user: &str, password: &str) -> Vec<(&'static str, String)> {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    vec![("Authorization", format!("Basic {token}"))]
}

async fn providers_report_bounces_and_complaints(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = spawn_app_with(backend, with_webhooks(smtp.port)).await;
    let editor = app.editor().await;
    let ids = editor
        .newsletter_with_readers(
            "daily",
            &[
                "gone@example.net",
                "angry@example.net",
                "blocked@example.net",
                "moved@example.net",
            ],
        )
        .await;
    editor.story("first", "First story", 10, &[]).await;
    let issue = editor
        .post("/api/newsletters/daily/issues", &json!({"send": true}))
        .await;
    assert_eq!(issue.status, 201, "{}", issue.body);
    let issue_id = issue.body["id"].as_i64().unwrap();
    let mails = smtp.wait_for(4, Duration::from_secs(20)).await;

    // Mailgun: a permanent failure, named by the Message-ID it quotes.
    let failed = json!({
        "event": "failed",
        "severity": "permanent",
        "recipient": "someone-else@example.net",
        "reason": "bounce",
        "delivery-status": {"code": 550, "message": "5.1.1 The email account that you tried to reach does not exist"},
        "message": {"headers": {"message-id": message_id_to(&mails, "gone@example.net").trim_matches(['<', '>'])}},
    });
    let forged = mailgun_body("not the key", failed.clone());
    assert_eq!(app.post_raw("/webhooks/mailgun", &forged, &[]).await.0, 401);
    assert_eq!(
        app.event_count().await,
        0,
        "a refused request stores nothing"
    );
    let genuine = mailgun_body(MAILGUN_KEY, failed);
    let (status, body) = app.post_raw("/webhooks/mailgun", &genuine, &[]).await;
    assert_eq!(
        (status, body["processed"].as_i64()),
        (200, Some(1)),
        "{body}"
    );
    // Replayed: taken, and nothing counts twice.
    assert_eq!(
        app.post_raw("/webhooks/mailgun", &genuine, &[]).await.0,
        200
    );

    // SendGrid: a batch with a complaint, a block and events that are no
    // bounce at all.
    let batch = json!([
        {"email": "angry@example.net", "event": "spamreport", "timestamp": 1767225600,
         "smtp-id": message_id_to(&mails, "angry@example.net")},
        {"email": "blocked@example.net", "event": "bounce", "type": "blocked", "status": "4.7.1",
         "reason": "421 4.7.1 Try again later", "smtp-id": message_id_to(&mails, "blocked@example.net")},
        {"email": "moved@example.net", "event": "delivered", "timestamp": 1767225600},
        {"email": "moved@example.net", "event": "open", "timestamp": 1767225600},
    ])
    .to_string();
    let wrong_key = SigningKey::from_slice(&[9u8; 32]).unwrap();
    let refused = app
        .post_raw(
            "/webhooks/sendgrid",
            &batch,
            &sendgrid_headers(&batch, &wrong_key),
        )
        .await;
    assert_eq!(refused.0, 401);
    let tampered = sendgrid_headers(&batch, &sendgrid_key());
    let altered = batch.replace("angry@", "other@");
    assert_eq!(
        app.post_raw("/webhooks/sendgrid", &altered, &tampered)
            .await
            .0,
        401
    );
    assert_eq!(app.event_count().await, 1);
    let (status, body) = app
        .post_raw(
            "/webhooks/sendgrid",
            &batch,
            &sendgrid_headers(&batch, &sendgrid_key()),
        )
        .await;
    assert_eq!(
        (status, body["processed"].as_i64()),
        (200, Some(2)),
        "{body}"
    );

    // Postmark: a hard bounce that names only the address; an
    // auto-responder that is no bounce.
    let bounce = json!({
        "RecordType": "Bounce", "Type": "HardBounce", "TypeCode": 1,
        "Email": "Moved@example.net", "Description": "The server was unable to deliver your message",
        "Details": "smtp;550 5.1.1 The email account does not exist", "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    })
    .to_string();
    let wrong = basic("postmark", "a wrong password, long enough");
    assert_eq!(
        app.post_raw("/webhooks/postmark", &bounce, &wrong).await.0,
        401
    );
    assert_eq!(
        app.post_raw("/webhooks/postmark", &bounce, &[]).await.0,
        401
    );
    let credentials = basic("postmark", POSTMARK_PASSWORD);
    let (status, body) = app
        .post_raw("/webhooks/postmark", &bounce, &credentials)
        .await;
    assert_eq!(
        (status, body["processed"].as_i64()),
        (200, Some(1)),
        "{body}"
    );
    let away =
        json!({"RecordType": "Bounce", "Type": "AutoResponder", "Email": "blocked@example.net"})
            .to_string();
    let (status, body) = app
        .post_raw("/webhooks/postmark", &away, &credentials)
        .await;
    assert_eq!(
        (status, body["processed"].as_i64()),
        (200, Some(0)),
        "{body}"
    );
    let (status, body) = app
        .post_raw("/webhooks/postmark", "{not json", &credentials)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_input")),
        "{body}"
    );

    let [gone, angry, blocked, moved] = ids[..] else {
        unreachable!()
    };
    assert_eq!(app.status_of(gone).await, ("bounced".into(), false));
    assert_eq!(app.status_of(angry).await, ("unsubscribed".into(), true));
    assert_eq!(app.status_of(blocked).await, ("active".into(), false));
    assert_eq!(app.status_of(moved).await, ("bounced".into(), false));
    assert_eq!(app.event_count().await, 4);
    let shown = editor.get(&format!("/api/issues/{issue_id}")).await.body;
    assert_eq!(shown["bounced"], 2, "{shown}");
    assert_eq!(shown["complained"], 1, "{shown}");
    let sources: Vec<(String, String)> =
        sqlx::query_as("SELECT source, kind FROM mail_events ORDER BY id")
            .fetch_all(app.store.pool())
            .await
            .unwrap();
    let sources: Vec<(&str, &str)> = sources
        .iter()
        .map(|(s, k)| (s.as_str(), k.as_str()))
        .collect();
    assert_eq!(
        sources,
        [
            ("mailgun", "hard_bounce"),
            ("sendgrid", "complaint"),
            ("sendgrid", "soft_bounce"),
            ("postmark", "hard_bounce"),
        ]
    );
    app.stop().await;
    smtp.stop();
}

/// A provider's complaint about an address no message of ours reached
/// suppresses it once, however often the webhook is retried.
async fn a_complaint_about_an_address_alone_counts_once(backend: Backend) {
    let app = spawn_app_with(backend, with_webhooks(1)).await;
    let editor = app.editor().await;
    let readers = editor
        .newsletter_with_readers("daily", &["late@example.net"])
        .await;
    let complaint = json!({"RecordType": "SpamComplaint", "Type": "SpamComplaint",
                           "Email": "late@example.net"})
    .to_string();
    let credentials = basic("postmark", POSTMARK_PASSWORD);
    for _ in 0..3 {
        let (status, _) = app
            .post_raw("/webhooks/postmark", &complaint, &credentials)
            .await;
        assert_eq!(status, 200);
    }
    assert_eq!(
        app.status_of(readers[0]).await,
        ("unsubscribed".into(), true)
    );
    assert_eq!(app.event_count().await, 1);
    let consent: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM consent_events WHERE subscriber_id = $1 AND source = 'complaint'",
    )
    .bind(readers[0])
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    assert_eq!(consent, 1);
    app.stop().await;
}

/// A provider that is not configured has no endpoint.
async fn an_unconfigured_provider_is_not_found(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let (status, body) = app.post_raw("/webhooks/mailgun", "{}", &[]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    app.stop().await;
}

/// A stand-in for SNS's hosts: serves the signing certificate and answers
/// the subscription confirmation, remembering the paths asked for.
struct FakeSns {
    port: u16,
    asked: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl FakeSns {
    async fn start(certificate: String) -> FakeSns {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = asked.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let mut request = vec![0u8; 4096];
                let n = stream.read(&mut request).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&request[..n]).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                seen.lock().unwrap().push(path.clone());
                let body = if path.ends_with(".pem") {
                    certificate.clone()
                } else {
                    "<ConfirmSubscriptionResponse/>".to_string()
                };
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            }
        });
        FakeSns { port, asked }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

/// A key and its self-signed certificate, made by OpenSSL.
fn openssl_key_and_certificate(dir: &std::path::Path) -> (std::path::PathBuf, String) {
    let key = dir.join("sns-key.pem");
    let certificate = dir.join("sns-cert.pem");
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=sns.test",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&certificate)
        .output()
        .expect("openssl runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    (key, std::fs::read_to_string(certificate).unwrap())
}

/// Signs an SNS message as SNS does: the listed fields, each as its name
/// and value on two lines, with SHA-1 (version 1) or SHA-256 (version 2).
fn sns_signed(key: &std::path::Path, version: &str, mut message: Value) -> String {
    let fields: &[&str] = if message["Type"] == "Notification" {
        &[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ]
    } else {
        &[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ]
    };
    let mut signed = String::new();
    for field in fields {
        if let Some(value) = message[*field].as_str() {
            signed.push_str(&format!("{field}\n{value}\n"));
        }
    }
    let digest = if version == "1" { "-sha1" } else { "-sha256" };
    let mut child = std::process::Command::new("openssl")
        .args(["dgst", digest, "-sign"])
        .arg(key)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(signed.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    message["SignatureVersion"] = json!(version);
    message["Signature"] = json!(base64::engine::general_purpose::STANDARD.encode(output.stdout));
    message.to_string()
}

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:gazette-bounces";

async fn ses_reports_through_signed_sns_messages(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (key, certificate) = openssl_key_and_certificate(dir.path());
    let sns = FakeSns::start(certificate).await;
    let smtp = SmtpServer::start().await;
    let base = sns.base();
    let app = spawn_app_with(backend, move |s| {
        with_webhooks(smtp.port)(s);
        s.mail.bounce.webhooks.ses = Some(gazette::config::SesWebhook {
            topic_arns: vec![TOPIC.into()],
            test_sns_url: Some(base),
        });
    })
    .await;
    let editor = app.editor().await;
    let readers = editor
        .newsletter_with_readers("daily", &["gone@example.net", "angry@example.net"])
        .await;
    let [gone, angry] = readers[..] else {
        unreachable!()
    };
    editor.story("first", "First story", 10, &[]).await;
    let issue = editor
        .post("/api/newsletters/daily/issues", &json!({"send": true}))
        .await;
    let issue_id = issue.body["id"].as_i64().unwrap();
    let mails = smtp.wait_for(2, Duration::from_secs(20)).await;
    let cert_url = format!("{}SimpleNotificationService-test.pem", sns.base());

    // The subscription is confirmed by fetching its URL, once it verifies.
    let confirmation = json!({
        "Type": "SubscriptionConfirmation", "MessageId": "c1", "Token": "tok",
        "TopicArn": TOPIC, "Message": "You have chosen to subscribe to the topic.",
        "SubscribeURL": format!("{}?Action=ConfirmSubscription&Token=tok", sns.base()),
        "Timestamp": "2026-12-06T12:00:00.000Z", "SigningCertURL": cert_url,
    });
    let (status, _) = app
        .post_raw("/webhooks/ses", &sns_signed(&key, "1", confirmation), &[])
        .await;
    assert_eq!(status, 200);
    assert!(
        sns.asked
            .lock()
            .unwrap()
            .iter()
            .any(|p| p.contains("Action=ConfirmSubscription")),
        "the subscription was confirmed"
    );

    let mail_of = |address: &str| {
        json!({"messageId": "0100018c-ses", "source": "news@example.org", "destination": [address],
               "headers": [{"name": "Message-ID", "value": message_id_to(&mails, address)}]})
    };
    let bounce = json!({
        "notificationType": "Bounce",
        "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
                   "bouncedRecipients": [{"emailAddress": "gone@example.net", "action": "failed",
                       "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 user unknown"}]},
        "mail": mail_of("gone@example.net"),
    });
    let notification = |message: &Value, id: &str| {
        json!({"Type": "Notification", "MessageId": id, "TopicArn": TOPIC,
               "Message": message.to_string(), "Timestamp": "2026-12-06T12:01:00.000Z",
               "SigningCertURL": cert_url, "UnsubscribeURL": "https://example.invalid/"})
    };

    // Refused, storing nothing: a changed message, another topic, a
    // certificate from elsewhere.
    let signed = sns_signed(&key, "2", notification(&bounce, "n1"));
    let altered = signed.replace("Permanent", "Transient");
    assert_eq!(app.post_raw("/webhooks/ses", &altered, &[]).await.0, 401);
    let mut elsewhere = notification(&bounce, "n1");
    elsewhere["TopicArn"] = json!("arn:aws:sns:us-east-1:999:other");
    assert_eq!(
        app.post_raw("/webhooks/ses", &sns_signed(&key, "2", elsewhere), &[])
            .await
            .0,
        401
    );
    let mut foreign = notification(&bounce, "n1");
    foreign["SigningCertURL"] = json!("https://evil.example/SimpleNotificationService-test.pem");
    assert_eq!(
        app.post_raw("/webhooks/ses", &sns_signed(&key, "2", foreign), &[])
            .await
            .0,
        401
    );
    assert_eq!(app.event_count().await, 0);

    let (status, body) = app.post_raw("/webhooks/ses", &signed, &[]).await;
    assert_eq!(
        (status, body["processed"].as_i64()),
        (200, Some(1)),
        "{body}"
    );
    let complaint = json!({
        "notificationType": "Complaint",
        "complaint": {"complaintFeedbackType": "abuse",
                      "complainedRecipients": [{"emailAddress": "angry@example.net"}]},
        "mail": mail_of("angry@example.net"),
    });
    let (status, body) = app
        .post_raw(
            "/webhooks/ses",
            &sns_signed(&key, "1", notification(&complaint, "n2")),
            &[],
        )
        .await;
    assert_eq!(
        (status, body["processed"].as_i64()),
        (200, Some(1)),
        "{body}"
    );

    assert_eq!(app.status_of(gone).await, ("bounced".into(), false));
    assert_eq!(app.status_of(angry).await, ("unsubscribed".into(), true));
    let shown = editor.get(&format!("/api/issues/{issue_id}")).await.body;
    assert_eq!(
        (shown["bounced"].as_i64(), shown["complained"].as_i64()),
        (Some(1), Some(1)),
        "{shown}"
    );
    app.stop().await;
    smtp.stop();
}

crate::both_databases!(
    providers_report_bounces_and_complaints,
    an_unconfigured_provider_is_not_found,
    a_complaint_about_an_address_alone_counts_once,
    ses_reports_through_signed_sns_messages,
);
