//! Amazon SES reports bounces and complaints through an SNS topic whose
//! HTTPS subscription is `POST /webhooks/ses`. Every SNS message is signed
//! (RSA with SHA-1 for `SignatureVersion` 1, SHA-256 for 2) with the key of
//! a certificate fetched from the message's `SigningCertURL`, which must
//! be an `https://sns.<region>.amazonaws.com/…pem` address: TLS to Amazon
//! vouches for the certificate. The subscription's confirmation message is
//! checked the same way, then confirmed by fetching its `SubscribeURL`
//! (again only on an SNS host).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use base64::Engine;
use ring::signature::{
    RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey,
};
use serde_json::Value;
use x509_cert::Certificate;
use x509_cert::der::DecodePem;

use super::{ProviderEvent, WebhookError, json, text};
use crate::bounces::report::{Report, code_in_diagnostic};
use crate::config::SesWebhook;
use crate::store::mail_events::MailEventKind;

const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Certificates kept by URL; SNS rotates them rarely.
const CACHED_CERTIFICATES: usize = 16;

/// What an SNS request was.
#[derive(Debug, PartialEq, Eq)]
pub enum SnsMessage {
    /// A notification, with the events it reports.
    Notification(Vec<ProviderEvent>),
    /// The subscription was confirmed (its URL fetched).
    SubscriptionConfirmed,
    /// Another kind of message (an unsubscribe confirmation): nothing to do.
    Ignored,
}

pub async fn read(settings: Option<&SesWebhook>, body: &[u8]) -> Result<SnsMessage, WebhookError> {
    let settings = settings.ok_or(WebhookError::NotConfigured)?;
    let message = json(body).map_err(|_| WebhookError::BadSignature)?;
    let kind = text(&message, "/Type").ok_or(WebhookError::BadSignature)?;
    let topic = text(&message, "/TopicArn").unwrap_or_default();
    if !settings.topic_arns.is_empty() && !settings.topic_arns.iter().any(|t| t == topic) {
        return Err(WebhookError::BadSignature);
    }
    verify(settings, &message).await?;
    match kind {
        "Notification" => {
            let inner = text(&message, "/Message").unwrap_or_default();
            Ok(SnsMessage::Notification(events(inner)?))
        }
        "SubscriptionConfirmation" => {
            let url = text(&message, "/SubscribeURL").unwrap_or_default();
            if !on_sns(settings, url) {
                return Err(WebhookError::BadPayload(
                    "SubscribeURL is not an SNS address".into(),
                ));
            }
            fetch(url).await.map_err(|e| {
                WebhookError::BadPayload(format!("cannot confirm the subscription: {e}"))
            })?;
            tracing::info!(topic, "SES bounce topic subscription confirmed");
            Ok(SnsMessage::SubscriptionConfirmed)
        }
        _ => Ok(SnsMessage::Ignored),
    }
}

/// The fields each type of message signs, in order.
fn string_to_sign(message: &Value) -> Option<String> {
    let names: &[&str] = match text(message, "/Type")? {
        "Notification" => &[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ],
        "SubscriptionConfirmation" | "UnsubscribeConfirmation" => &[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ],
        _ => return None,
    };
    let mut signed = String::new();
    for name in names {
        // Subject is signed only when the message has one.
        if let Some(value) = message.get(*name).and_then(Value::as_str) {
            signed.push_str(name);
            signed.push('\n');
            signed.push_str(value);
            signed.push('\n');
        } else if *name != "Subject" {
            return None;
        }
    }
    Some(signed)
}

async fn verify(settings: &SesWebhook, message: &Value) -> Result<(), WebhookError> {
    let signed = string_to_sign(message).ok_or(WebhookError::BadSignature)?;
    let signature = text(message, "/Signature")
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
        .ok_or(WebhookError::BadSignature)?;
    let algorithm = match text(message, "/SignatureVersion") {
        Some("1") => &RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
        Some("2") => &RSA_PKCS1_2048_8192_SHA256,
        _ => return Err(WebhookError::BadSignature),
    };
    let url = text(message, "/SigningCertURL").unwrap_or_default();
    if !on_sns(settings, url) || !url.ends_with(".pem") {
        return Err(WebhookError::BadSignature);
    }
    let key = public_key(url).await?;
    UnparsedPublicKey::new(algorithm, key)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| WebhookError::BadSignature)
}

/// Whether `url` is on an SNS host: `https://sns.<region>.amazonaws.com`
/// (or `.amazonaws.com.cn`), or the test stand-in when one is set.
fn on_sns(settings: &SesWebhook, url: &str) -> bool {
    if let Some(base) = settings.test_sns_url.as_deref().filter(|b| !b.is_empty()) {
        return url.starts_with(base);
    }
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    let Some(host) = parsed.host_str() else {
        return false;
    };
    let region = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))
        .and_then(|h| h.strip_prefix("sns."));
    parsed.scheme() == "https"
        && parsed.port().is_none()
        && region.is_some_and(|r| {
            !r.is_empty()
                && r.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// The RSA key of the certificate at `url`, fetched once.
async fn public_key(url: &str) -> Result<Vec<u8>, WebhookError> {
    static CACHE: OnceLock<Mutex<HashMap<String, Vec<u8>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some(key) = cache.lock().ok().and_then(|c| c.get(url).cloned()) {
        return Ok(key);
    }
    let pem = fetch(url).await.map_err(|error| {
        tracing::warn!(%error, "cannot fetch the SNS signing certificate");
        WebhookError::BadSignature
    })?;
    let certificate =
        Certificate::from_pem(pem.as_bytes()).map_err(|_| WebhookError::BadSignature)?;
    let key = certificate
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes()
        .to_vec();
    if let Ok(mut cache) = cache.lock() {
        if cache.len() >= CACHED_CERTIFICATES {
            cache.clear();
        }
        cache.insert(url.to_string(), key.clone());
    }
    Ok(key)
}

async fn fetch(url: &str) -> Result<String, reqwest::Error> {
    let client = reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    client
        .get(url)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await
}

/// The events of an SES notification (`notificationType`, or `eventType`
/// for SES event publishing): one per recipient named.
fn events(message: &str) -> Result<Vec<ProviderEvent>, WebhookError> {
    let notification: Value = serde_json::from_str(message)
        .map_err(|e| WebhookError::BadPayload(format!("Message is not JSON: {e}")))?;
    let kind_of =
        text(&notification, "/notificationType").or_else(|| text(&notification, "/eventType"));
    let mut events = Vec::new();
    match kind_of {
        Some("Bounce") => {
            let kind = match text(&notification, "/bounce/bounceType") {
                Some("Permanent") => MailEventKind::HardBounce,
                _ => MailEventKind::SoftBounce,
            };
            let sub_type = text(&notification, "/bounce/bounceSubType").unwrap_or("General");
            for recipient in list(&notification, "/bounce/bouncedRecipients") {
                let diagnostic = text(recipient, "/diagnosticCode").unwrap_or_default();
                let status = text(recipient, "/status")
                    .map(str::to_string)
                    .or_else(|| code_in_diagnostic(diagnostic));
                events.push(ProviderEvent {
                    report: Report {
                        kind,
                        status_code: status,
                        reason: if diagnostic.is_empty() {
                            format!("{sub_type} bounce reported by SES")
                        } else {
                            diagnostic.trim_start_matches("smtp;").trim().to_string()
                        },
                        recipient: text(recipient, "/emailAddress").map(str::to_string),
                    },
                    raw: message.to_string(),
                });
            }
        }
        Some("Complaint") => {
            let feedback =
                text(&notification, "/complaint/complaintFeedbackType").unwrap_or("abuse");
            // "not-spam" is a reader taking mail out of spam: no complaint.
            if feedback != "not-spam" {
                for recipient in list(&notification, "/complaint/complainedRecipients") {
                    events.push(ProviderEvent {
                        report: Report {
                            kind: MailEventKind::Complaint,
                            status_code: None,
                            reason: format!("{feedback} complaint reported by SES"),
                            recipient: text(recipient, "/emailAddress").map(str::to_string),
                        },
                        raw: message.to_string(),
                    });
                }
            }
        }
        _ => {}
    }
    Ok(events)
}

fn list<'a>(value: &'a Value, pointer: &str) -> &'a [Value] {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_sns_hosts_vouch_for_certificates() {
        let settings = SesWebhook::default();
        for good in [
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
            "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
        ] {
            assert!(on_sns(&settings, good), "{good}");
        }
        for bad in [
            "http://sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com.evil.example/x.pem",
            "https://evil.example/sns.us-east-1.amazonaws.com/x.pem",
            "https://sns..amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com:8443/x.pem",
            "https://s3.amazonaws.com/x.pem",
        ] {
            assert!(!on_sns(&settings, bad), "{bad}");
        }
    }

    #[test]
    fn a_notification_signs_its_subject_only_when_it_has_one() {
        let with = serde_json::json!({"Type": "Notification", "Message": "m", "MessageId": "i",
            "Subject": "s", "Timestamp": "t", "TopicArn": "a"});
        assert_eq!(
            string_to_sign(&with).unwrap(),
            "Message\nm\nMessageId\ni\nSubject\ns\nTimestamp\nt\nTopicArn\na\nType\nNotification\n"
        );
        let mut without = with.clone();
        without.as_object_mut().unwrap().remove("Subject");
        assert!(!string_to_sign(&without).unwrap().contains("Subject"));
    }
}
