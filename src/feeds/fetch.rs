//! Fetching a feed over HTTP with a conditional GET (`If-None-Match`,
//! `If-Modified-Since`), so an unchanged feed costs a 304 and no parsing.
//! Every fetch is bounded: a total timeout, a connect timeout, a few
//! redirects, and a body cap, so a slow or huge feed is an error recorded on
//! that feed, never a stuck poller or an exhausted memory. Only public
//! addresses are fetched ([`super::guard`]), no proxy from the environment
//! is used, and a failure is told in a few words that name no inner
//! detail, so the poll's error cannot serve as a port scanner.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};

use super::guard::{self, NotPublic, PublicOnly};
use crate::config::FeedSettings;

/// Larger feed bodies are refused: real feeds are well under a megabyte.
pub const MAX_FEED_BYTES: usize = 5 * 1024 * 1024;
const TIMEOUT: Duration = Duration::from_secs(20);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_REDIRECTS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("the feed answered HTTP {0}")]
    Status(u16),
    #[error("the feed is larger than {} MB", MAX_FEED_BYTES / (1024 * 1024))]
    TooLarge,
    #[error("the feed did not answer within {} s", TIMEOUT.as_secs())]
    Timeout,
    #[error("cannot connect to the feed's server")]
    Unreachable,
    #[error(transparent)]
    NotPublic(#[from] NotPublic),
    #[error("the feed redirects more than {MAX_REDIRECTS} times")]
    TooManyRedirects,
    #[error("the feed's server broke off the answer")]
    Broken,
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

impl From<reqwest::Error> for FetchError {
    fn from(error: reqwest::Error) -> FetchError {
        // The whole chain stays in the server's log; the feed's error (shown
        // to whoever may add feeds) says only what kind of failure it was.
        let mut chain = error.to_string();
        let mut source = std::error::Error::source(&error);
        let mut not_public = None;
        let mut too_many_redirects = false;
        while let Some(cause) = source {
            chain.push_str(": ");
            chain.push_str(&cause.to_string());
            if let Some(refused) = cause.downcast_ref::<NotPublic>() {
                not_public = Some(refused.clone());
            }
            too_many_redirects |= cause.downcast_ref::<TooManyRedirects>().is_some();
            source = cause.source();
        }
        tracing::debug!(error = %chain, "feed fetch failed");
        if let Some(refused) = not_public {
            FetchError::NotPublic(refused)
        } else if too_many_redirects {
            FetchError::TooManyRedirects
        } else if error.is_timeout() {
            FetchError::Timeout
        } else if error.is_connect() {
            FetchError::Unreachable
        } else {
            FetchError::Broken
        }
    }
}

/// The redirect policy's refusal of a long chain.
#[derive(Debug, thiserror::Error)]
#[error("too many redirects")]
struct TooManyRedirects;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    NotModified,
    Body {
        bytes: Vec<u8>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

/// One HTTP client shared by every poll (it pools connections).
#[derive(Debug, Clone)]
pub struct FeedFetcher {
    client: reqwest::Client,
    allow_private: bool,
}

impl FeedFetcher {
    pub fn new(settings: &FeedSettings) -> Result<FeedFetcher, FetchError> {
        let allow_private = settings.allow_private_addresses;
        let mut builder = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    return attempt.error(TooManyRedirects);
                }
                if allow_private {
                    return attempt.follow();
                }
                match guard::check_url(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(refused) => attempt.error(refused),
                }
            }))
            .user_agent(concat!(
                "Gazette/",
                env!("CARGO_PKG_VERSION"),
                " (feed poller)"
            ));
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        for (host, ip) in &settings.test_resolve {
            builder = builder.resolve(host, SocketAddr::new(*ip, 0));
        }
        let client = builder
            .build()
            .map_err(|e| FetchError::Client(e.to_string()))?;
        Ok(FeedFetcher {
            client,
            allow_private,
        })
    }

    /// Refuses at once a URL whose host is, or resolves only to, addresses
    /// the poller may not fetch; a name that does not resolve now passes
    /// (the feed may be down), and every fetch checks again.
    pub async fn check_reachable(&self, url: &url::Url) -> Result<(), NotPublic> {
        if self.allow_private {
            return Ok(());
        }
        guard::check_url(url)?;
        let Some(url::Host::Domain(host)) = url.host() else {
            return Ok(());
        };
        let Ok(name) = host.parse::<reqwest::dns::Name>() else {
            return Ok(());
        };
        match reqwest::dns::Resolve::resolve(&PublicOnly, name).await {
            Err(error) => match error.downcast::<NotPublic>() {
                Ok(refused) => Err(*refused),
                Err(_) => Ok(()),
            },
            Ok(_) => Ok(()),
        }
    }

    pub async fn fetch(
        &self,
        url: &str,
        etag: Option<&str>,
        last_modified: Option<&str>,
    ) -> Result<Fetched, FetchError> {
        if !self.allow_private {
            let parsed = url::Url::parse(url).map_err(|_| FetchError::Broken)?;
            guard::check_url(&parsed)?;
        }
        let mut request = self.client.get(url).header(
            reqwest::header::ACCEPT,
            "application/rss+xml, application/atom+xml, application/feed+json, \
             application/json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
        );
        if let Some(etag) = etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        if let Some(last_modified) = last_modified {
            request = request.header(IF_MODIFIED_SINCE, last_modified);
        }
        let mut response = request.send().await?;
        if response.status() == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|length| length > MAX_FEED_BYTES as u64)
        {
            return Err(FetchError::TooLarge);
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let etag = header(ETAG);
        let last_modified = header(LAST_MODIFIED);
        // Read chunk by chunk: a server that lies about its length (or
        // sends none) is stopped at the cap, not after.
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if bytes.len() + chunk.len() > MAX_FEED_BYTES {
                return Err(FetchError::TooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Fetched::Body {
            bytes,
            etag,
            last_modified,
        })
    }
}
