//! `[mail.bounce]`: where bounces and complaints that arrive after the
//! relay accepted a message come back. With `domain` set, every message's
//! envelope sender (its Return-Path) names its delivery under that domain;
//! `listen` receives the reports by SMTP (the domain's MX points at it).

use std::net::SocketAddr;

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
        )
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
        self.listen
            .as_deref()
            .map(str::trim)
            .filter(|listen| !listen.is_empty())
            .map(|listen| {
                listen.parse().map_err(|_| ConfigError::BadValue {
                    key: "mail.bounce.listen",
                    problem: format!("{listen:?} is not an address and port like 0.0.0.0:25"),
                })
            })
            .transpose()
    }
}
