//! A real SMTP server on loopback for tests: it speaks enough ESMTP for
//! lettre (EHLO, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT),
//! records every accepted message, and can be told how to answer the next
//! messages (451, 550, or a connection dropped during DATA) or a recipient.
//! [`Chaos`] mode draws those faults at random, at given rates, for the
//! fault suite (`tests/faults`), and can accept a message and close the
//! connection before the `250` reaches the client: the one case where a
//! correct sender must send a message twice.
//! Hand-written rather than an embedded crate because the failure tests need
//! control over exactly when a connection dies.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// How the server answers the end of a message's DATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    Accept,
    /// 451: try again later.
    TempFail,
    /// 550: mailbox unavailable.
    PermFail,
    /// The connection is closed right after `354`, while the client sends.
    DropDuringData,
    /// The message is accepted (recorded) but the connection is closed
    /// before the `250` reply is written: the client cannot know it arrived.
    AcceptedReplyLost,
}

/// Faults drawn at random, each a rate in per mille: of messages answered
/// 451 at the end of DATA; of dropped connections, drawn half for each new
/// connection (closed before the greeting) and half for each message (the
/// connection closed while the client sends DATA, nothing accepted); and of
/// messages accepted with the reply lost. The draws come from `seed`, printed by the tests,
/// so a failing run can be replayed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Chaos {
    pub temp_fail_per_mille: u32,
    pub drop_connection_per_mille: u32,
    pub lost_reply_per_mille: u32,
    pub seed: u64,
}

#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

impl ReceivedMail {
    /// The value of the first header called `name` (unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(current) = value.as_mut() {
                if line.starts_with(' ') || line.starts_with('\t') {
                    current.push(' ');
                    current.push_str(line.trim());
                    continue;
                }
                return value;
            }
            if let Some((key, rest)) = line.split_once(':')
                && key.eq_ignore_ascii_case(name)
            {
                value = Some(rest.trim().to_string());
            }
        }
        value
    }
}

#[derive(Default)]
struct State {
    received: Vec<ReceivedMail>,
    plan: VecDeque<Reply>,
    recipient_rules: Vec<(String, Reply)>,
    connections: usize,
    /// Sessions still open (accepted and not yet ended).
    open_sessions: usize,
    data_attempts: usize,
    chaos: Option<(Chaos, StdRng)>,
    /// Keep only envelopes, not message bodies (large fault runs).
    envelopes_only: bool,
    /// Per recipient: messages accepted whose reply was lost.
    lost_replies: HashMap<String, usize>,
    /// What chaos did, by kind.
    faults: FaultCounts,
    /// EHLO does not offer PIPELINING.
    no_pipelining: bool,
    /// Commands that arrived before the reply to the one before them, from
    /// a client that was not offered PIPELINING (RFC 2920 forbids it).
    pipelined_unasked: usize,
}

/// How many faults [`Chaos`] injected.
#[derive(Debug, Clone, Copy, Default)]
pub struct FaultCounts {
    pub temp_failures: usize,
    pub dropped_at_greeting: usize,
    pub dropped_during_data: usize,
    pub lost_replies: usize,
}

impl State {
    /// The answer for the next message: the plan first, then chaos. Both
    /// are counted in [`FaultCounts`], so a test can plan the faults it
    /// must see and let chaos add more.
    fn next_reply(&mut self) -> Reply {
        let reply = self.plan.pop_front().unwrap_or_else(|| self.chaos_reply());
        match reply {
            Reply::TempFail => self.faults.temp_failures += 1,
            Reply::DropDuringData => self.faults.dropped_during_data += 1,
            Reply::AcceptedReplyLost => self.faults.lost_replies += 1,
            Reply::Accept | Reply::PermFail => {}
        }
        reply
    }

    fn chaos_reply(&mut self) -> Reply {
        let Some((chaos, rng)) = self.chaos.as_mut() else {
            return Reply::Accept;
        };
        let roll = rng.random_range(0..2000u32);
        let temp = chaos.temp_fail_per_mille * 2;
        // half of the dropped connections die here, half at the greeting
        let drop = chaos.drop_connection_per_mille;
        let lost = chaos.lost_reply_per_mille * 2;
        if roll < temp {
            Reply::TempFail
        } else if roll < temp + drop {
            Reply::DropDuringData
        } else if roll < temp + drop + lost {
            Reply::AcceptedReplyLost
        } else {
            Reply::Accept
        }
    }

    /// Whether chaos drops a new connection before the greeting.
    fn drop_at_greeting(&mut self) -> bool {
        let Some((chaos, rng)) = self.chaos.as_mut() else {
            return false;
        };
        let dropped = rng.random_range(0..2000u32) < chaos.drop_connection_per_mille;
        if dropped {
            self.faults.dropped_at_greeting += 1;
        }
        dropped
    }
}

#[derive(Clone)]
pub struct SmtpServer {
    pub port: u16,
    state: Arc<Mutex<State>>,
    stop: CancellationToken,
}

impl SmtpServer {
    pub async fn start() -> SmtpServer {
        SmtpServer::start_with(None, false).await
    }

    /// A server that injects `chaos`; with `envelopes_only` it keeps the
    /// envelope of each accepted message and drops its body.
    pub async fn start_with(chaos: Option<Chaos>, envelopes_only: bool) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            chaos: chaos.map(|c| (c, StdRng::seed_from_u64(c.seed))),
            envelopes_only,
            ..State::default()
        }));
        let stop = CancellationToken::new();
        let server = SmtpServer {
            port,
            state: state.clone(),
            stop: stop.clone(),
        };
        tokio::spawn(async move {
            loop {
                // `biased`: once stopped, a connection waiting in the
                // listener's backlog must not be served. The kernel takes
                // connections before this task runs again, so without it a
                // client that connects right after `stop` could still be
                // answered (the mail check of a stopped server passed).
                tokio::select! {
                    biased;
                    _ = stop.cancelled() => break,
                    accepted = listener.accept() => {
                        let Ok((socket, _)) = accepted else { continue };
                        // Replies go out one write each; with Nagle on, the
                        // second reply to a pipelined MAIL/RCPT/DATA would
                        // wait for the client's delayed ACK (40 ms). Real
                        // servers send the pipelined replies together.
                        let _ = socket.set_nodelay(true);
                        {
                            let mut state = state.lock().unwrap();
                            state.connections += 1;
                            state.open_sessions += 1;
                        }
                        let session = OpenSession(state.clone());
                        tokio::spawn(async move {
                            let _ = serve(socket, session.0.clone()).await;
                        });
                    }
                }
            }
        });
        server
    }

    /// The next messages get these answers, in order; then `Accept`.
    pub fn then(&self, replies: &[Reply]) {
        self.state
            .lock()
            .unwrap()
            .plan
            .extend(replies.iter().copied());
    }

    /// Every `RCPT TO` containing `needle` gets `reply` (TempFail or PermFail).
    pub fn on_recipient(&self, needle: &str, reply: Reply) {
        self.state
            .lock()
            .unwrap()
            .recipient_rules
            .push((needle.to_lowercase(), reply));
    }

    /// From now on EHLO does not offer PIPELINING, and commands sent
    /// ahead of their turn are counted ([`SmtpServer::pipelined_unasked`]).
    pub fn without_pipelining(&self) {
        self.state.lock().unwrap().no_pipelining = true;
    }

    pub fn pipelined_unasked(&self) -> usize {
        self.state.lock().unwrap().pipelined_unasked
    }

    pub fn received(&self) -> Vec<ReceivedMail> {
        self.state.lock().unwrap().received.clone()
    }

    /// How many messages were received, without copying them.
    pub fn received_count(&self) -> usize {
        self.state.lock().unwrap().received.len()
    }

    /// Per recipient, the messages accepted whose reply was lost.
    pub fn lost_replies(&self) -> HashMap<String, usize> {
        self.state.lock().unwrap().lost_replies.clone()
    }

    pub fn faults(&self) -> FaultCounts {
        self.state.lock().unwrap().faults
    }

    pub fn connections(&self) -> usize {
        self.state.lock().unwrap().connections
    }

    /// Waits until no session is open (a killed client's connections end
    /// when the kernel closes them), or panics after `within`.
    pub async fn wait_until_idle(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while self.state.lock().unwrap().open_sessions > 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "SMTP sessions still open after {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// How many messages reached the end of DATA or were cut during it.
    pub fn data_attempts(&self) -> usize {
        self.state.lock().unwrap().data_attempts
    }

    /// Waits until at least `count` messages arrived, or panics after `within`.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "expected {count} messages within {within:?}, got {}",
                    received.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn stop(&self) {
        self.stop.cancel();
    }
}

/// Counts a session open until dropped, however its task ends.
struct OpenSession(Arc<Mutex<State>>);

impl Drop for OpenSession {
    fn drop(&mut self) {
        if let Ok(mut state) = self.0.lock() {
            state.open_sessions -= 1;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        if Arc::strong_count(&self.state) <= 2 {
            self.stop.cancel();
        }
    }
}

async fn serve(socket: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut reader = BufReader::new(read);
    if state.lock().unwrap().drop_at_greeting() {
        return Ok(());
    }
    write.write_all(b"220 gazette-test ESMTP ready\r\n").await?;
    let mut from = String::new();
    let mut to: Vec<String> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_string();
        let upper = command.to_ascii_uppercase();
        {
            // Bytes already waiting after a whole command line were sent
            // before this reply: pipelining.
            let mut state = state.lock().unwrap();
            if state.no_pipelining && !reader.buffer().is_empty() {
                state.pipelined_unasked += 1;
            }
        }
        if upper.starts_with("EHLO") {
            let pipelining = if state.lock().unwrap().no_pipelining {
                ""
            } else {
                "250-PIPELINING\r\n"
            };
            let reply = format!(
                "250-gazette-test\r\n{pipelining}250-8BITMIME\r\n250-SMTPUTF8\r\n250 AUTH PLAIN LOGIN\r\n"
            );
            write.write_all(reply.as_bytes()).await?;
        } else if upper.starts_with("HELO") {
            write.write_all(b"250 gazette-test\r\n").await?;
        } else if upper.starts_with("AUTH PLAIN") {
            if upper.trim() == "AUTH PLAIN" {
                write.write_all(b"334 \r\n").await?;
                line.clear();
                reader.read_line(&mut line).await?;
            }
            write.write_all(b"235 2.7.0 authenticated\r\n").await?;
        } else if upper.starts_with("AUTH LOGIN") {
            write.write_all(b"334 VXNlcm5hbWU6\r\n").await?;
            line.clear();
            reader.read_line(&mut line).await?;
            write.write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
            line.clear();
            reader.read_line(&mut line).await?;
            write.write_all(b"235 2.7.0 authenticated\r\n").await?;
        } else if upper.starts_with("MAIL FROM:") {
            from = angle_address(&command);
            to.clear();
            write.write_all(b"250 2.1.0 ok\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            let address = angle_address(&command);
            let rule = {
                let state = state.lock().unwrap();
                state
                    .recipient_rules
                    .iter()
                    .find(|(needle, _)| address.to_lowercase().contains(needle))
                    .map(|(_, reply)| *reply)
            };
            match rule {
                Some(Reply::PermFail) => {
                    write
                        .write_all(b"550 5.1.1 mailbox unavailable\r\n")
                        .await?
                }
                Some(Reply::TempFail) => {
                    write
                        .write_all(b"451 4.3.0 mailbox busy, try later\r\n")
                        .await?
                }
                _ => {
                    to.push(address);
                    write.write_all(b"250 2.1.5 ok\r\n").await?;
                }
            }
        } else if upper == "DATA" {
            if to.is_empty() {
                write
                    .write_all(b"554 5.5.1 no valid recipients\r\n")
                    .await?;
                continue;
            }
            let reply = {
                let mut state = state.lock().unwrap();
                state.data_attempts += 1;
                state.next_reply()
            };
            write
                .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            if reply == Reply::DropDuringData {
                return Ok(());
            }
            let data = read_data(&mut reader).await?;
            match reply {
                Reply::Accept | Reply::AcceptedReplyLost => {
                    {
                        let mut state = state.lock().unwrap();
                        if reply == Reply::AcceptedReplyLost {
                            for address in &to {
                                *state.lost_replies.entry(address.clone()).or_insert(0) += 1;
                            }
                        }
                        let data = if state.envelopes_only {
                            String::new()
                        } else {
                            data
                        };
                        state.received.push(ReceivedMail {
                            from: from.clone(),
                            to: std::mem::take(&mut to),
                            data,
                        });
                    }
                    if reply == Reply::AcceptedReplyLost {
                        return Ok(());
                    }
                    write.write_all(b"250 2.0.0 queued\r\n").await?;
                }
                Reply::TempFail => {
                    write
                        .write_all(b"451 4.3.0 temporary failure, try again later\r\n")
                        .await?
                }
                Reply::PermFail => {
                    write
                        .write_all(b"550 5.1.1 mailbox unavailable\r\n")
                        .await?
                }
                Reply::DropDuringData => return Ok(()),
            }
        } else if upper == "RSET" {
            to.clear();
            write.write_all(b"250 2.0.0 ok\r\n").await?;
        } else if upper == "NOOP" {
            write.write_all(b"250 2.0.0 ok\r\n").await?;
        } else if upper == "QUIT" {
            write.write_all(b"221 2.0.0 bye\r\n").await?;
            return Ok(());
        } else {
            write
                .write_all(b"502 5.5.2 command not recognised\r\n")
                .await?;
        }
    }
}

async fn read_data(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> std::io::Result<String> {
    let mut data = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == ".\r\n" || line == ".\n" {
            return Ok(data);
        }
        // dot-unstuffing (RFC 5321 4.5.2)
        let content = line.strip_prefix('.').unwrap_or(&line);
        data.push_str(content);
    }
}

fn angle_address(command: &str) -> String {
    match (command.find('<'), command.find('>')) {
        (Some(start), Some(end)) if end > start => command[start + 1..end].to_string(),
        _ => command
            .split_once(':')
            .map(|(_, a)| a.trim().to_string())
            .unwrap_or_default(),
    }
}

/// The server itself, spoken to over raw TCP: it records what it accepts and
/// answers as planned.
#[tokio::test]
async fn test_smtp_server_records_and_fails_on_demand() {
    use tokio::io::AsyncReadExt;
    let server = SmtpServer::start().await;
    server.then(&[Reply::TempFail]);
    async fn session(port: u16) -> String {
        let mut socket = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        socket
            .write_all(b"EHLO me\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\nSubject: hi\r\n\r\n..dot\r\n.\r\nQUIT\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        socket.read_to_string(&mut out).await.unwrap();
        out
    }
    let first = session(server.port).await;
    assert!(first.contains("451"), "{first}");
    assert!(server.received().is_empty());
    let second = session(server.port).await;
    assert!(second.contains("250 2.0.0 queued"), "{second}");
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].to, vec!["b@y.org".to_string()]);
    assert_eq!(received[0].header("subject").as_deref(), Some("hi"));
    assert!(received[0].data.contains("\r\n.dot\r\n"));
}
