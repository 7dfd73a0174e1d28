//! Logging: `tracing` with a pretty or JSON formatter. Request spans carry a
//! request id (tracing-actix-web), so every line logged while serving a
//! request names it. `RUST_LOG`, when set, wins over `log.level`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogFormat, LogSettings};

pub fn init(settings: &LogSettings) {
    // tokio-cron-scheduler narrates every job at info, and sqlx logs
    // PostgreSQL's notices there (`relation "_sqlx_migrations" already
    // exists, skipping` on every start and command): their warnings suffice.
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| {
            EnvFilter::try_new(format!(
                "{},tokio_cron_scheduler=warn,sqlx::postgres::notice=warn",
                settings.level
            ))
        })
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    // try_init: a second call (tests, or a CLI command after serve) keeps the first.
    let _ = match settings.format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(tracing_subscriber::fmt::layer().with_target(false))
            .try_init(),
    };
}

/// Masks an address for logs: `amina@example.org` → `a***@example.org`.
pub fn mask_email(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::mask_email;

    #[test]
    fn masks_local_part() {
        assert_eq!(mask_email("amina@example.org"), "a***@example.org");
        assert_eq!(mask_email("garbage"), "***");
    }
}
