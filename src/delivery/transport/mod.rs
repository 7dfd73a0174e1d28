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
//!
//! On plain and STARTTLS sessions lettre sets the session up (greeting,
//! EHLO, STARTTLS, AUTH) and Gazette writes each transaction itself through
//! lettre's raw command call: `MAIL`, `RCPT` and `DATA` in one write when
//! the server offers PIPELINING (RFC 2920), then the message in one write.
//! lettre's own send waits for each reply in turn and copies the message a
//! byte at a time to dot-stuff it, which took a sixth of the sender's CPU;
//! Gazette's messages need no stuffing (quoted-printable escapes a leading
//! dot), so a quick search for a line starting with `.` is all it costs.

use std::sync::Arc;

use lettre::address::Envelope;

use crate::config::{MailSettings, MailTransportKind};

mod file;
mod smtp;

pub use file::FileTransport;
pub use smtp::SmtpTransport;

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
            smtp.shutdown().await;
        }
    }
}
