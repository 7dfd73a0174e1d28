//! `[server]` and `[metrics]`: where Gazette listens, which proxies it
//! believes, the keys that sign links and sessions, and the limits that keep
//! a hostile client from taking it down.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{ConfigError, bad_if};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    /// Public URL used in every link Gazette writes (emails, redirects).
    pub base_url: String,
    /// Signs unsubscribe and preference links and session cookies. When unset,
    /// a random key is generated once and kept in the database, so every
    /// instance sharing that database agrees on it.
    #[serde(default)]
    pub secret_key: Option<SecretString>,
    /// Keys that signed links and sessions before `secret_key` changed: still
    /// accepted, never used to sign, so mailed links keep working while the
    /// key is rotated.
    #[serde(default)]
    pub previous_secret_keys: Vec<SecretString>,
    /// Proxies whose `X-Forwarded-For` is believed (addresses or networks).
    #[serde(default = "defaults::trusted_proxies")]
    pub trusted_proxies: Vec<String>,
    /// Signup rate limits. Hidden keys: tests lower them, benchmarks raise
    /// them.
    #[serde(default = "defaults::signup_per_ip_per_minute")]
    pub signup_per_ip_per_minute: u32,
    #[serde(default = "defaults::signup_ip_burst")]
    pub signup_ip_burst: u32,
    #[serde(default = "defaults::signup_per_address_per_hour")]
    pub signup_per_address_per_hour: u32,
    /// Login attempts a client network may make a minute, whatever the
    /// addresses it tries.
    #[serde(default = "defaults::login_per_ip_per_minute")]
    pub login_per_ip_per_minute: u32,
    /// Password checks that may run at once (0: one per core) and how many
    /// may wait for one (0: four per check); hidden keys for tests.
    #[serde(default)]
    pub login_hash_concurrency: usize,
    #[serde(default)]
    pub login_hash_queue: usize,
    /// Requests to token pages (`/confirm`, `/unsubscribe`, `/preferences`)
    /// a client network may make a minute.
    #[serde(default = "defaults::token_pages_per_ip_per_minute")]
    pub token_pages_per_ip_per_minute: u32,
}

/// Why each default: a person signs up once, maybe fixes a typo and tries
/// again, and a shared office or school network sends a few people at once;
/// ten a minute with a burst of twenty lets all of them through and stops a
/// script. Nobody enters the same address more than three times an hour.
/// An editor who forgot a password tries a few times a minute; a whole
/// newsroom behind one address rarely logs in ten times in one. Token pages
/// are opened once per email, at worst a few times when a mail scanner
/// fetches them too.
mod defaults {
    pub fn trusted_proxies() -> Vec<String> {
        vec!["127.0.0.0/8".into(), "::1/128".into()]
    }
    pub fn signup_per_ip_per_minute() -> u32 {
        10
    }
    pub fn signup_ip_burst() -> u32 {
        20
    }
    pub fn signup_per_address_per_hour() -> u32 {
        3
    }
    pub fn login_per_ip_per_minute() -> u32 {
        10
    }
    pub fn token_pages_per_ip_per_minute() -> u32 {
        60
    }
}

/// The shortest `secret_key` that is not warned about: 32 bytes, the size
/// of the generated one.
pub const MIN_SECRET_KEY_BYTES: usize = 32;

impl ServerSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        bad_if(
            self.signup_per_ip_per_minute == 0
                || self.signup_ip_burst == 0
                || self.signup_per_address_per_hour == 0,
            "server.signup_per_ip_per_minute",
            "signup rate limits must be at least 1",
        )?;
        bad_if(
            self.login_per_ip_per_minute == 0,
            "server.login_per_ip_per_minute",
            "must be at least 1",
        )?;
        bad_if(
            self.token_pages_per_ip_per_minute == 0,
            "server.token_pages_per_ip_per_minute",
            "must be at least 1",
        )?;
        bad_if(
            self.previous_secret_keys
                .iter()
                .any(|key| key.expose_secret().is_empty()),
            "server.previous_secret_keys",
            "a previous key cannot be empty",
        )?;
        self.trusted_proxy_networks()?;
        Ok(())
    }

    /// `trusted_proxies` parsed: each entry an address or a network.
    pub fn trusted_proxy_networks(&self) -> Result<Vec<IpNet>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| ConfigError::BadValue {
                        key: "server.trusted_proxies",
                        problem: format!("{entry:?} is not an IP address or network"),
                    })
            })
            .collect()
    }

    /// The configured secret key when it is shorter than it should be.
    pub fn short_secret_key(&self) -> Option<usize> {
        let key = self.secret_key.as_ref()?.expose_secret();
        (!key.is_empty() && key.len() < MIN_SECRET_KEY_BYTES).then_some(key.len())
    }
}

/// `[metrics]`: who may read `/metrics`, which tells how many signups had
/// each outcome and so, read before and after a signup, whether someone is
/// subscribed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// On the public listener `/metrics` answers only with
    /// `Authorization: Bearer <token>`; without a token it is not there.
    #[serde(default)]
    pub token: Option<SecretString>,
    /// A second address (for example `127.0.0.1:9090`) that serves
    /// `/metrics` alone without a token, for a Prometheus on the machine.
    #[serde(default)]
    pub listen: Option<String>,
}

impl MetricsSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        bad_if(
            self.token
                .as_ref()
                .is_some_and(|token| token.expose_secret().trim().len() < 16),
            "metrics.token",
            "must be at least 16 characters",
        )?;
        self.listen_address()?;
        Ok(())
    }

    /// `listen` parsed.
    pub fn listen_address(&self) -> Result<Option<SocketAddr>, ConfigError> {
        super::listen_address(self.listen.as_deref(), "metrics.listen", "127.0.0.1:9090")
    }
}
