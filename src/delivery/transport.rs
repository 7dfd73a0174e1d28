//! How messages leave: the `file` transport (one `.eml` per message under
//! `mail.outbox_dir`, written under a temporary name and renamed, so a
//! reader never sees half a file) and the `smtp` transport (lettre's async
//! SMTP client with a pool of `mail.smtp.pool_size` connections).
//!
//! lettre's pool caps only idle connections, so the SMTP transport bounds
//! the sessions in use with its own semaphore. A pooled connection that the
//! server closed while idle (lettre issue #743) makes a send fail without
//! any SMTP reply; such a send is tried once more on a fresh connection
//! before it counts as a failure.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::{PoolConfig, SMTP_PORT};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;
use tokio::sync::Semaphore;

use crate::config::{MailSettings, MailTransportKind, SmtpTls};

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("mail.smtp: {0}")]
    Setup(String),
    #[error("mail.outbox_dir: cannot create {path}: {reason}")]
    OutboxDir { path: String, reason: String },
}

/// Why a send failed, which decides what happens to the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendFailure {
    /// A 4xx reply: try again later.
    Transient(String),
    /// A 5xx reply: the address is bad, a hard bounce.
    Permanent(String),
    /// No reply at all (connection refused, dropped, timed out, TLS): try
    /// again later.
    Connection(String),
}

impl SendFailure {
    pub fn message(&self) -> &str {
        match self {
            SendFailure::Transient(m) | SendFailure::Permanent(m) | SendFailure::Connection(m) => m,
        }
    }
}

pub enum Transport {
    File(FileTransport),
    Smtp(SmtpTransport),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::File(t) => write!(f, "Transport::File({})", t.dir.display()),
            Transport::Smtp(_) => f.write_str("Transport::Smtp"),
        }
    }
}

impl Transport {
    pub fn from_settings(mail: &MailSettings) -> Result<Transport, TransportError> {
        match mail.transport {
            MailTransportKind::File => Ok(Transport::File(FileTransport::new(
                mail.outbox_dir.clone(),
            )?)),
            MailTransportKind::Smtp => Ok(Transport::Smtp(SmtpTransport::new(mail)?)),
        }
    }

    pub async fn send(&self, envelope: &Envelope, bytes: Arc<Vec<u8>>) -> Result<(), SendFailure> {
        match self {
            Transport::File(file) => file.write(bytes).await,
            Transport::Smtp(smtp) => smtp.send(envelope, &bytes).await,
        }
    }

    /// Closes pooled connections (QUIT) at shutdown.
    pub async fn shutdown(&self) {
        if let Transport::Smtp(smtp) = self {
            smtp.inner.shutdown().await;
        }
    }
}

pub struct FileTransport {
    dir: PathBuf,
    counter: AtomicU64,
}

impl FileTransport {
    fn new(dir: PathBuf) -> Result<FileTransport, TransportError> {
        std::fs::create_dir_all(&dir).map_err(|e| TransportError::OutboxDir {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(FileTransport {
            dir,
            counter: AtomicU64::new(0),
        })
    }

    async fn write(&self, bytes: Arc<Vec<u8>>) -> Result<(), SendFailure> {
        let sequence = self.counter.fetch_add(1, Ordering::Relaxed);
        // time first, so a listing sorts oldest first; pid and sequence make
        // names unique across instances writing to one folder
        let name = format!(
            "{}-{}-{sequence:06}.eml",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
            std::process::id()
        );
        let dir = self.dir.clone();
        let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            let temp = dir.join(format!(".{name}.tmp"));
            std::fs::write(&temp, bytes.as_slice())?;
            std::fs::rename(&temp, dir.join(&name))
        })
        .await;
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(SendFailure::Connection(format!(
                "cannot write to the outbox folder: {e}"
            ))),
            Err(e) => Err(SendFailure::Connection(format!(
                "outbox writer failed: {e}"
            ))),
        }
    }
}

pub struct SmtpTransport {
    inner: AsyncSmtpTransport<Tokio1Executor>,
    sessions: Semaphore,
}

impl SmtpTransport {
    fn new(mail: &MailSettings) -> Result<SmtpTransport, TransportError> {
        let smtp = &mail.smtp;
        let tls_parameters = || {
            TlsParameters::new(smtp.host.clone()).map_err(|e| TransportError::Setup(e.to_string()))
        };
        let tls = match smtp.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls => Tls::Required(tls_parameters()?),
            SmtpTls::Tls => Tls::Wrapper(tls_parameters()?),
        };
        let port = if smtp.port == 0 { SMTP_PORT } else { smtp.port };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            .port(port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(30)))
            .pool_config(
                PoolConfig::new()
                    .max_size(smtp.pool_size)
                    .idle_timeout(Duration::from_secs(60)),
            );
        if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_string(),
            ));
        }
        Ok(SmtpTransport {
            inner: builder.build(),
            sessions: Semaphore::new(smtp.pool_size as usize),
        })
    }

    async fn send(&self, envelope: &Envelope, bytes: &[u8]) -> Result<(), SendFailure> {
        let Ok(_session) = self.sessions.acquire().await else {
            return Err(SendFailure::Connection("transport closed".into()));
        };
        match self.inner.send_raw(envelope, bytes).await {
            Ok(_) => Ok(()),
            Err(error) if is_dead_connection(&error) => {
                // lettre #743: the pooled connection was already closed by
                // the server; lettre drops it, so this try gets a fresh one.
                self.inner
                    .send_raw(envelope, bytes)
                    .await
                    .map(|_| ())
                    .map_err(|e| classify(&e))
            }
            Err(error) => Err(classify(&error)),
        }
    }
}

/// A failure with no SMTP reply: the connection, not the message, is at
/// fault.
fn is_dead_connection(error: &lettre::transport::smtp::Error) -> bool {
    !error.is_transient() && !error.is_permanent() && !error.is_tls() && !error.is_client()
}

fn classify(error: &lettre::transport::smtp::Error) -> SendFailure {
    let message = error.to_string();
    if error.is_permanent() {
        SendFailure::Permanent(message)
    } else if error.is_transient() {
        SendFailure::Transient(message)
    } else {
        SendFailure::Connection(message)
    }
}
