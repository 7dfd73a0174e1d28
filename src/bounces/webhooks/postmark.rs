//! Postmark's bounce and spam complaint webhooks (`POST
//! /webhooks/postmark`). Postmark signs nothing, so its webhook URL carries
//! Basic credentials (`https://user:password@…/webhooks/postmark`), checked
//! in constant time.

use base64::Engine;
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use super::{ProviderEvent, WebhookError, json, text};
use crate::bounces::report::{Report, code_in_diagnostic};
use crate::config::PostmarkWebhook;
use crate::store::mail_events::MailEventKind;

pub fn read(
    settings: Option<&PostmarkWebhook>,
    authorization: Option<&str>,
    body: &[u8],
) -> Result<Vec<ProviderEvent>, WebhookError> {
    let settings = settings.ok_or(WebhookError::NotConfigured)?;
    if !authorized(settings, authorization) {
        return Err(WebhookError::BadSignature);
    }
    let payload = json(body)?;
    let kind = match (text(&payload, "/RecordType"), text(&payload, "/Type")) {
        (Some("SpamComplaint"), _) => MailEventKind::Complaint,
        (Some("Bounce"), Some("HardBounce" | "BadEmailAddress")) => MailEventKind::HardBounce,
        (
            Some("Bounce"),
            Some("SoftBounce" | "Transient" | "DnsError" | "Blocked" | "SpamNotification"),
        ) => MailEventKind::SoftBounce,
        // Auto-responders, unsubscribes, address changes and the rest are
        // no bounce.
        _ => return Ok(Vec::new()),
    };
    let details = text(&payload, "/Details").unwrap_or_default();
    let description = text(&payload, "/Description").unwrap_or_default();
    let reason = [description, details]
        .into_iter()
        .filter(|t| !t.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(vec![ProviderEvent {
        report: Report {
            kind,
            status_code: (kind != MailEventKind::Complaint)
                .then(|| code_in_diagnostic(details))
                .flatten(),
            reason: if reason.is_empty() {
                format!(
                    "{} reported by Postmark",
                    text(&payload, "/Type").unwrap_or("event")
                )
            } else {
                reason
            },
            recipient: text(&payload, "/Email").map(str::to_string),
        },
        raw: String::from_utf8_lossy(body).into_owned(),
    }])
}

fn authorized(settings: &PostmarkWebhook, authorization: Option<&str>) -> bool {
    let Some(encoded) = authorization.and_then(|a| {
        a.strip_prefix("Basic ")
            .or_else(|| a.strip_prefix("basic "))
    }) else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let expected = format!(
        "{}:{}",
        settings.username,
        settings.password.expose_secret()
    );
    bool::from(decoded.ct_eq(expected.as_bytes()))
}
