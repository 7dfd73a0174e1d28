//! Providers' webhooks: each checks a request as its provider allows
//! (Mailgun's HMAC, SendGrid's ECDSA signature, Postmark's Basic
//! credentials, the SNS signature of SES's notifications) and reads its payload into [`Report`]s for the one
//! processor. A request that fails its check is refused before anything is
//! read or stored. Events that are no bounce or complaint (deliveries,
//! opens, auto-replies) are read as nothing.

pub mod mailgun;
pub mod postmark;
pub mod sendgrid;
pub mod ses;

use super::report::Report;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("this provider's webhook is not configured here")]
    NotConfigured,
    #[error("the request's signature or credentials do not verify")]
    BadSignature,
    #[error("the payload cannot be read: {0}")]
    BadPayload(String),
}

/// One event of a payload: what it reports, and the part of the payload
/// that is its raw report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEvent {
    pub report: Report,
    pub raw: String,
}

fn json(body: &[u8]) -> Result<serde_json::Value, WebhookError> {
    serde_json::from_slice(body).map_err(|e| WebhookError::BadPayload(e.to_string()))
}

fn text<'a>(value: &'a serde_json::Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(serde_json::Value::as_str)
}
