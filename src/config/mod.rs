//! Gazette's settings: compiled defaults, then `config/default.toml`, then
//! `config/$GAZETTE_ENV.toml`, then `DATABASE_URL`, then `GAZETTE__SECTION__KEY`
//! variables. Everything is parsed and checked here, once, so the rest of the
//! program holds typed values; a bad value becomes one [`ConfigError`] line
//! that names the key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

mod bounce;
mod mail;
mod server;
mod subscriptions;

pub use bounce::{
    BounceSettings, ImapSettings, ImapTls, MailgunWebhook, PostmarkWebhook, SendgridWebhook,
    SesWebhook, WebhookSettings,
};
pub use mail::{DkimSettings, MailFrom, MailSettings, MailTransportKind, SmtpSettings, SmtpTls};
pub use server::{MIN_SECRET_KEY_BYTES, MetricsSettings, ServerSettings};
pub use subscriptions::SubscriptionSettings;

/// The defaults compiled into the binary, so Gazette starts even without a
/// `config/` folder. `config/default.toml` repeats them with comments.
const COMPILED_DEFAULTS: &str = include_str!("../../config/default.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration error: {0}")]
    Invalid(String),
    #[error("configuration error: {key}: {problem}")]
    BadValue { key: &'static str, problem: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub mail: MailSettings,
    pub site: SiteSettings,
    #[serde(default)]
    pub templates: TemplateSettings,
    pub scheduling: SchedulingSettings,
    pub log: LogSettings,
    #[serde(default)]
    pub metrics: MetricsSettings,
    #[serde(default)]
    pub feeds: FeedSettings,
    #[serde(default)]
    pub dns: DnsSettings,
    #[serde(default)]
    pub subscriptions: SubscriptionSettings,
}

/// `[dns]`: where the DNS check of the sending records asks.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsSettings {
    /// Resolvers as `address:port`; the system's (resolv.conf) when empty.
    #[serde(default)]
    pub servers: Vec<String>,
}

impl DnsSettings {
    pub fn server_addresses(&self) -> Result<Vec<std::net::SocketAddr>, ConfigError> {
        self.servers
            .iter()
            .map(|server| {
                server.trim().parse().map_err(|_| ConfigError::BadValue {
                    key: "dns.servers",
                    problem: format!("{server:?} is not an address and port like 127.0.0.1:53"),
                })
            })
            .collect()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: SecretString,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSettings {
    pub name: String,
    /// The postal address bulk mail must carry; empty until set.
    pub postal_address: String,
}

impl SiteSettings {
    pub fn has_postal_address(&self) -> bool {
        !self.postal_address.trim().is_empty()
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSettings {
    #[serde(default)]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulingSettings {
    #[serde(with = "humantime_serde")]
    pub catch_up_grace: Duration,
    /// How far back a newsletter's first issue looks for stories when it
    /// has no schedule to take the previous period from (or is built by
    /// hand).
    #[serde(with = "humantime_serde", default = "first_issue_window")]
    pub first_issue_window: Duration,
    /// Runs the scheduler loop in this instance. Tests turn it off and drive
    /// the scheduler's `tick` with their own clock.
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn enabled() -> bool {
    true
}

fn first_issue_window() -> Duration {
    Duration::from_secs(7 * 86_400)
}

/// `[feeds]`: what the feed poller may reach.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedSettings {
    /// Feeds on loopback, private, link-local and other non-public
    /// addresses are refused unless this is on (an intranet CMS): otherwise
    /// anyone who may add a feed could make Gazette fetch the cloud's
    /// metadata service or a database port inside the network.
    #[serde(default)]
    pub allow_private_addresses: bool,
    /// Test-only: host names answered without DNS, as `curl --resolve` does,
    /// so a test can serve a "public" feed on loopback.
    #[serde(default)]
    pub test_resolve: std::collections::BTreeMap<String, std::net::IpAddr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub level: String,
    pub format: LogFormat,
}

impl Settings {
    /// Reads the layers from `config_dir` and the process environment.
    pub fn load(config_dir: &Path) -> Result<Settings, ConfigError> {
        let env_name = std::env::var("GAZETTE_ENV").ok();
        Self::load_with(config_dir, env_name.as_deref(), std::env::vars())
    }

    /// The same as [`Settings::load`] with the environment passed in, so tests
    /// do not have to mutate the process environment.
    pub fn load_with(
        config_dir: &Path,
        env_name: Option<&str>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(
                COMPILED_DEFAULTS,
                config::FileFormat::Toml,
            ))
            .add_source(config::File::from(config_dir.join("default.toml")).required(false));
        if let Some(env_name) = env_name.filter(|name| !name.is_empty()) {
            let file = config_dir.join(format!("{env_name}.toml"));
            if !file.exists() {
                return Err(ConfigError::BadValue {
                    key: "GAZETTE_ENV",
                    problem: format!("{} does not exist", file.display()),
                });
            }
            builder = builder.add_source(config::File::from(file));
        }
        let vars: Vec<(String, String)> = vars.into_iter().collect();
        if let Some((_, url)) = vars.iter().find(|(key, _)| key == "DATABASE_URL") {
            builder = builder
                .set_override("database.url", url.as_str())
                .map_err(|e| ConfigError::Invalid(one_line(&e.to_string())))?;
        }
        let gazette_vars: config::Map<String, String> = vars
            .into_iter()
            .filter(|(key, _)| key.starts_with("GAZETTE__"))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("GAZETTE")
                .prefix_separator("__")
                .separator("__")
                .source(Some(gazette_vars))
                .try_parsing(true),
        );
        let settings: Settings = builder
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| ConfigError::Invalid(one_line(&e.to_string())))?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let base = url::Url::parse(&self.server.base_url).map_err(|e| ConfigError::BadValue {
            key: "server.base_url",
            problem: format!("not a URL ({e})"),
        })?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(ConfigError::BadValue {
                key: "server.base_url",
                problem: "must start with http:// or https://".into(),
            });
        }
        self.server.validate()?;
        self.metrics.validate()?;
        bad_if(
            self.database.max_connections == 0,
            "database.max_connections",
            "must be at least 1",
        )?;
        self.mail.validate()?;
        self.dns.server_addresses()?;
        tracing_subscriber::EnvFilter::try_new(&self.log.level).map_err(|e| {
            ConfigError::BadValue {
                key: "log.level",
                problem: one_line(&e.to_string()),
            }
        })?;
        Ok(())
    }

    /// The public base URL without a trailing slash, ready for `format!("{}/path")`.
    pub fn base_url(&self) -> &str {
        self.server.base_url.trim_end_matches('/')
    }
}

/// An optional `address:port` setting (unset or empty: none).
fn listen_address(
    value: Option<&str>,
    key: &'static str,
    example: &str,
) -> Result<Option<std::net::SocketAddr>, ConfigError> {
    value
        .map(str::trim)
        .filter(|listen| !listen.is_empty())
        .map(|listen| {
            listen.parse().map_err(|_| ConfigError::BadValue {
                key,
                problem: format!("{listen:?} is not an address and port like {example}"),
            })
        })
        .transpose()
}

fn bad_if(condition: bool, key: &'static str, problem: &str) -> Result<(), ConfigError> {
    if condition {
        Err(ConfigError::BadValue {
            key,
            problem: problem.to_string(),
        })
    } else {
        Ok(())
    }
}

/// Start-up errors are printed as one line; some library messages span several.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let vars = vars.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Settings::load_with(Path::new("/nonexistent"), None, vars)
    }

    #[test]
    fn compiled_defaults_run_on_sqlite_with_file_mail() {
        let settings = load(&[]).unwrap();
        assert_eq!(settings.server.port, 8080);
        assert_eq!(settings.mail.transport, MailTransportKind::File);
        use secrecy::ExposeSecret;
        assert!(settings.database.url.expose_secret().starts_with("sqlite:"));
    }

    #[test]
    fn environment_overrides_nested_keys() {
        let settings = load(&[
            ("GAZETTE__MAIL__SMTP__HOST", "relay.example.org"),
            ("GAZETTE__MAIL__SMTP__POOL_SIZE", "7"),
            ("GAZETTE__SERVER__PORT", "9000"),
        ])
        .unwrap();
        assert_eq!(settings.mail.smtp.host, "relay.example.org");
        assert_eq!(settings.mail.smtp.pool_size, 7);
        assert_eq!(settings.server.port, 9000);
    }

    #[test]
    fn database_url_variable_is_honoured() {
        use secrecy::ExposeSecret;
        let settings = load(&[("DATABASE_URL", "postgres://u@h/db")]).unwrap();
        assert_eq!(settings.database.url.expose_secret(), "postgres://u@h/db");
    }

    #[test]
    fn bad_port_names_the_key_on_one_line() {
        let err = load(&[("GAZETTE__SERVER__PORT", "abc")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.port"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn bad_enum_and_url_are_refused() {
        let err = load(&[("GAZETTE__MAIL__TRANSPORT", "pigeon")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("mail.transport"), "{err}");
        let err = load(&[("GAZETTE__SERVER__BASE_URL", "ftp://x")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.base_url"), "{err}");
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let settings = load(&[
            ("GAZETTE__MAIL__SMTP__USERNAME", "user"),
            ("GAZETTE__MAIL__SMTP__PASSWORD", "hunter2-secret"),
        ])
        .unwrap();
        let debug = format!("{settings:?}");
        assert!(!debug.contains("hunter2-secret"));
    }
}
