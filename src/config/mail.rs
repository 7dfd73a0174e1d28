//! `[mail]`: how Gazette sends (a folder of `.eml` files or an SMTP relay),
//! as whom, how fast, how often it retries, and the DKIM key it signs with.

use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

use super::{BounceSettings, ConfigError, bad_if};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransportKind {
    File,
    Smtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    None,
    Starttls,
    Tls,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    pub transport: MailTransportKind,
    /// Where the `file` transport writes one `.eml` per message.
    pub outbox_dir: PathBuf,
    pub from: MailFrom,
    #[serde(default)]
    pub reply_to: Option<String>,
    /// `mailto:` address offered in `List-Unsubscribe` besides the https URL.
    #[serde(default)]
    pub unsubscribe_mailto: Option<String>,
    pub smtp: SmtpSettings,
    pub concurrency: usize,
    pub rate_per_second: u32,
    pub max_attempts: u32,
    pub bounce_threshold: u32,
    #[serde(default)]
    pub dkim: Option<DkimSettings>,
    #[serde(default)]
    pub bounce: BounceSettings,
    /// Hidden tuning key: the first retry waits about this long, each next
    /// one twice as long (capped at an hour). Tests lower it.
    #[serde(default = "mail_tuning::retry_base_ms")]
    pub retry_base_ms: u64,
    /// Hidden tuning key: how long a worker holds the rows it claimed; rows
    /// of a worker that died are claimed again after it.
    #[serde(default = "mail_tuning::lease_secs")]
    pub lease_secs: u64,
}

mod mail_tuning {
    pub fn retry_base_ms() -> u64 {
        30_000
    }
    pub fn lease_secs() -> u64 {
        300
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailFrom {
    /// Empty until the operator sets it: Gazette ships no sender.
    pub address: String,
    pub name: String,
}

impl MailFrom {
    /// What mail comes from while `mail.from.address` is unset: enough for
    /// the `.eml` files of the file transport, a confirmation or a test
    /// copy, never for an issue over SMTP (`issues::sender`).
    pub const PLACEHOLDER: &str = "newsletter@localhost";

    pub fn is_set(&self) -> bool {
        !self.address.trim().is_empty()
    }

    /// `mail.from.address`, or [`MailFrom::PLACEHOLDER`] while unset.
    pub fn address_or_placeholder(&self) -> &str {
        if self.is_set() {
            self.address.trim()
        } else {
            Self::PLACEHOLDER
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<SecretString>,
    pub pool_size: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkimSettings {
    pub domain: String,
    pub selector: String,
    pub private_key_path: PathBuf,
}

impl MailSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        bad_if(
            self.from.is_set() && !self.from.address.contains('@'),
            "mail.from.address",
            "must be an email address (or empty until you have one)",
        )?;
        bad_if(
            self.concurrency == 0,
            "mail.concurrency",
            "must be at least 1",
        )?;
        bad_if(
            self.rate_per_second == 0,
            "mail.rate_per_second",
            "must be at least 1",
        )?;
        bad_if(
            self.max_attempts == 0,
            "mail.max_attempts",
            "must be at least 1",
        )?;
        bad_if(
            self.retry_base_ms == 0,
            "mail.retry_base_ms",
            "must be at least 1",
        )?;
        bad_if(
            self.lease_secs == 0,
            "mail.lease_secs",
            "must be at least 1",
        )?;
        bad_if(
            self.bounce_threshold == 0,
            "mail.bounce_threshold",
            "must be at least 1",
        )?;
        bad_if(
            self.smtp.pool_size == 0,
            "mail.smtp.pool_size",
            "must be at least 1",
        )?;
        bad_if(
            self.transport == MailTransportKind::Smtp && self.smtp.host.is_empty(),
            "mail.smtp.host",
            "is required when mail.transport = \"smtp\"",
        )?;
        bad_if(
            self.smtp.username.is_some() != self.smtp.password.is_some(),
            "mail.smtp.password",
            "mail.smtp.username and mail.smtp.password go together",
        )?;
        self.bounce.validate()
    }
}
