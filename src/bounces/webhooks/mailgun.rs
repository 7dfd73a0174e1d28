//! Mailgun's webhooks (`POST /webhooks/mailgun`): a JSON body whose
//! `signature` holds a timestamp, a token and their HMAC-SHA256 under the
//! webhook signing key. A replayed request changes nothing: each delivery
//! counts once per kind.

use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::{ProviderEvent, WebhookError, json, text};
use crate::bounces::report::{Report, code_in_diagnostic};
use crate::config::MailgunWebhook;
use crate::store::mail_events::MailEventKind;

pub fn read(
    settings: Option<&MailgunWebhook>,
    body: &[u8],
) -> Result<Vec<ProviderEvent>, WebhookError> {
    let settings = settings.ok_or(WebhookError::NotConfigured)?;
    let payload = json(body).map_err(|_| WebhookError::BadSignature)?;
    let (Some(timestamp), Some(token), Some(signature)) = (
        text(&payload, "/signature/timestamp"),
        text(&payload, "/signature/token"),
        text(&payload, "/signature/signature"),
    ) else {
        return Err(WebhookError::BadSignature);
    };
    let expected = sign(settings.signing_key.expose_secret(), timestamp, token);
    if !bool::from(
        expected
            .as_bytes()
            .ct_eq(signature.to_ascii_lowercase().as_bytes()),
    ) {
        return Err(WebhookError::BadSignature);
    }
    let Some(event) = payload.get("event-data") else {
        return Err(WebhookError::BadPayload("no event-data".into()));
    };
    let kind = match (text(event, "/event"), text(event, "/severity")) {
        (Some("failed"), Some("permanent")) => MailEventKind::HardBounce,
        (Some("failed"), _) => MailEventKind::SoftBounce,
        (Some("complained"), _) => MailEventKind::Complaint,
        _ => return Ok(Vec::new()),
    };
    let diagnostic = [
        text(event, "/delivery-status/message"),
        text(event, "/delivery-status/description"),
    ]
    .into_iter()
    .flatten()
    .filter(|t| !t.trim().is_empty())
    .collect::<Vec<_>>()
    .join(" ");
    let code = event
        .pointer("/delivery-status/code")
        .and_then(serde_json::Value::as_i64)
        .map(|c| c.to_string())
        .unwrap_or_default();
    let status_code = (kind != MailEventKind::Complaint)
        .then(|| code_in_diagnostic(&format!("{code} {diagnostic}")))
        .flatten();
    let reason = match kind {
        MailEventKind::Complaint => "complaint reported by Mailgun".to_string(),
        _ if diagnostic.is_empty() => text(event, "/reason").unwrap_or("failed").to_string(),
        _ => diagnostic,
    };
    Ok(vec![ProviderEvent {
        report: Report {
            kind,
            status_code,
            reason,
            recipient: text(event, "/recipient").map(str::to_string),
        },
        raw: String::from_utf8_lossy(body).into_owned(),
    }])
}

/// The hex HMAC Mailgun sends for `timestamp` and `token`.
pub fn sign(key: &str, timestamp: &str, token: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(timestamp.as_bytes());
    mac.update(token.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
