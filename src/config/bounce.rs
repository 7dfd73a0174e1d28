//! `[mail.bounce]`: where bounces and complaints that arrive after the
//! relay accepted a message come back. With `domain` set, every message's
//! envelope sender (its Return-Path) names its delivery under that domain;
//! `listen` receives the reports by SMTP (the domain's MX points at it).

use std::net::SocketAddr;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{ConfigError, bad_if};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BounceSettings {
    /// The domain of the VERP Return-Path (`bounces+ID.MAC@domain`); off
    /// when unset (the envelope sender is then `mail.from.address`).
    #[serde(default)]
    pub domain: Option<String>,
    /// Address and port of the inbound SMTP listener; off when unset.
    #[serde(default)]
    pub listen: Option<String>,
    /// Where feedback loops send ARF complaint reports; the listener
    /// accepts it besides the VERP addresses.
    #[serde(default)]
    pub complaints_address: Option<String>,
    /// The largest report the listener takes (`SIZE`), in bytes.
    #[serde(default = "defaults::max_message_bytes")]
    pub max_message_bytes: usize,
    /// Reports one client address may deliver a minute.
    #[serde(default = "defaults::per_ip_per_minute")]
    pub per_ip_per_minute: u32,
    /// How long processed events and their raw reports are kept.
    #[serde(default = "defaults::keep_days")]
    pub keep_days: u32,
    /// The providers whose webhooks report bounces and complaints.
    #[serde(default)]
    pub webhooks: WebhookSettings,
    /// A mailbox of reports to poll, when the bounce domain's mail lands
    /// with a mail host rather than at Gazette's listener.
    #[serde(default)]
    pub imap: Option<ImapSettings>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImapTls {
    /// IMAP over TLS from the first byte (port 993).
    Tls,
    /// Plain text: for a server on the same host only.
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapSettings {
    pub host: String,
    #[serde(default = "defaults::imap_port")]
    pub port: u16,
    #[serde(default = "defaults::imap_tls")]
    pub tls: ImapTls,
    pub username: String,
    pub password: SecretString,
    #[serde(default = "defaults::imap_mailbox")]
    pub mailbox: String,
    /// Seconds between two polls.
    #[serde(default = "defaults::imap_poll_secs")]
    pub poll_secs: u64,
}

/// `[mail.bounce.webhooks.<provider>]`: a provider's endpoint answers only
/// when its secret is set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    #[serde(default)]
    pub mailgun: Option<MailgunWebhook>,
    #[serde(default)]
    pub sendgrid: Option<SendgridWebhook>,
    #[serde(default)]
    pub postmark: Option<PostmarkWebhook>,
    #[serde(default)]
    pub ses: Option<SesWebhook>,
}

/// Amazon SES, through an SNS topic subscribed to `/webhooks/ses`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SesWebhook {
    /// The SNS topics whose messages are taken (all, when empty).
    #[serde(default)]
    pub topic_arns: Vec<String>,
    /// Test only: a base URL standing in for `https://sns.<region>.amazonaws.com`,
    /// where the signing certificate and the subscription confirmation
    /// are then fetched from. Never set it in production: it lets that
    /// host vouch for notifications.
    #[serde(default)]
    pub test_sns_url: Option<String>,
}

/// Mailgun signs each request with the domain's webhook signing key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailgunWebhook {
    pub signing_key: SecretString,
}

/// SendGrid's signed event webhook: the verification key it shows (base64
/// of a P-256 public key).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendgridWebhook {
    pub public_key: String,
}

impl SendgridWebhook {
    /// The key, from the base64 of its DER (what SendGrid's settings show),
    /// with or without PEM armour.
    pub fn verifying_key(&self) -> Result<p256::ecdsa::VerifyingKey, String> {
        use base64::Engine;
        use p256::pkcs8::DecodePublicKey;
        let text: String = self
            .public_key
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect::<String>()
            .split_whitespace()
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| "is not base64 (paste the verification key SendGrid shows)".to_string())?;
        p256::ecdsa::VerifyingKey::from_public_key_der(&der)
            .map_err(|_| "is not a P-256 public key".to_string())
    }
}

/// Postmark signs nothing: its webhook URL carries Basic credentials.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostmarkWebhook {
    pub username: String,
    pub password: SecretString,
}

mod defaults {
    pub fn max_message_bytes() -> usize {
        2 * 1024 * 1024
    }
    pub fn per_ip_per_minute() -> u32 {
        120
    }
    pub fn keep_days() -> u32 {
        90
    }
    pub fn imap_port() -> u16 {
        993
    }
    pub fn imap_tls() -> super::ImapTls {
        super::ImapTls::Tls
    }
    pub fn imap_mailbox() -> String {
        "INBOX".into()
    }
    pub fn imap_poll_secs() -> u64 {
        60
    }
}

impl Default for BounceSettings {
    fn default() -> BounceSettings {
        BounceSettings {
            domain: None,
            listen: None,
            complaints_address: None,
            max_message_bytes: defaults::max_message_bytes(),
            per_ip_per_minute: defaults::per_ip_per_minute(),
            keep_days: defaults::keep_days(),
            webhooks: WebhookSettings::default(),
            imap: None,
        }
    }
}

impl BounceSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if let Some(domain) = self.verp_domain() {
            bad_if(
                !domain.contains('.') || domain.contains(['@', ' ', '/']),
                "mail.bounce.domain",
                "must be a domain name like bounces.example.org",
            )?;
        }
        self.listen_address()?;
        bad_if(
            self.listen_address()?.is_some() && self.verp_domain().is_none(),
            "mail.bounce.listen",
            "needs mail.bounce.domain (the listener accepts only its VERP addresses)",
        )?;
        if let Some(address) = self.complaints_address() {
            bad_if(
                !address.contains('@'),
                "mail.bounce.complaints_address",
                "must be an email address",
            )?;
        }
        bad_if(
            self.max_message_bytes < 64 * 1024,
            "mail.bounce.max_message_bytes",
            "must be at least 65536",
        )?;
        bad_if(
            self.per_ip_per_minute == 0,
            "mail.bounce.per_ip_per_minute",
            "must be at least 1",
        )?;
        bad_if(
            self.keep_days == 0,
            "mail.bounce.keep_days",
            "must be at least 1",
        )?;
        if let Some(imap) = &self.imap {
            bad_if(
                imap.host.trim().is_empty() || imap.username.trim().is_empty(),
                "mail.bounce.imap.host",
                "mail.bounce.imap needs a host and a username",
            )?;
            bad_if(
                imap.poll_secs == 0,
                "mail.bounce.imap.poll_secs",
                "must be at least 1",
            )?;
        }
        if let Some(mailgun) = &self.webhooks.mailgun {
            bad_if(
                mailgun.signing_key.expose_secret().trim().is_empty(),
                "mail.bounce.webhooks.mailgun.signing_key",
                "must not be empty",
            )?;
        }
        if let Some(postmark) = &self.webhooks.postmark {
            bad_if(
                postmark.username.trim().is_empty() || postmark.password.expose_secret().len() < 16,
                "mail.bounce.webhooks.postmark.password",
                "needs a username and a password of 16 characters or more",
            )?;
        }
        if let Some(sendgrid) = &self.webhooks.sendgrid {
            sendgrid
                .verifying_key()
                .map_err(|problem| ConfigError::BadValue {
                    key: "mail.bounce.webhooks.sendgrid.public_key",
                    problem,
                })?;
        }
        Ok(())
    }

    /// The VERP domain, lower-cased, when set and not empty.
    pub fn verp_domain(&self) -> Option<String> {
        self.domain
            .as_deref()
            .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|d| !d.is_empty())
    }

    pub fn complaints_address(&self) -> Option<String> {
        self.complaints_address
            .as_deref()
            .map(|a| a.trim().to_ascii_lowercase())
            .filter(|a| !a.is_empty())
    }

    pub fn listen_address(&self) -> Result<Option<SocketAddr>, ConfigError> {
        super::listen_address(self.listen.as_deref(), "mail.bounce.listen", "0.0.0.0:25")
    }
}
