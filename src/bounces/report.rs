//! Reading a report: a DSN (RFC 3464, a `message/delivery-status` part) or
//! an ARF complaint (RFC 5965, a `message/feedback-report` part), wherever
//! it sits in the MIME tree (mail-parser walks it). A message with neither
//! (a vacation auto-reply, an out-of-office, a person's answer) is no
//! report at all: nothing about it counts as a bounce.
//!
//! Hard or soft comes from the DSN's status code only: 5.x.x is permanent,
//! 4.x.x (or an `Action: delayed`) temporary.

use mail_parser::{MessageParser, MimeHeaders};

use crate::store::mail_events::MailEventKind;

/// What a report says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub kind: MailEventKind,
    /// The enhanced status code (`5.1.1`), for bounces.
    pub status_code: Option<String>,
    /// Why, in the reporter's words: the diagnostic code, or the feedback
    /// type and user agent of a complaint.
    pub reason: String,
    /// The address that failed or complained, when the report names it.
    pub recipient: Option<String>,
}

/// The report in `raw`, if it holds one that says something happened.
/// A DSN whose recipients were all delivered or relayed says nothing.
pub fn read(raw: &[u8]) -> Option<Report> {
    let message = MessageParser::new().parse(without_mbox_line(raw))?;
    for part in &message.parts {
        let Some(content_type) = part.content_type() else {
            continue;
        };
        if !content_type.ctype().eq_ignore_ascii_case("message") {
            continue;
        }
        let subtype = content_type
            .subtype()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let body = String::from_utf8_lossy(part.contents());
        let report = match subtype.as_str() {
            "delivery-status" | "global-delivery-status" => delivery_status(&body),
            "feedback-report" => feedback_report(&body),
            _ => continue,
        };
        if report.is_some() {
            return report;
        }
    }
    // Some servers (Yahoo's among them) send a multipart/report of
    // delivery status without its machine-readable part: the status code
    // is then read from the human-readable one.
    let is_delivery_report = message.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
            && ct
                .attribute("report-type")
                .is_some_and(|t| t.eq_ignore_ascii_case("delivery-status"))
    });
    if !is_delivery_report {
        return None;
    }
    let text = message.body_text(0)?;
    let status = text
        .split(|c: char| c.is_whitespace() || c == ':' || c == ';')
        .find(|word| is_enhanced_code(word) && !word.starts_with('2'))?
        .to_string();
    let kind = if status.starts_with('5') {
        MailEventKind::HardBounce
    } else {
        MailEventKind::SoftBounce
    };
    let reason = text
        .lines()
        .find(|line| line.contains(&status))
        .unwrap_or_default()
        .trim()
        .to_string();
    Some(Report {
        kind,
        status_code: Some(status),
        reason,
        recipient: None,
    })
}

/// Without the `From sender date` line an mbox file puts first.
fn without_mbox_line(raw: &[u8]) -> &[u8] {
    if raw.starts_with(b"From ") {
        let next = memchr::memchr(b'\n', raw).map_or(raw.len(), |n| n + 1);
        &raw[next..]
    } else {
        raw
    }
}

/// The first recipient that failed or was delayed.
fn delivery_status(body: &str) -> Option<Report> {
    let blocks = field_blocks(body);
    // The first block is about the message; the others one recipient each.
    let mut worst: Option<Report> = None;
    for fields in blocks.iter().skip(1) {
        // The first word: some servers add a comment (`failed (Bad
        // destination mailbox address)`) or write `failure`.
        let action = field(fields, "action")
            .and_then(|a| a.split_whitespace().next())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let action = if action.starts_with("fail") {
            "failed".to_string()
        } else {
            action
        };
        let status_field = field(fields, "status").unwrap_or_default();
        let diagnostic = field(fields, "diagnostic-code").unwrap_or_default();
        // Some write a reply code where the status belongs (`553 …`).
        let status = status_code(status_field)
            .or_else(|| code_in_diagnostic(status_field))
            .or_else(|| code_in_diagnostic(diagnostic));
        let kind = match (action.as_str(), status.as_deref()) {
            ("failed", Some(code)) if code.starts_with('5') => MailEventKind::HardBounce,
            ("failed", Some(_)) => MailEventKind::SoftBounce,
            // A failure that gives no code at all: permanent, as the
            // action says, since the reporter gave up on the message.
            ("failed", None) => MailEventKind::HardBounce,
            ("delayed", _) => MailEventKind::SoftBounce,
            _ => continue,
        };
        let recipient = field(fields, "final-recipient")
            .or_else(|| field(fields, "original-recipient"))
            .map(address_of_typed);
        let reason = match diagnostic.trim() {
            "" => format!("{action} {}", status.clone().unwrap_or_default()),
            text => text.trim_start_matches("smtp;").trim().to_string(),
        };
        let report = Report {
            kind,
            status_code: status,
            reason: reason.trim().to_string(),
            recipient,
        };
        let worse = match &worst {
            None => true,
            Some(current) => {
                current.kind == MailEventKind::SoftBounce && kind == MailEventKind::HardBounce
            }
        };
        if worse {
            worst = Some(report);
        }
    }
    worst
}

/// Every feedback type but `not-spam` and `auth-failure` (a DMARC failure
/// report, not a reader's) is a complaint.
fn feedback_report(body: &str) -> Option<Report> {
    let blocks = field_blocks(body);
    let fields = blocks.first()?;
    let feedback_type = field(fields, "feedback-type")?.trim().to_ascii_lowercase();
    if matches!(feedback_type.as_str(), "not-spam" | "auth-failure") {
        return None;
    }
    let agent = field(fields, "user-agent")
        .unwrap_or("unknown reporter")
        .trim();
    Some(Report {
        kind: MailEventKind::Complaint,
        status_code: None,
        reason: format!("{feedback_type} report from {agent}"),
        recipient: field(fields, "original-rcpt-to").map(|r| strip_angles(r).to_string()),
    })
}

/// `rfc822; someone@example.org` → `someone@example.org`.
fn address_of_typed(value: &str) -> String {
    let address = value.split_once(';').map_or(value, |(_, address)| address);
    strip_angles(address).to_string()
}

fn strip_angles(value: &str) -> &str {
    value
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
}

/// `5.1.1 (bad destination mailbox)` → `5.1.1`.
fn status_code(value: &str) -> Option<String> {
    let code = value.split_whitespace().next()?;
    is_enhanced_code(code).then(|| code.to_string())
}

/// An enhanced code inside a diagnostic (`smtp; 550 5.1.1 User unknown`),
/// else the reply code's class (`550` → `5.0.0`).
pub(crate) fn code_in_diagnostic(diagnostic: &str) -> Option<String> {
    let words = diagnostic
        .split(|c: char| c.is_whitespace() || c == ';' || c == '-')
        .filter(|w| !w.is_empty());
    let mut reply_class = None;
    for word in words {
        if is_enhanced_code(word) {
            return Some(word.to_string());
        }
        if reply_class.is_none()
            && word.len() == 3
            && word.bytes().all(|b| b.is_ascii_digit())
            && matches!(word.as_bytes()[0], b'4' | b'5')
        {
            reply_class = Some(format!("{}.0.0", &word[..1]));
        }
    }
    reply_class
}

/// `class.subject.detail` with class 2, 4 or 5 (RFC 3463).
fn is_enhanced_code(code: &str) -> bool {
    let mut parts = code.split('.');
    let (Some(class), Some(subject), Some(detail), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    matches!(class, "2" | "4" | "5")
        && [subject, detail]
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The blocks of `Name: value` fields, separated by blank lines, with
/// folded lines joined.
fn field_blocks(body: &str) -> Vec<Vec<(String, String)>> {
    let mut blocks = Vec::new();
    let mut block: Vec<(String, String)> = Vec::new();
    for line in body.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if !block.is_empty() {
                blocks.push(std::mem::take(&mut block));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = block.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            block.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    if !block.is_empty() {
        blocks.push(block);
    }
    blocks
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, value)| value.as_str())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn dsn(fields: &str) -> Vec<u8> {
        format!(
            "From: MAILER-DAEMON@mx.example.net\r\nTo: bounces@b.example.org\r\n\
             Subject: Undelivered Mail\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
             --B\r\nContent-Type: text/plain\r\n\r\nIt failed.\r\n\
             --B\r\nContent-Type: message/delivery-status\r\n\r\n\
             Reporting-MTA: dns; mx.example.net\r\n\r\n{fields}\r\n\
             --B--\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn a_permanent_failure_is_hard_and_a_temporary_one_soft() {
        let hard = read(&dsn(
            "Final-Recipient: rfc822; gone@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n\
             Diagnostic-Code: smtp; 550 5.1.1 <gone@example.net>: Recipient address\r\n rejected",
        ))
        .unwrap();
        assert_eq!(hard.kind, MailEventKind::HardBounce);
        assert_eq!(hard.status_code.as_deref(), Some("5.1.1"));
        assert_eq!(hard.recipient.as_deref(), Some("gone@example.net"));
        assert!(
            hard.reason.contains("Recipient address rejected"),
            "{}",
            hard.reason
        );

        let soft = read(&dsn(
            "Final-Recipient: rfc822; full@example.net\r\nAction: delayed\r\nStatus: 4.2.2",
        ))
        .unwrap();
        assert_eq!(soft.kind, MailEventKind::SoftBounce);
        assert_eq!(soft.status_code.as_deref(), Some("4.2.2"));
    }

    #[test]
    fn a_delivered_recipient_is_no_bounce() {
        let delivered =
            dsn("Final-Recipient: rfc822; ok@example.net\r\nAction: delivered\r\nStatus: 2.0.0");
        assert_eq!(read(&delivered), None);
    }

    #[test]
    fn the_code_may_come_from_the_diagnostic() {
        assert_eq!(
            code_in_diagnostic("smtp; 550-5.1.1 The email account does not exist"),
            Some("5.1.1".into())
        );
        assert_eq!(
            code_in_diagnostic("X-Postfix; 552 mailbox full"),
            Some("5.0.0".into())
        );
        assert_eq!(code_in_diagnostic("host said: bye"), None);
    }

    #[test]
    fn an_auto_reply_is_no_report() {
        let reply = b"From: reader@example.net\r\nTo: bounces+1.abc@b.example.org\r\n\
            Auto-Submitted: auto-replied\r\nSubject: Out of office\r\n\r\n\
            I am away until Monday; your message about 5.1.1 failed delivery will wait.\r\n";
        assert_eq!(read(reply), None);
    }

    #[test]
    fn an_abuse_report_is_a_complaint() {
        let arf = b"From: fbl@isp.example\r\nTo: fbl@b.example.org\r\nMIME-Version: 1.0\r\n\
            Content-Type: multipart/report; report-type=feedback-report; boundary=\"F\"\r\n\r\n\
            --F\r\nContent-Type: text/plain\r\n\r\nA complaint.\r\n\
            --F\r\nContent-Type: message/feedback-report\r\n\r\n\
            Feedback-Type: abuse\r\nUser-Agent: SomeISP/1.0\r\nVersion: 1\r\n\
            Original-Rcpt-To: <reader@example.net>\r\n\r\n\
            --F--\r\n";
        let report = read(arf).unwrap();
        assert_eq!(report.kind, MailEventKind::Complaint);
        assert_eq!(report.recipient.as_deref(), Some("reader@example.net"));
        assert_eq!(report.reason, "abuse report from SomeISP/1.0");
        let not_spam = String::from_utf8_lossy(arf).replace("abuse", "not-spam");
        assert_eq!(read(not_spam.as_bytes()), None);
    }

    /// The samples of `tests/api/fixtures/bounces` (see its README): real
    /// DSNs from many servers, an ARF report, and replies that are none.
    #[test]
    fn every_sample_reads_as_what_it_is() {
        use MailEventKind::{Complaint, HardBounce, SoftBounce};
        let expected: [(&str, Option<(MailEventKind, &str)>); 16] = [
            ("flufl-dsn_01", Some((HardBounce, "5.0.0"))),
            ("flufl-dsn_03", Some((HardBounce, "5.0.0"))),
            ("flufl-dsn_04", Some((HardBounce, "5.0.0"))),
            ("flufl-dsn_05", Some((SoftBounce, "4.4.1"))),
            ("flufl-dsn_06", Some((SoftBounce, "4.4.0"))),
            ("flufl-dsn_08", Some((SoftBounce, "4.0.0"))),
            ("flufl-dsn_10", Some((HardBounce, "5.0.0"))),
            ("flufl-dsn_11", Some((HardBounce, "5.1.1"))),
            ("flufl-dsn_12", Some((HardBounce, "5.1.1"))),
            ("flufl-simple_42", Some((HardBounce, "5.0.0"))),
            ("flufl-yahoo_13", Some((HardBounce, "5.1.1"))),
            ("postfix-unknown-user", Some((HardBounce, "5.1.1"))),
            ("arf-abuse", Some((Complaint, ""))),
            ("flufl-qmail_08", None),
            ("flufl-groupwise_03", None),
            ("vacation-reply", None),
        ];
        let folder =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/fixtures/bounces");
        for (name, want) in expected {
            let raw = std::fs::read(folder.join(format!("{name}.eml"))).unwrap();
            let got = read(&raw).map(|r| (r.kind, r.status_code.unwrap_or_default()));
            let want = want.map(|(kind, code)| (kind, code.to_string()));
            assert_eq!(got, want, "{name}");
        }
    }
}
