//! The `smtp` transport: lettre's async SMTP client, a pool of
//! `mail.smtp.pool_size` sessions, and each transaction written by
//! Gazette itself (see the module above).

use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Tls, TlsParameters};
use lettre::transport::smtp::commands::{Ehlo, Mail, Rcpt};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::{PoolConfig, SMTP_PORT};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;
use tokio::sync::Semaphore;

use super::{SendFailure, TransportError};
use crate::config::{MailSettings, SmtpTls};

/// SMTP with a pool of at most `mail.smtp.pool_size` sessions.
///
/// For plain and STARTTLS connections Gazette opens the TCP connection
/// itself, with `TCP_NODELAY`: lettre writes a message and its final
/// `.` line in two writes, and with Nagle's algorithm on, the second waits
/// for the server's delayed ACK (40 ms on Linux) on every message, which
/// caps a session at about 25 messages a second. Implicit TLS (port 465)
/// goes through lettre's own pooled transport, which cannot take an
/// existing socket there.
pub struct SmtpTransport {
    sessions: Semaphore,
    connector: Connector,
}

enum Connector {
    Own(OwnPool),
    Lettre(AsyncSmtpTransport<Tokio1Executor>),
}

struct OwnPool {
    host: String,
    port: u16,
    starttls: Option<TlsParameters>,
    credentials: Option<Credentials>,
    hello: ClientId,
    idle: std::sync::Mutex<Vec<(Session, Instant)>>,
}

/// A set-up SMTP session and whether its server takes pipelined commands.
struct Session {
    conn: AsyncSmtpConnection,
    pipelining: bool,
}

/// Idle sessions older than this are closed rather than reused: servers
/// drop idle clients after a while.
const IDLE_FOR: Duration = Duration::from_secs(50);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

impl SmtpTransport {
    pub(super) fn new(mail: &MailSettings) -> Result<SmtpTransport, TransportError> {
        let smtp = &mail.smtp;
        let tls_parameters = || {
            TlsParameters::new(smtp.host.clone()).map_err(|e| TransportError::Setup(e.to_string()))
        };
        let port = if smtp.port == 0 { SMTP_PORT } else { smtp.port };
        let credentials = match (&smtp.username, &smtp.password) {
            (Some(user), Some(password)) => Some(Credentials::new(
                user.clone(),
                password.expose_secret().to_string(),
            )),
            _ => None,
        };
        let connector = match smtp.tls {
            SmtpTls::None | SmtpTls::Starttls => Connector::Own(OwnPool {
                host: smtp.host.clone(),
                port,
                starttls: match smtp.tls {
                    SmtpTls::Starttls => Some(tls_parameters()?),
                    _ => None,
                },
                credentials,
                hello: ClientId::default(),
                idle: std::sync::Mutex::new(Vec::new()),
            }),
            SmtpTls::Tls => {
                let mut builder =
                    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
                        .port(port)
                        .tls(Tls::Wrapper(tls_parameters()?))
                        .timeout(Some(CONNECT_TIMEOUT))
                        .pool_config(
                            PoolConfig::new()
                                .max_size(smtp.pool_size)
                                .idle_timeout(IDLE_FOR),
                        );
                if let Some(credentials) = credentials {
                    builder = builder.credentials(credentials);
                }
                Connector::Lettre(builder.build())
            }
        };
        Ok(SmtpTransport {
            sessions: Semaphore::new(smtp.pool_size as usize),
            connector,
        })
    }

    pub(super) async fn send(&self, envelope: &Envelope, bytes: &[u8]) -> Result<(), SendFailure> {
        let Ok(_session) = self.sessions.acquire().await else {
            return Err(SendFailure::Connection("transport closed".into()));
        };
        match &self.connector {
            Connector::Own(pool) => pool.send(envelope, bytes).await,
            Connector::Lettre(transport) => match transport.send_raw(envelope, bytes).await {
                Ok(_) => Ok(()),
                // lettre #743: the pooled connection was already closed by
                // the server; lettre drops it, so this try gets a fresh one.
                Err(error) if is_dead_connection(&error) => transport
                    .send_raw(envelope, bytes)
                    .await
                    .map(|_| ())
                    .map_err(|e| classify(&e)),
                Err(error) => Err(classify(&error)),
            },
        }
    }

    pub(super) async fn shutdown(&self) {
        match &self.connector {
            Connector::Own(pool) => {
                let idle: Vec<_> = match pool.idle.lock() {
                    Ok(mut idle) => idle.drain(..).collect(),
                    Err(_) => Vec::new(),
                };
                for (mut session, _) in idle {
                    let _ = session.conn.quit().await;
                }
            }
            Connector::Lettre(transport) => transport.shutdown().await,
        }
    }
}

impl OwnPool {
    pub(super) async fn send(&self, envelope: &Envelope, bytes: &[u8]) -> Result<(), SendFailure> {
        let (mut session, reused) = match self.take_idle() {
            Some(session) => (session, true),
            None => (self.connect().await?, false),
        };
        match session.send(envelope, bytes).await {
            Ok(()) => {
                self.put_back(session);
                Ok(())
            }
            // lettre #743: a session the server closed while it sat idle
            // fails without a reply; that is not the message's fault, so it
            // goes again once on a fresh session.
            Err(Failed { error, reusable })
                if reused && !reusable && is_dead_connection(&error) =>
            {
                let mut fresh = self.connect().await?;
                match fresh.send(envelope, bytes).await {
                    Ok(()) => {
                        self.put_back(fresh);
                        Ok(())
                    }
                    Err(Failed { error, reusable }) => {
                        if reusable {
                            self.put_back(fresh);
                        }
                        Err(classify(&error))
                    }
                }
            }
            Err(Failed { error, reusable }) => {
                if reusable {
                    self.put_back(session);
                }
                Err(classify(&error))
            }
        }
    }

    fn take_idle(&self) -> Option<Session> {
        let mut idle = self.idle.lock().ok()?;
        while let Some((session, since)) = idle.pop() {
            if since.elapsed() < IDLE_FOR {
                return Some(session);
            }
            // too old: dropping it closes the socket
        }
        None
    }

    fn put_back(&self, session: Session) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push((session, Instant::now()));
        }
    }

    async fn connect(&self) -> Result<Session, SendFailure> {
        let unreachable = |e: std::io::Error| {
            SendFailure::Connection(format!(
                "cannot connect to {}:{}: {e}",
                self.host, self.port
            ))
        };
        let tcp = tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| unreachable(std::io::ErrorKind::TimedOut.into()))?
        .map_err(unreachable)?;
        tcp.set_nodelay(true).map_err(unreachable)?;
        let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
            .await
            .map_err(|e| classify(&e))?;
        if let Some(tls) = &self.starttls {
            conn.starttls(tls.clone(), &self.hello)
                .await
                .map_err(|e| classify(&e))?;
        }
        // lettre keeps no note of PIPELINING: ask once more (before AUTH,
        // which a later EHLO could reset)
        let pipelining = conn
            .command(Ehlo::new(self.hello.clone()))
            .await
            .map_err(|e| classify(&e))?
            .message()
            .any(|line| line.trim().eq_ignore_ascii_case("PIPELINING"));
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(|e| classify(&e))?;
        }
        Ok(Session { conn, pipelining })
    }
}

/// A failed transaction, and whether the session is still in step with
/// the server (a clean negative reply) or must be closed.
struct Failed {
    error: lettre::transport::smtp::Error,
    reusable: bool,
}

/// Text written to the server as it is, through lettre's command call.
struct Raw<'a>(&'a str);

impl std::fmt::Display for Raw<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl Session {
    /// One mail transaction. Messages that need SMTPUTF8 or 8BITMIME (or
    /// are not text) go through lettre's own send, which negotiates them.
    pub(super) async fn send(&mut self, envelope: &Envelope, bytes: &[u8]) -> Result<(), Failed> {
        let text = match std::str::from_utf8(bytes) {
            Ok(text) if text.is_ascii() && ascii_envelope(envelope) => text,
            _ => {
                return match self.conn.send(envelope, bytes).await {
                    Ok(_) => Ok(()),
                    Err(error) => Err(Failed {
                        error,
                        reusable: !self.conn.has_broken(),
                    }),
                };
            }
        };
        let closed = |error| Failed {
            error,
            reusable: false,
        };
        let mail = Mail::new(envelope.from().cloned(), Vec::new()).to_string();
        let rcpts: Vec<String> = envelope
            .to()
            .iter()
            .map(|to| Rcpt::new(to.clone(), Vec::new()).to_string())
            .collect();
        if self.pipelining {
            let mut commands = mail;
            for rcpt in &rcpts {
                commands.push_str(rcpt);
            }
            commands.push_str("DATA\r\n");
            // every reply is read, even after a refusal, so the session
            // stays in step; a refused envelope then closes the session
            // (the DATA after it may have opened a message)
            // the reply to MAIL, then one per RCPT and the one to DATA
            let mut first_error = self.conn.command(Raw(&commands)).await.err();
            for _ in 0..=rcpts.len() {
                if let Err(error) = self.conn.read_response().await {
                    first_error.get_or_insert(error);
                }
            }
            if let Some(error) = first_error {
                return Err(closed(error));
            }
        } else {
            let refused = |error| Failed {
                error,
                reusable: false,
            };
            self.conn.command(Raw(&mail)).await.map_err(refused)?;
            for rcpt in &rcpts {
                self.conn.command(Raw(rcpt)).await.map_err(refused)?;
            }
            self.conn.command(Raw("DATA\r\n")).await.map_err(closed)?;
        }
        let stuffed = dot_stuffed(text);
        let mut data = String::with_capacity(stuffed.len() + 5);
        data.push_str(&stuffed);
        data.push_str(if data.ends_with("\r\n") {
            ".\r\n"
        } else {
            "\r\n.\r\n"
        });
        match self.conn.command(Raw(&data)).await {
            Ok(_) => Ok(()),
            // a reply to the final dot leaves the session in step
            Err(error) => {
                let reusable = error.is_transient() || error.is_permanent();
                Err(Failed { error, reusable })
            }
        }
    }
}

/// RFC 5321 4.5.2: a line that starts with `.` gets one more. Gazette's
/// own messages have none, so this is almost always a search and a borrow.
fn dot_stuffed(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.starts_with('.') && !text.contains("\n.") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 64);
    if text.starts_with('.') {
        out.push('.');
    }
    out.push_str(&text.replace("\n.", "\n.."));
    std::borrow::Cow::Owned(out)
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

/// Addresses that need no SMTPUTF8.
fn ascii_envelope(envelope: &Envelope) -> bool {
    envelope
        .from()
        .iter()
        .all(|a| AsRef::<str>::as_ref(a).is_ascii())
        && envelope
            .to()
            .iter()
            .all(|a| AsRef::<str>::as_ref(a).is_ascii())
}

#[cfg(test)]
mod tests {
    use super::dot_stuffed;

    #[test]
    fn only_lines_starting_with_a_dot_are_stuffed() {
        assert_eq!(dot_stuffed("a\r\nb.c\r\n"), "a\r\nb.c\r\n");
        assert_eq!(dot_stuffed(".a\r\n.\r\nx"), "..a\r\n..\r\nx");
    }
}
