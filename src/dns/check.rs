//! Each expected record against what DNS answers now.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::{ResolveError, TokioResolver};

use super::records::{Expected, RecordKind};

/// What DNS says of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Published as expected (what was found).
    Right(String),
    /// Something else is published (what, and why it is wrong).
    Wrong(String),
    /// Nothing is published.
    Missing,
    /// DNS could not be asked.
    Unreachable(String),
}

/// Looks every record up, through `servers` (the system's resolvers when
/// empty).
pub async fn check(records: &[Expected], servers: &[SocketAddr]) -> Vec<Finding> {
    let resolver = match resolver(servers) {
        Ok(resolver) => resolver,
        Err(error) => {
            return records
                .iter()
                .map(|_| Finding::Unreachable(error.to_string()))
                .collect();
        }
    };
    let mut findings = Vec::with_capacity(records.len());
    for record in records {
        findings.push(match record.kind {
            RecordKind::Mx => mx(&resolver, record).await,
            _ => txt(&resolver, record).await,
        });
    }
    findings
}

fn resolver(servers: &[SocketAddr]) -> Result<TokioResolver, ResolveError> {
    let mut builder = if servers.is_empty() {
        TokioResolver::builder_tokio()?
    } else {
        let mut config = ResolverConfig::new();
        for server in servers {
            config.add_name_server(NameServerConfig::new(*server, Protocol::Udp));
        }
        TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
    };
    let mut options = ResolverOpts::default();
    options.timeout = Duration::from_secs(2);
    options.attempts = 1;
    // the check must see a change as soon as it is published
    options.cache_size = 0;
    *builder.options_mut() = options;
    Ok(builder.build())
}

async fn txt(resolver: &TokioResolver, record: &Expected) -> Finding {
    let found: Vec<String> = match resolver.txt_lookup(fqdn(&record.name)).await {
        Ok(lookup) => lookup
            .iter()
            .map(|txt| {
                txt.txt_data()
                    .iter()
                    .map(|part| String::from_utf8_lossy(part).into_owned())
                    .collect::<String>()
            })
            .collect(),
        Err(error) if error.is_no_records_found() => Vec::new(),
        Err(error) => return Finding::Unreachable(error.to_string()),
    };
    let tag = match record.kind {
        RecordKind::Dkim => "v=dkim1",
        RecordKind::Spf => "v=spf1",
        _ => "v=dmarc1",
    };
    let matching: Vec<&String> = found
        .iter()
        .filter(|value| value.trim().to_ascii_lowercase().starts_with(tag))
        .collect();
    match (record.kind, matching.as_slice()) {
        (_, []) => Finding::Missing,
        (RecordKind::Spf, [_, _, ..]) => Finding::Wrong(format!(
            "{} SPF records; receivers treat more than one as an error",
            matching.len()
        )),
        (RecordKind::Dkim, [published, ..]) => {
            if key_of(published) == key_of(&record.value) {
                Finding::Right((*published).clone())
            } else {
                Finding::Wrong(format!("another key is published: {published}"))
            }
        }
        (_, [published, ..]) => Finding::Right((*published).clone()),
    }
}

async fn mx(resolver: &TokioResolver, record: &Expected) -> Finding {
    let hosts: Vec<String> = match resolver.mx_lookup(fqdn(&record.name)).await {
        Ok(lookup) => lookup
            .iter()
            .map(|mx| {
                mx.exchange()
                    .to_ascii()
                    .trim_end_matches('.')
                    .to_ascii_lowercase()
            })
            .collect(),
        Err(error) if error.is_no_records_found() => Vec::new(),
        Err(error) => return Finding::Unreachable(error.to_string()),
    };
    let wanted = record
        .value
        .split_whitespace()
        .last()
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if hosts.is_empty() {
        Finding::Missing
    } else if hosts.contains(&wanted) {
        Finding::Right(hosts.join(", "))
    } else {
        Finding::Wrong(format!("points at {}, not {wanted}", hosts.join(", ")))
    }
}

/// The `p=` of a DKIM record, without spaces.
fn key_of(record: &str) -> String {
    record
        .split(';')
        .filter_map(|tag| tag.split_once('='))
        .find(|(name, _)| name.trim() == "p")
        .map(|(_, value)| value.chars().filter(|c| !c.is_whitespace()).collect())
        .unwrap_or_default()
}

fn fqdn(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}
