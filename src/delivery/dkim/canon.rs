//! Relaxed canonicalization (RFC 6376 section 3.4.2 and 3.4.4): the
//! header fields and the body as a signature hashes them, and the folding
//! of the signature's own header.

use aws_lc_rs::digest::{Context, SHA256};

/// Splits at the first empty line; the body keeps everything after it.
pub(super) fn split_message(message: &[u8]) -> (&[u8], &[u8]) {
    match message.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(at) => (&message[..at + 2], &message[at + 4..]),
        None => (message, &[]),
    }
}

/// Header fields as (name, raw value with folding), in order.
pub(super) fn parse_headers(head: &[u8]) -> Vec<(&str, &[u8])> {
    let mut fields: Vec<(&str, &[u8])> = Vec::new();
    let mut start = 0;
    let mut index = 0;
    while index < head.len() {
        let Some(offset) = head[index..].windows(2).position(|w| w == b"\r\n") else {
            break;
        };
        let line_end = index + offset;
        let next = line_end + 2;
        let continues = head.get(next).is_some_and(|b| *b == b' ' || *b == b'\t');
        if !continues {
            let field = &head[start..line_end];
            if let Some(colon) = field.iter().position(|b| *b == b':')
                && let Ok(name) = std::str::from_utf8(&field[..colon])
            {
                fields.push((name.trim(), &field[colon + 1..]));
            }
            start = next;
        }
        index = next;
    }
    fields
}

/// RFC 6376 3.4.2: lower-case name, unfold, runs of whitespace to one space,
/// no whitespace around the value.
pub(super) fn relaxed_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend(name.trim().bytes().map(|b| b.to_ascii_lowercase()));
    out.push(b':');
    let mut pending_space = false;
    let mut started = false;
    for &b in value {
        match b {
            b'\r' | b'\n' => {}
            b' ' | b'\t' => pending_space = started,
            _ => {
                if pending_space {
                    out.push(b' ');
                    pending_space = false;
                }
                out.push(b);
                started = true;
            }
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// RFC 6376 3.4.4: no trailing whitespace on lines, runs of whitespace to
/// one space, no empty lines at the end; a non-empty body ends with CRLF.
/// The canonical body goes through a small buffer into the hash, so a
/// 40 KB digest costs one pass and no copy of itself.
pub(super) fn relaxed_body_hash(body: &[u8]) -> impl AsRef<[u8]> {
    let mut hash = Context::new(&SHA256);
    relaxed_body(body, |chunk| hash.update(chunk));
    hash.finish()
}

pub(super) fn relaxed_body(body: &[u8], mut sink: impl FnMut(&[u8])) {
    const CHUNK: usize = 8192;
    let mut out = Vec::with_capacity(CHUNK + 1024);
    let mut empty_lines = 0usize;
    let mut start = 0;
    while start < body.len() {
        let (end, next) = match memchr::memchr(b'\n', &body[start..]) {
            Some(at) => (start + at, start + at + 1),
            None => (body.len(), body.len()),
        };
        let line = &body[start..end];
        let content = line.strip_suffix(b"\r").unwrap_or(line);
        if content.iter().all(|b| *b == b' ' || *b == b'\t') {
            // empty lines count only when content follows them
            empty_lines += 1;
        } else {
            for _ in 0..empty_lines {
                out.extend_from_slice(b"\r\n");
            }
            empty_lines = 0;
            if content.len() < line.len() && is_relaxed(content) {
                // Most lines of a quoted-printable body are canonical
                // already: copied whole, not a byte at a time (the byte
                // loop was a tenth of a signed send's CPU).
                out.extend_from_slice(&body[start..next]);
            } else {
                relax_line(&mut out, content);
                out.extend_from_slice(b"\r\n");
            }
            if out.len() >= CHUNK {
                sink(&out);
                out.clear();
            }
        }
        start = next;
    }
    sink(&out);
}

/// A line relaxed canonicalisation leaves as it is: no tab, no run of
/// spaces, no space at the end. Written without early exits so the
/// compiler can check many bytes at a time.
fn is_relaxed(content: &[u8]) -> bool {
    let tab = content.iter().fold(false, |seen, b| seen | (*b == b'\t'));
    let run = content
        .iter()
        .zip(content.iter().skip(1))
        .fold(false, |seen, (a, b)| seen | ((*a == b' ') & (*b == b' ')));
    !tab && !run && content.last() != Some(&b' ')
}

/// Runs of whitespace to one space, none at the end (the line has content).
fn relax_line(out: &mut Vec<u8>, content: &[u8]) {
    let mut pending_space = false;
    for &b in content {
        if b == b' ' || b == b'\t' {
            pending_space = true;
            continue;
        }
        if pending_space {
            out.push(b' ');
            pending_space = false;
        }
        out.push(b);
    }
}

/// Lines of the signature header stay under this length (RFC 5322's 78).
pub(super) const MAX_LINE: usize = 76;

/// Appends a base64 value, folding it where a line would grow too long;
/// verifiers drop the folding whitespace inside `b=`.
pub(super) fn append_folded(header: &mut String, mut line_len: usize, value: &str) {
    let mut rest = value;
    while !rest.is_empty() {
        let room = MAX_LINE.saturating_sub(line_len);
        if room == 0 {
            header.push_str("\r\n\t");
            line_len = 1;
            continue;
        }
        let cut = room.min(rest.len());
        header.push_str(&rest[..cut]);
        line_len += cut;
        rest = &rest[cut..];
    }
}
