//! The inbound SMTP listener (`mail.bounce.listen`): the MX of the bounce
//! domain points here, and DSNs and ARF reports come in as mail. It takes
//! mail for two kinds of address only, the genuine VERP addresses of its
//! domain and `mail.bounce.complaints_address`, so it never relays; it
//! limits the size of a message, the messages per client address a minute
//! and the connections at once.
//!
//! Hand-written over tokio rather than on an SMTP server crate: the one
//! sans-I/O crate (mailin) refuses the null reverse-path `MAIL FROM:<>`
//! that every bounce carries, and the embedded ones run a thread per
//! connection. It speaks what MTAs need to hand over a report (EHLO/HELO,
//! MAIL with SIZE, RCPT, DATA, RSET, NOOP, QUIT), without TLS or AUTH.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::process::{Incoming, Processor};
use crate::store::mail_events::MailEventSource;

/// RFC 5321's limit on a command line, with room for its CRLF.
const COMMAND_LINE_LIMIT: u64 = 1_024;
/// A line of a message is read in pieces of at most this.
const DATA_LINE_LIMIT: u64 = 64 * 1024;
const MAX_RECIPIENTS: usize = 50;
const MAX_CONNECTIONS: usize = 100;
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Receiver {
    processor: Processor,
    complaints_address: Option<String>,
    max_message_bytes: usize,
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    connections: Arc<Semaphore>,
}

impl Receiver {
    pub fn new(
        processor: Processor,
        complaints_address: Option<String>,
        max_message_bytes: usize,
        per_ip_per_minute: u32,
    ) -> Receiver {
        let rate = NonZeroU32::new(per_ip_per_minute).unwrap_or(NonZeroU32::MIN);
        Receiver {
            processor,
            complaints_address: complaints_address.map(|a| a.to_ascii_lowercase()),
            max_message_bytes,
            per_ip: RateLimiter::keyed(Quota::per_minute(rate)),
            connections: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
        }
    }

    /// Whether mail for `address` is taken.
    fn accepts(&self, address: &str) -> bool {
        self.processor.verp().delivery_of(address).is_some()
            || self
                .complaints_address
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case(address.trim()))
    }
}

/// Accepts connections until `shutdown`.
pub async fn serve(listener: TcpListener, receiver: Arc<Receiver>, shutdown: CancellationToken) {
    let mut sweep = tokio::time::interval(Duration::from_secs(60));
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = sweep.tick() => {
                receiver.per_ip.retain_recent();
                continue;
            }
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "bounce listener cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let receiver = receiver.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let Ok(_permit) = receiver.connections.clone().try_acquire_owned() else {
                let mut stream = stream;
                let _ = stream
                    .write_all(b"421 4.7.0 Too many connections, try again later\r\n")
                    .await;
                return;
            };
            tokio::select! {
                _ = shutdown.cancelled() => {}
                result = session(stream, peer.ip(), &receiver) => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "bounce listener session ended");
                    }
                }
            }
        });
    }
}

/// One SMTP transaction's state.
#[derive(Default)]
struct Transaction {
    mail_from: Option<String>,
    recipients: Vec<String>,
}

async fn session(stream: TcpStream, ip: IpAddr, receiver: &Receiver) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let domain = receiver.processor.verp().domain().to_string();
    reply(
        &mut write,
        &format!("220 {domain} Gazette bounce receiver ESMTP"),
    )
    .await?;
    let mut greeted = false;
    let mut transaction = Transaction::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = tokio::time::timeout(
            IDLE_TIMEOUT,
            (&mut reader)
                .take(COMMAND_LINE_LIMIT)
                .read_until(b'\n', &mut line),
        )
        .await;
        let Ok(read) = read else {
            reply(&mut write, "421 4.4.2 Idle for too long").await?;
            return Ok(());
        };
        if read? == 0 {
            return Ok(());
        }
        if !line.ends_with(b"\n") {
            reply(&mut write, "500 5.5.6 Line too long").await?;
            return Ok(());
        }
        let command = String::from_utf8_lossy(&line);
        let command = command.trim_end();
        let (verb, argument) = command.split_once(' ').unwrap_or((command, ""));
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" => {
                greeted = true;
                transaction = Transaction::default();
                let size = receiver.max_message_bytes;
                reply(
                    &mut write,
                    &format!(
                        "250-{domain}\r\n250-SIZE {size}\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES"
                    ),
                )
                .await?;
            }
            "HELO" => {
                greeted = true;
                transaction = Transaction::default();
                reply(&mut write, &format!("250 {domain}")).await?;
            }
            "MAIL" if !greeted => reply(&mut write, "503 5.5.1 Say EHLO first").await?,
            "MAIL" if transaction.mail_from.is_some() => {
                reply(&mut write, "503 5.5.1 Nested MAIL command").await?
            }
            "MAIL" => {
                let Some((path, parameters)) = path_after(argument, "FROM:") else {
                    reply(&mut write, "501 5.5.4 Syntax: MAIL FROM:<address>").await?;
                    continue;
                };
                if declared_size(&parameters).is_some_and(|size| size > receiver.max_message_bytes)
                {
                    reply(&mut write, "552 5.3.4 Message too big").await?;
                    continue;
                }
                if receiver.per_ip.check_key(&ip).is_err() {
                    reply(
                        &mut write,
                        "450 4.7.0 Too many reports from your address, try again later",
                    )
                    .await?;
                    continue;
                }
                transaction.mail_from = Some(path);
                reply(&mut write, "250 2.1.0 OK").await?;
            }
            "RCPT" if transaction.mail_from.is_none() => {
                reply(&mut write, "503 5.5.1 Need MAIL first").await?
            }
            "RCPT" => {
                let Some((address, _)) = path_after(argument, "TO:") else {
                    reply(&mut write, "501 5.5.4 Syntax: RCPT TO:<address>").await?;
                    continue;
                };
                if transaction.recipients.len() >= MAX_RECIPIENTS {
                    reply(&mut write, "452 4.5.3 Too many recipients").await?;
                } else if receiver.accepts(&address) {
                    transaction.recipients.push(address);
                    reply(&mut write, "250 2.1.5 OK").await?;
                } else {
                    reply(
                        &mut write,
                        "550 5.7.1 No such bounce address here; this host does not relay",
                    )
                    .await?;
                }
            }
            "DATA" if transaction.recipients.is_empty() => {
                reply(&mut write, "503 5.5.1 Need RCPT first").await?
            }
            "DATA" => {
                reply(&mut write, "354 End data with <CR><LF>.<CR><LF>").await?;
                let Some(message) = read_message(&mut reader, receiver.max_message_bytes).await?
                else {
                    transaction = Transaction::default();
                    reply(&mut write, "552 5.3.4 Message too big").await?;
                    continue;
                };
                let answer = deliver(receiver, &transaction, &message).await;
                transaction = Transaction::default();
                reply(&mut write, answer).await?;
            }
            "RSET" => {
                transaction = Transaction::default();
                reply(&mut write, "250 2.0.0 OK").await?;
            }
            "NOOP" => reply(&mut write, "250 2.0.0 OK").await?,
            "VRFY" => reply(&mut write, "252 2.5.0 Cannot verify").await?,
            "QUIT" => {
                reply(&mut write, "221 2.0.0 Bye").await?;
                return Ok(());
            }
            _ => reply(&mut write, "500 5.5.2 Command not recognised").await?,
        }
    }
}

/// Hands the message to the processor; the reply for the client.
async fn deliver(receiver: &Receiver, transaction: &Transaction, message: &[u8]) -> &'static str {
    let verp_recipient = transaction
        .recipients
        .iter()
        .find(|r| receiver.processor.verp().delivery_of(r).is_some());
    let incoming = Incoming {
        source: MailEventSource::Smtp,
        raw: message,
        envelope_recipient: verp_recipient.map(String::as_str),
    };
    match receiver.processor.process(incoming).await {
        // Taken whatever it was: a report about nothing of ours, or an
        // auto-reply, should not be retried by the sender either.
        Ok(_) => "250 2.0.0 OK",
        Err(error) => {
            tracing::warn!(%error, "cannot record a report; the sender will retry");
            "451 4.3.0 Cannot take the message now, try again later"
        }
    }
}

/// The message up to the lone dot, dot-stuffing undone; `None` when it
/// grew past `max_bytes` (read to its end all the same, so the session
/// stays in step).
async fn read_message<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    max_bytes: usize,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut message = Vec::new();
    let mut too_big = false;
    let mut line = Vec::new();
    let mut at_line_start = true;
    loop {
        line.clear();
        let read = tokio::time::timeout(
            IDLE_TIMEOUT,
            (&mut *reader)
                .take(DATA_LINE_LIMIT)
                .read_until(b'\n', &mut line),
        )
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "idle during DATA"))??;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if at_line_start && (line == b".\r\n" || line == b".\n") {
            break;
        }
        let content = if at_line_start && line.starts_with(b"..") {
            &line[1..]
        } else {
            &line[..]
        };
        at_line_start = line.ends_with(b"\n");
        if message.len() + content.len() > max_bytes {
            too_big = true;
        } else if !too_big {
            message.extend_from_slice(content);
        }
    }
    Ok((!too_big).then_some(message))
}

/// `FROM:<a@b> SIZE=10` → (`a@b`, `SIZE=10`); the null path `<>` is "".
fn path_after(argument: &str, keyword: &str) -> Option<(String, String)> {
    let argument = argument.trim_start();
    if argument.len() < keyword.len() || !argument[..keyword.len()].eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = argument[keyword.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let (path, parameters) = rest.split_once('>')?;
    Some((path.trim().to_string(), parameters.trim().to_string()))
}

fn declared_size(parameters: &str) -> Option<usize> {
    parameters.split_whitespace().find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.eq_ignore_ascii_case("SIZE")
            .then(|| value.parse().ok())
            .flatten()
    })
}

/// One write per reply: two would let Nagle's algorithm hold the second
/// part until the client's delayed ACK, 40 ms a command.
async fn reply<W: AsyncWrite + Unpin>(write: &mut W, text: &str) -> std::io::Result<()> {
    let mut line = Vec::with_capacity(text.len() + 2);
    line.extend_from_slice(text.as_bytes());
    line.extend_from_slice(b"\r\n");
    write.write_all(&line).await?;
    write.flush().await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_sizes_are_read() {
        assert_eq!(
            path_after("FROM:<> SIZE=2048", "FROM:"),
            Some((String::new(), "SIZE=2048".into()))
        );
        assert_eq!(
            path_after("to: <Bounces+1.abc@b.example.org>", "TO:"),
            Some(("Bounces+1.abc@b.example.org".into(), String::new()))
        );
        assert_eq!(path_after("FROM:a@b", "FROM:"), None);
        assert_eq!(declared_size("BODY=8BITMIME size=99"), Some(99));
        assert_eq!(declared_size("BODY=8BITMIME"), None);
    }

    #[tokio::test]
    async fn a_message_is_unstuffed_and_a_large_one_refused() {
        let data: &[u8] = b"Subject: x\r\n\r\n..leading dot\r\nend\r\n.\r\nNEXT";
        let mut reader = BufReader::new(data);
        let message = read_message(&mut reader, 1000).await.unwrap().unwrap();
        assert_eq!(message, b"Subject: x\r\n\r\n.leading dot\r\nend\r\n");
        let mut rest = String::new();
        reader.read_to_string(&mut rest).await.unwrap();
        assert_eq!(rest, "NEXT");

        let mut reader = BufReader::new(data);
        assert_eq!(read_message(&mut reader, 10).await.unwrap(), None);
    }
}
