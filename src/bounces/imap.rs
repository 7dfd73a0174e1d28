//! Polling a mailbox of reports (`mail.bounce.imap`), for a bounce domain
//! whose mail lands with a mail host rather than at Gazette's listener.
//! Every `poll_secs`, the messages not yet looked at are read (without
//! marking them read) and handed to the processor. Only a message it
//! understood (a report about a message of ours, recorded now or before)
//! is deleted; anything else (an auto-reply, a person writing, a report
//! about someone else's mail) stays in the mailbox for a person, flagged
//! with the keyword `$GazetteKept` so it is not read again. A message the
//! database could not take stays untouched and is read again next time.

use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt;
use secrecy::ExposeSecret;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::process::{Incoming, Processed, Processor};
use crate::config::{ImapSettings, ImapTls};
use crate::store::mail_events::MailEventSource;

/// The keyword on messages read and kept.
pub const KEPT: &str = "$GazetteKept";
/// Messages read in one poll, at most.
const BATCH: usize = 500;
/// Bodies fetched in one command.
const BODIES_AT_ONCE: usize = 25;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const POLL_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("cannot reach the mailbox: {0}")]
    Io(#[from] std::io::Error),
    #[error("IMAP: {0}")]
    Imap(#[from] async_imap::error::Error),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("the mailbox took too long to answer")]
    Timeout,
}

/// What one poll did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PollOutcome {
    /// Reports processed and deleted from the mailbox.
    pub processed: usize,
    /// Messages kept for a person.
    pub kept: usize,
    /// Messages the database could not take now, left for the next poll.
    pub retried: usize,
    /// More messages were waiting than one poll reads.
    pub more: bool,
}

/// Polls until `shutdown`.
pub async fn poll(
    processor: Processor,
    settings: ImapSettings,
    max_message_bytes: usize,
    shutdown: CancellationToken,
) {
    loop {
        let mut more = false;
        match poll_once(&processor, &settings, max_message_bytes).await {
            Ok(outcome) if outcome == PollOutcome::default() => {}
            Ok(outcome) => {
                more = outcome.more && outcome.processed + outcome.kept > 0;
                tracing::info!(
                    processed = outcome.processed,
                    kept = outcome.kept,
                    retried = outcome.retried,
                    "bounce mailbox read"
                );
            }
            Err(error) => tracing::warn!(%error, "cannot read the bounce mailbox"),
        }
        // A full mailbox is read on at once, batch after batch.
        if more && !shutdown.is_cancelled() {
            continue;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(settings.poll_secs)) => {}
        }
    }
}

/// Connects, reads what is new, and logs out.
pub async fn poll_once(
    processor: &Processor,
    settings: &ImapSettings,
    max_message_bytes: usize,
) -> Result<PollOutcome, ImapError> {
    let tcp = tokio::time::timeout(
        CONNECT_TIMEOUT,
        TcpStream::connect((settings.host.as_str(), settings.port)),
    )
    .await
    .map_err(|_| ImapError::Timeout)??;
    let reading = async {
        match settings.tls {
            ImapTls::None => read_mailbox(tcp, processor, settings, max_message_bytes).await,
            ImapTls::Tls => {
                let tls = tls_connector()?;
                let name = rustls_pki_types::ServerName::try_from(settings.host.clone())
                    .map_err(|e| ImapError::Tls(e.to_string()))?;
                let stream = tls.connect(name, tcp).await?;
                read_mailbox(stream, processor, settings, max_message_bytes).await
            }
        }
    };
    tokio::time::timeout(POLL_TIMEOUT, reading)
        .await
        .map_err(|_| ImapError::Timeout)?
}

fn tls_connector() -> Result<tokio_rustls::TlsConnector, ImapError> {
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| ImapError::Tls(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

async fn read_mailbox<T>(
    stream: T,
    processor: &Processor,
    settings: &ImapSettings,
    max_message_bytes: usize,
) -> Result<PollOutcome, ImapError>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let mut client = async_imap::Client::new(stream);
    // the server's greeting
    client.read_response().await?;
    let mut session = client
        .login(&settings.username, settings.password.expose_secret())
        .await
        .map_err(|(error, _)| error)?;
    session.select(&settings.mailbox).await?;
    let mut uids: Vec<u32> = session
        .uid_search(format!("UNDELETED UNKEYWORD {KEPT}"))
        .await?
        .into_iter()
        .collect();
    uids.sort_unstable();
    let mut outcome = PollOutcome {
        more: uids.len() > BATCH,
        ..PollOutcome::default()
    };
    uids.truncate(BATCH);
    if uids.is_empty() {
        session.logout().await?;
        return Ok(outcome);
    }
    let sizes: Vec<(u32, u32)> = session
        .uid_fetch(set(&uids), "(UID RFC822.SIZE)")
        .await?
        .try_filter_map(|fetch| async move { Ok(fetch.uid.zip(fetch.size)) })
        .try_collect()
        .await?;
    let mut kept: Vec<u32> = Vec::new();
    let mut done: Vec<u32> = Vec::new();
    let small: Vec<u32> = sizes
        .iter()
        .filter(|(_, size)| (*size as usize) <= max_message_bytes)
        .map(|(uid, _)| *uid)
        .collect();
    kept.extend(
        sizes
            .iter()
            .filter(|(_, size)| (*size as usize) > max_message_bytes)
            .map(|(uid, _)| *uid),
    );
    for chunk in small.chunks(BODIES_AT_ONCE) {
        let bodies: Vec<(u32, Vec<u8>)> = session
            .uid_fetch(set(chunk), "(UID BODY.PEEK[])")
            .await?
            .try_filter_map(
                |fetch| async move { Ok(fetch.uid.zip(fetch.body().map(<[u8]>::to_vec))) },
            )
            .try_collect()
            .await?;
        for (uid, body) in bodies {
            let incoming = Incoming {
                source: MailEventSource::Imap,
                raw: &body,
                envelope_recipient: None,
            };
            match processor.process(incoming).await {
                Ok(Processed::Recorded { .. } | Processed::Duplicate | Processed::DmarcReport) => {
                    done.push(uid)
                }
                Ok(Processed::NotAReport | Processed::Unmatched) => kept.push(uid),
                Err(error) => {
                    tracing::warn!(%error, "cannot record a report from the mailbox; it stays for the next poll");
                    outcome.retried += 1;
                }
            }
        }
    }
    if !kept.is_empty() {
        session
            .uid_store(set(&kept), format!("+FLAGS.SILENT ({KEPT})"))
            .await?
            .try_collect::<Vec<_>>()
            .await?;
    }
    if !done.is_empty() {
        session
            .uid_store(set(&done), "+FLAGS.SILENT (\\Deleted)")
            .await?
            .try_collect::<Vec<_>>()
            .await?;
        // UID EXPUNGE removes these and nothing a person marked deleted;
        // without UIDPLUS they stay marked, for the server or a person.
        if session.capabilities().await?.has_str("UIDPLUS") {
            session
                .uid_expunge(set(&done))
                .await?
                .try_collect::<Vec<_>>()
                .await?;
        }
    }
    session.logout().await?;
    outcome.processed = done.len();
    outcome.kept = kept.len();
    Ok(outcome)
}

fn set(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}
