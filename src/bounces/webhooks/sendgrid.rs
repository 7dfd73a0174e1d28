//! SendGrid's signed event webhook (`POST /webhooks/sendgrid`): a JSON
//! array of events, signed with ECDSA P-256 over the timestamp header and
//! the body as sent (`X-Twilio-Email-Event-Webhook-Signature`, base64 of
//! the DER signature; `X-Twilio-Email-Event-Webhook-Timestamp`).

use base64::Engine;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};

use super::{ProviderEvent, WebhookError, json, text};
use crate::bounces::report::Report;
use crate::config::SendgridWebhook;
use crate::store::mail_events::MailEventKind;

pub const SIGNATURE_HEADER: &str = "X-Twilio-Email-Event-Webhook-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Twilio-Email-Event-Webhook-Timestamp";

pub fn read(
    settings: Option<&SendgridWebhook>,
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
) -> Result<Vec<ProviderEvent>, WebhookError> {
    let settings = settings.ok_or(WebhookError::NotConfigured)?;
    let key = settings
        .verifying_key()
        .map_err(|_| WebhookError::NotConfigured)?;
    let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
        return Err(WebhookError::BadSignature);
    };
    if !verifies(&key, signature, timestamp, body) {
        return Err(WebhookError::BadSignature);
    }
    let payload = json(body)?;
    let Some(events) = payload.as_array() else {
        return Err(WebhookError::BadPayload("not a list of events".into()));
    };
    Ok(events.iter().filter_map(event).collect())
}

fn verifies(key: &VerifyingKey, signature: &str, timestamp: &str, body: &[u8]) -> bool {
    let Ok(der) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let Ok(signature) = Signature::from_der(&der) else {
        return false;
    };
    let mut signed = Vec::with_capacity(timestamp.len() + body.len());
    signed.extend_from_slice(timestamp.as_bytes());
    signed.extend_from_slice(body);
    key.verify(&signed, &signature).is_ok()
}

fn event(event: &serde_json::Value) -> Option<ProviderEvent> {
    let kind = match (text(event, "/event")?, text(event, "/type")) {
        ("bounce", Some("blocked")) => MailEventKind::SoftBounce,
        ("bounce", _) => MailEventKind::HardBounce,
        ("deferred", _) => MailEventKind::SoftBounce,
        ("spamreport", _) => MailEventKind::Complaint,
        _ => return None,
    };
    let status_code = text(event, "/status")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let reason = text(event, "/reason")
        .or_else(|| text(event, "/response"))
        .filter(|r| !r.trim().is_empty())
        .map_or_else(|| format!("{} reported by SendGrid", kind), str::to_string);
    Some(ProviderEvent {
        report: Report {
            kind,
            status_code,
            reason,
            recipient: text(event, "/email").map(str::to_string),
        },
        raw: event.to_string(),
    })
}
