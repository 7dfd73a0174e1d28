//! Digests are rendered once per issue and filled in per recipient.
//!
//! Why sentinels: the per-recipient parts (the name, the unsubscribe and
//! preferences URLs) must land inside HTML that has already gone through
//! maud and the CSS inliner, without re-running either for every recipient.
//! So the template is rendered with marker strings in their place, the
//! inliner runs once, and the final HTML is cut at the markers into literal
//! segments and fields. A marker is `\u{1}GAZETTE:…\u{1}`: no input can
//! forge one, because every text that reaches a template (story fields,
//! names, subjects, site settings) has its control characters stripped, and
//! override words and CSS with control characters are refused. maud and the
//! inliner leave `\u{1}` and ASCII letters untouched, in text and in
//! attribute values alike, so the markers come out exactly as they went in.
//! A marker that is not found where expected is an internal error, reported
//! at render time rather than leaking into an email.
//!
//! The greeting depends on whether the name is known ("Hello Ann," or
//! "Hello,"), so the markers also delimit the two variants; `personalise`
//! keeps one and skips the other.

use std::ops::Range;

use crate::quoted_printable::{self, encode_into, soft_break};
use crate::{RenderedEmail, TemplateError, sanitize};

const MARK: char = '\u{1}';
pub(crate) const NAME: &str = "\u{1}GAZETTE:NAME\u{1}";
pub(crate) const UNSUBSCRIBE_URL: &str = "\u{1}GAZETTE:UNSUBSCRIBE_URL\u{1}";
pub(crate) const PREFERENCES_URL: &str = "\u{1}GAZETTE:PREFERENCES_URL\u{1}";
pub(crate) const CONFIRM_URL: &str = "\u{1}GAZETTE:CONFIRM_URL\u{1}";
pub(crate) const IF_NAME: &str = "\u{1}GAZETTE:IF_NAME\u{1}";
pub(crate) const ELSE: &str = "\u{1}GAZETTE:ELSE\u{1}";
pub(crate) const END_IF: &str = "\u{1}GAZETTE:END_IF\u{1}";

/// A per-recipient part of a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// The subscriber's name, in the greeting.
    Name,
    /// The one-click unsubscribe URL.
    UnsubscribeUrl,
    /// The preferences page URL.
    PreferencesUrl,
    /// The confirmation link of a double opt-in email.
    ConfirmUrl,
}

impl Field {
    const ALL: [Field; 4] = [
        Field::Name,
        Field::UnsubscribeUrl,
        Field::PreferencesUrl,
        Field::ConfirmUrl,
    ];

    fn index(self) -> usize {
        match self {
            Field::Name => 0,
            Field::UnsubscribeUrl => 1,
            Field::PreferencesUrl => 2,
            Field::ConfirmUrl => 3,
        }
    }
}

/// What one subscriber's copy of a digest needs.
#[derive(Debug, Clone, Copy)]
pub struct Recipient<'a> {
    /// The subscriber's name, if known; blank counts as unknown.
    pub name: Option<&'a str>,
    /// Absolute `http(s)` URL of the one-click unsubscribe endpoint.
    pub unsubscribe_url: &'a str,
    /// Absolute `http(s)` URL of the preferences page.
    pub preferences_url: &'a str,
}

/// A digest rendered once, ready to be filled in for each recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonalisedTemplate {
    subject: String,
    html: Segments,
    text: Segments,
}

/// Bytes assumed for a field by [`PersonalisedTemplate::html_size_hint`].
const TYPICAL_NAME_BYTES: usize = 16;
const TYPICAL_URL_BYTES: usize = 120;

impl PersonalisedTemplate {
    pub(crate) fn new(subject: String, html: String, text: String) -> Result<Self, TemplateError> {
        Ok(PersonalisedTemplate {
            subject,
            html: Segments::split(html)?,
            text: Segments::split(text)?,
        })
    }

    /// The email for one recipient. Fields are HTML-escaped in the HTML part
    /// (safe in text and in `href` values) and written as they are in the
    /// text part. Control characters are dropped from the name, and a URL
    /// that is not absolute `http(s)` is left out rather than linked. Each
    /// part is written into a `String` allocated once at its final size.
    pub fn personalise(&self, recipient: &Recipient<'_>) -> RenderedEmail {
        self.fill(&Values::new(recipient))
    }

    pub(crate) fn fill(&self, values: &Values<'_>) -> RenderedEmail {
        RenderedEmail {
            subject: self.subject.clone(),
            html: self.html.fill(values, Escape::Html),
            text: self.text.fill(values, Escape::None),
        }
    }

    /// The email for one recipient with both parts already encoded as
    /// quoted-printable, as they go into the MIME message. The literal
    /// segments were encoded once, when the template was made; only the
    /// fields are encoded here. Decoded, each part is exactly what
    /// [`PersonalisedTemplate::personalise`] gives (with CRLF line breaks).
    pub fn personalise_encoded(&self, recipient: &Recipient<'_>) -> EncodedEmail<'_> {
        let values = Values::new(recipient);
        EncodedEmail {
            subject: &self.subject,
            html: self.html.fill_encoded(&values, Escape::Html),
            text: self.text.fill_encoded(&values, Escape::None),
        }
    }

    /// Bytes of the HTML part for a typical recipient (a short name and
    /// 120-byte URLs), to compare with Gmail's 102 KB clipping limit.
    pub fn html_size_hint(&self) -> usize {
        let variant = &self.html.sizes[1];
        variant.literal_bytes
            + variant.field_counts[Field::Name.index()] * TYPICAL_NAME_BYTES
            + (variant.field_counts[Field::UnsubscribeUrl.index()]
                + variant.field_counts[Field::PreferencesUrl.index()])
                * TYPICAL_URL_BYTES
    }

    /// Whether the HTML or the text uses this field.
    pub fn uses_field(&self, field: Field) -> bool {
        [&self.html, &self.text].iter().any(|segments| {
            segments
                .parts
                .iter()
                .any(|part| part.piece == Piece::Field(field))
        })
    }

    /// The subject, the same for every recipient.
    pub fn subject(&self) -> &str {
        &self.subject
    }
}

/// One recipient's email with quoted-printable parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedEmail<'a> {
    /// One line, control characters removed.
    pub subject: &'a str,
    /// The `text/html` part, quoted-printable.
    pub html: Vec<u8>,
    /// The `text/plain` part, quoted-printable.
    pub text: Vec<u8>,
}

/// Which greeting variant a part belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    Always,
    Named,
    Anonymous,
}

impl When {
    fn applies(self, named: bool) -> bool {
        match self {
            When::Always => true,
            When::Named => named,
            When::Anonymous => !named,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(Range<usize>),
    Field(Field),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Part {
    piece: Piece,
    when: When,
}

/// Literal bytes and field uses of one greeting variant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct VariantSize {
    literal_bytes: usize,
    field_counts: [usize; 4],
}

/// A rendered text cut at its markers. Literal parts are ranges into
/// `source`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Segments {
    source: String,
    parts: Vec<Part>,
    /// Each literal part encoded as quoted-printable (empty for fields).
    encoded: Vec<Vec<u8>>,
    /// Index 0: anonymous recipients, 1: named ones.
    sizes: [VariantSize; 2],
}

impl Segments {
    fn split(source: String) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut when = When::Always;
        let mut position = 0;
        while let Some(offset) = source[position..].find(MARK) {
            let start = position + offset;
            if start > position {
                parts.push(Part {
                    piece: Piece::Literal(position..start),
                    when,
                });
            }
            let Some(length) = source[start + 1..].find(MARK) else {
                return Err(TemplateError::Internal(
                    "unterminated field marker".to_owned(),
                ));
            };
            let end = start + 1 + length + 1;
            let marker = &source[start..end];
            let field = match marker {
                NAME => Some(Field::Name),
                UNSUBSCRIBE_URL => Some(Field::UnsubscribeUrl),
                PREFERENCES_URL => Some(Field::PreferencesUrl),
                CONFIRM_URL => Some(Field::ConfirmUrl),
                _ => None,
            };
            match (field, marker, when) {
                (Some(field), _, _) => parts.push(Part {
                    piece: Piece::Field(field),
                    when,
                }),
                (None, IF_NAME, When::Always) => when = When::Named,
                (None, ELSE, When::Named) => when = When::Anonymous,
                (None, END_IF, When::Named | When::Anonymous) => when = When::Always,
                (None, _, _) => {
                    return Err(TemplateError::Internal(format!(
                        "unexpected marker {:?}",
                        marker.trim_matches(MARK)
                    )));
                }
            }
            position = end;
        }
        if when != When::Always {
            return Err(TemplateError::Internal(
                "unclosed name condition".to_owned(),
            ));
        }
        if position < source.len() {
            parts.push(Part {
                piece: Piece::Literal(position..source.len()),
                when,
            });
        }
        let sizes = [false, true].map(|named| {
            let mut size = VariantSize::default();
            for part in parts.iter().filter(|part| part.when.applies(named)) {
                match &part.piece {
                    Piece::Literal(range) => size.literal_bytes += range.len(),
                    Piece::Field(field) => size.field_counts[field.index()] += 1,
                }
            }
            size
        });
        let encoded = parts
            .iter()
            .map(|part| match &part.piece {
                Piece::Literal(range) => quoted_printable::encode(source[range.clone()].as_bytes()),
                Piece::Field(_) => Vec::new(),
            })
            .collect();
        Ok(Segments {
            source,
            parts,
            encoded,
            sizes,
        })
    }

    /// Like [`Segments::fill`], quoted-printable: pre-encoded literals and
    /// freshly encoded fields, each starting on a line of its own.
    fn fill_encoded(&self, values: &Values<'_>, escape: Escape) -> Vec<u8> {
        let named = values.name.is_some();
        let literal_bytes: usize = self
            .parts
            .iter()
            .zip(&self.encoded)
            .filter(|(part, _)| part.when.applies(named))
            .map(|(_, encoded)| encoded.len() + 3)
            .sum();
        let mut out = Vec::with_capacity(literal_bytes + 1024);
        let mut field = String::new();
        for (part, encoded) in self.parts.iter().zip(&self.encoded) {
            if !part.when.applies(named) {
                continue;
            }
            soft_break(&mut out);
            match &part.piece {
                Piece::Literal(_) => out.extend_from_slice(encoded),
                Piece::Field(name) => {
                    field.clear();
                    escape.write(&mut field, values.get(*name));
                    encode_into(&mut out, field.as_bytes());
                }
            }
        }
        out
    }

    fn fill(&self, values: &Values<'_>, escape: Escape) -> String {
        let named = values.name.is_some();
        let size = &self.sizes[usize::from(named)];
        let capacity = size.literal_bytes
            + Field::ALL
                .iter()
                .map(|field| size.field_counts[field.index()] * escape.len(values.get(*field)))
                .sum::<usize>();
        let mut out = String::with_capacity(capacity);
        for part in self.parts.iter().filter(|part| part.when.applies(named)) {
            match &part.piece {
                Piece::Literal(range) => out.push_str(&self.source[range.clone()]),
                Piece::Field(field) => escape.write(&mut out, values.get(*field)),
            }
        }
        debug_assert_eq!(out.len(), capacity, "capacity must be exact");
        out
    }
}

/// The recipient's values, checked once.
pub(crate) struct Values<'a> {
    name: Option<&'a str>,
    unsubscribe_url: &'a str,
    preferences_url: &'a str,
    confirm_url: &'a str,
}

impl<'a> Values<'a> {
    fn new(recipient: &Recipient<'a>) -> Self {
        Values {
            name: known_name(recipient.name),
            unsubscribe_url: sanitize::url(recipient.unsubscribe_url).unwrap_or_default(),
            preferences_url: sanitize::url(recipient.preferences_url).unwrap_or_default(),
            confirm_url: "",
        }
    }

    /// The values of a confirmation email: a name and the link.
    pub(crate) fn confirmation(name: Option<&'a str>, confirm_url: &'a str) -> Self {
        Values {
            name: known_name(name),
            unsubscribe_url: "",
            preferences_url: "",
            confirm_url: sanitize::url(confirm_url).unwrap_or_default(),
        }
    }

    fn get(&self, field: Field) -> &'a str {
        match field {
            Field::Name => self.name.unwrap_or_default(),
            Field::UnsubscribeUrl => self.unsubscribe_url,
            Field::PreferencesUrl => self.preferences_url,
            Field::ConfirmUrl => self.confirm_url,
        }
    }
}

/// The name when it has something to show; blank counts as unknown.
fn known_name(name: Option<&str>) -> Option<&str> {
    name.map(str::trim)
        .filter(|name| name.chars().any(|c| !c.is_control() && !c.is_whitespace()))
}

#[derive(Debug, Clone, Copy)]
enum Escape {
    Html,
    None,
}

impl Escape {
    /// The replacement written for one character of a field: control
    /// characters vanish (a tab or line break becomes a space), and in HTML
    /// the five significant characters become references.
    fn replacement(self, c: char) -> Option<&'static str> {
        match (self, c) {
            (_, '\t' | '\n') => Some(" "),
            (_, c) if c.is_control() => Some(""),
            (Escape::Html, '&') => Some("&amp;"),
            (Escape::Html, '<') => Some("&lt;"),
            (Escape::Html, '>') => Some("&gt;"),
            (Escape::Html, '"') => Some("&quot;"),
            (Escape::Html, '\'') => Some("&#39;"),
            _ => None,
        }
    }

    fn len(self, value: &str) -> usize {
        value
            .chars()
            .map(|c| self.replacement(c).map_or(c.len_utf8(), str::len))
            .sum()
    }

    fn write(self, out: &mut String, value: &str) {
        let mut copied = 0;
        for (index, c) in value.char_indices() {
            if let Some(replacement) = self.replacement(c) {
                out.push_str(&value[copied..index]);
                out.push_str(replacement);
                copied = index + c.len_utf8();
            }
        }
        out.push_str(&value[copied..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(html: &str, text: &str) -> PersonalisedTemplate {
        PersonalisedTemplate::new("Subject".to_owned(), html.to_owned(), text.to_owned()).unwrap()
    }

    fn greeting() -> String {
        format!("<p>{IF_NAME}Hi {NAME},{ELSE}Hi,{END_IF}</p><a href=\"{UNSUBSCRIBE_URL}\">u</a>")
    }

    #[test]
    fn fills_named_and_anonymous_variants() {
        let template = template(&greeting(), &greeting());
        let recipient = Recipient {
            name: Some("Ann"),
            unsubscribe_url: "https://x.test/u?t=1&a=2",
            preferences_url: "https://x.test/p",
        };
        let email = template.personalise(&recipient);
        assert_eq!(
            email.html,
            "<p>Hi Ann,</p><a href=\"https://x.test/u?t=1&amp;a=2\">u</a>"
        );
        assert_eq!(
            email.text,
            "<p>Hi Ann,</p><a href=\"https://x.test/u?t=1&a=2\">u</a>"
        );
        let email = template.personalise(&Recipient {
            name: Some("  \u{1} "),
            ..recipient
        });
        assert_eq!(
            email.html,
            "<p>Hi,</p><a href=\"https://x.test/u?t=1&amp;a=2\">u</a>"
        );
        assert!(template.uses_field(Field::Name));
        assert!(!template.uses_field(Field::PreferencesUrl));
    }

    #[test]
    fn escapes_in_html_and_keeps_raw_in_text() {
        let template = template(&greeting(), &greeting());
        let email = template.personalise(&Recipient {
            name: Some("<b>\"x\"&'\u{7}y\n"),
            unsubscribe_url: "javascript:alert(1)",
            preferences_url: "",
        });
        assert_eq!(
            email.html,
            "<p>Hi &lt;b&gt;&quot;x&quot;&amp;&#39;y,</p><a href=\"\">u</a>"
        );
        assert_eq!(email.text, "<p>Hi <b>\"x\"&'y,</p><a href=\"\">u</a>");
    }

    #[test]
    fn encoded_parts_decode_to_the_personalised_ones() {
        let long = format!("{}\n.{}", "w ".repeat(60), greeting());
        let template = template(&long, &greeting());
        for name in [Some("Ann"), None, Some("=é.")] {
            let recipient = Recipient {
                name,
                unsubscribe_url: "https://x.test/u?t=1&a=2",
                preferences_url: "https://x.test/p",
            };
            let plain = template.personalise(&recipient);
            let encoded = template.personalise_encoded(&recipient);
            let crlf = |s: &str| s.replace('\n', "\r\n").into_bytes();
            assert_eq!(quoted_printable::decode(&encoded.html), crlf(&plain.html));
            assert_eq!(quoted_printable::decode(&encoded.text), crlf(&plain.text));
            for line in encoded.html.split(|b| *b == b'\n') {
                assert!(line.len() <= 77 && !line.starts_with(b"."), "{line:?}");
            }
        }
    }

    #[test]
    fn broken_markers_are_internal_errors() {
        for bad in [
            ELSE.to_owned(),
            format!("{IF_NAME}x"),
            "\u{1}GAZETTE:NAME".to_owned(),
            "\u{1}GAZETTE:OTHER\u{1}".to_owned(),
        ] {
            assert!(matches!(
                PersonalisedTemplate::new(String::new(), bad, String::new()),
                Err(TemplateError::Internal(_))
            ));
        }
    }
}
