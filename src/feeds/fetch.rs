//! Fetching a feed over HTTP with a conditional GET (`If-None-Match`,
//! `If-Modified-Since`), so an unchanged feed costs a 304 and no parsing.
//! Every fetch is bounded: a total timeout, a connect timeout, a few
//! redirects, and a body cap, so a slow or huge feed is an error recorded on
//! that feed, never a stuck poller or an exhausted memory.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};

/// Larger feed bodies are refused: real feeds are well under a megabyte.
pub const MAX_FEED_BYTES: usize = 5 * 1024 * 1024;
const TIMEOUT: Duration = Duration::from_secs(20);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("the feed answered HTTP {0}")]
    Status(u16),
    #[error("the feed is larger than {} MB", MAX_FEED_BYTES / (1024 * 1024))]
    TooLarge,
    #[error("the feed did not answer within {} s", TIMEOUT.as_secs())]
    Timeout,
    #[error("cannot fetch the feed: {0}")]
    Network(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

impl From<reqwest::Error> for FetchError {
    fn from(error: reqwest::Error) -> FetchError {
        if error.is_timeout() {
            FetchError::Timeout
        } else {
            // the chain holds the useful part ("connection refused")
            let mut message = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                message.push_str(": ");
                message.push_str(&cause.to_string());
                source = cause.source();
            }
            FetchError::Network(message)
        }
    }
}

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
}

impl FeedFetcher {
    pub fn new() -> Result<FeedFetcher, FetchError> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(5))
            .user_agent(concat!(
                "Gazette/",
                env!("CARGO_PKG_VERSION"),
                " (feed poller)"
            ))
            .build()
            .map_err(|e| FetchError::Client(e.to_string()))?;
        Ok(FeedFetcher { client })
    }

    pub async fn fetch(
        &self,
        url: &str,
        etag: Option<&str>,
        last_modified: Option<&str>,
    ) -> Result<Fetched, FetchError> {
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
