//! Quoted-printable (RFC 2045 6.7), the transfer encoding of both parts of
//! every email Gazette sends.
//!
//! One pass over the bytes: line breaks become CRLF, lines are cut at 76
//! characters with soft breaks, and `=`, control bytes, non-ASCII bytes and
//! whitespace before a line break are escaped, so a part is 7-bit clean
//! whatever it holds. A `.` that would start a line is escaped too, so the
//! encoded text never needs SMTP dot-stuffing and goes on the wire as it is.
//!
//! Why the encoder lives here: a digest's literal segments are encoded once
//! per issue ([`crate::PersonalisedTemplate`]) and only the per-recipient
//! fields are encoded per message. Every segment starts on a fresh line
//! (segments are joined by soft breaks, which decoders remove), so the
//! pieces can be encoded separately and still keep every line short.

const HEX: &[u8; 16] = b"0123456789ABCDEF";
const MAX_LINE: usize = 76;

/// `input` encoded as quoted-printable.
pub fn encode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len_hint(input.len()));
    encode_into(&mut out, input);
    out
}

/// A capacity that holds a typical encoding without growing.
pub(crate) fn encoded_len_hint(len: usize) -> usize {
    len + len / 16 + 16
}

/// Appends the encoding of `input` to `out`, starting at a line start.
pub fn encode_into(out: &mut Vec<u8>, input: &[u8]) {
    let mut line = 0usize;
    let mut index = 0;
    while index < input.len() {
        let byte = input[index];
        // hard line break: \r\n or a lone \n
        if byte == b'\n' || (byte == b'\r' && input.get(index + 1) == Some(&b'\n')) {
            out.extend_from_slice(b"\r\n");
            line = 0;
            index += if byte == b'\r' { 2 } else { 1 };
            continue;
        }
        let at_line_end = match input.get(index + 1) {
            None => true,
            Some(b'\n') => true,
            Some(b'\r') => input.get(index + 2) == Some(&b'\n'),
            _ => false,
        };
        let literal = match byte {
            b'=' => false,
            b' ' | b'\t' => !at_line_end,
            b'.' => line != 0,
            33..=126 => true,
            _ => false,
        };
        let width = if literal { 1 } else { 3 };
        // keep room for the soft break's `=` unless this ends the line
        let room = if at_line_end { MAX_LINE } else { MAX_LINE - 1 };
        if line + width > room {
            out.extend_from_slice(b"=\r\n");
            line = 0;
            if byte == b'.' {
                // now at a line start: escape it after all
                out.extend_from_slice(b"=2E");
                line = 3;
                index += 1;
                continue;
            }
        }
        if literal {
            out.push(byte);
        } else {
            out.extend_from_slice(&[
                b'=',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 15)],
            ]);
        }
        line += width;
        index += 1;
    }
}

/// Ends the current line with a soft break unless it is already at a line
/// start, so the next separately encoded piece starts on a fresh line.
pub(crate) fn soft_break(out: &mut Vec<u8>) {
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"=\r\n");
    }
}

/// The decoded bytes (tests check what went on the wire with it).
pub fn decode(encoded: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut index = 0;
    while index < encoded.len() {
        match encoded[index] {
            b'=' if encoded.get(index + 1) == Some(&b'\r') => index += 3,
            b'=' => {
                let hex = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
                let high = encoded.get(index + 1).copied().map_or(0, hex);
                let low = encoded.get(index + 2).copied().map_or(0, hex);
                out.push(high << 4 | low);
                index += 3;
            }
            byte => {
                out.push(byte);
                index += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trips_keeps_lines_short_and_never_starts_a_line_with_a_dot() {
        let long = "x".repeat(200);
        let dots = format!(".start\n{}.{}\n..", "y".repeat(75), "z".repeat(10));
        for input in [
            "Plain ASCII\r\nwith = signs and trailing space \r\nend",
            "Accents: éàü — “quotes” and a tab\there\n",
            long.as_str(),
            dots.as_str(),
            "ends with a space ",
            "",
        ] {
            let encoded = encode(input.as_bytes());
            assert!(encoded.iter().all(|b| *b < 128), "{input}");
            let text = String::from_utf8(encoded.clone()).unwrap();
            assert!(text.split("\r\n").all(|l| l.len() <= 76), "{text}");
            assert!(text.split("\r\n").all(|l| !l.ends_with(' ')), "{text}");
            assert!(text.split("\r\n").all(|l| !l.starts_with('.')), "{text}");
            let expected = input.replace("\r\n", "\n").replace('\n', "\r\n");
            assert_eq!(decode(&encoded), expected.as_bytes());
        }
    }

    #[test]
    fn pieces_joined_by_soft_breaks_decode_to_the_whole() {
        let mut out = Vec::new();
        for piece in ["<a href=\"", "https://x.test/u?t=1", "\">.u</a>\n", "end"] {
            soft_break(&mut out);
            encode_into(&mut out, piece.as_bytes());
        }
        assert_eq!(
            decode(&out),
            b"<a href=\"https://x.test/u?t=1\">.u</a>\r\nend".to_vec()
        );
    }
}
