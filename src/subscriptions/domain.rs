//! The input a visitor gives, parsed once into types that cannot hold a bad
//! value: [`SubscriberEmail`], [`SubscriberName`], [`NewsletterSlug`]. Each
//! error names the field it belongs to, so the API and the form can point at
//! it.

use std::fmt;

use validator::ValidateEmail;

/// The longest address SMTP can carry (RFC 5321 path limit minus the brackets).
pub const MAX_EMAIL_CHARS: usize = 254;
/// The longest name we keep; longer ones are refused, not cut.
pub const MAX_NAME_CHARS: usize = 100;
const MAX_SLUG_CHARS: usize = 64;

/// An input that cannot be parsed, with the field it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct FieldError {
    pub field: &'static str,
    pub problem: String,
}

impl FieldError {
    fn new(field: &'static str, problem: impl Into<String>) -> FieldError {
        FieldError {
            field,
            problem: problem.into(),
        }
    }
}

/// An address that can receive mail from the internet: trimmed, local part
/// kept as typed, domain lower-cased and in its ASCII (punycode) form.
#[derive(Clone, PartialEq, Eq)]
pub struct SubscriberEmail(String);

impl SubscriberEmail {
    pub fn parse(raw: &str) -> Result<SubscriberEmail, FieldError> {
        let bad = |problem: &str| Err(FieldError::new("email", problem));
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return bad("is required");
        }
        if trimmed.chars().any(|c| c.is_control()) {
            return bad("must not contain control characters");
        }
        // U+FFFD is what a lossy decoder makes of bytes that were not
        // UTF-8 (a form is decoded so): never part of an address someone typed.
        if trimmed.contains(char::REPLACEMENT_CHARACTER) {
            return bad("is not a valid email address");
        }
        if trimmed.chars().any(char::is_whitespace) || trimmed.contains(['<', '>']) {
            return bad(
                "must be a bare address such as name@example.org, without spaces or a display name",
            );
        }
        let Some((local, domain)) = trimmed.rsplit_once('@') else {
            return bad("must contain an @");
        };
        if local.is_empty() {
            return bad("is missing the part before the @");
        }
        if domain.starts_with('[') || domain.parse::<std::net::IpAddr>().is_ok() {
            return bad("must use a domain name, not an IP address");
        }
        let Ok(ascii_domain) = idna::domain_to_ascii(domain) else {
            return bad("has a domain that is not valid");
        };
        let ascii_domain = ascii_domain.to_ascii_lowercase();
        if !ascii_domain.contains('.') || ascii_domain.ends_with('.') {
            return bad("must have a full domain such as example.org");
        }
        let address = format!("{local}@{ascii_domain}");
        if address.chars().count() > MAX_EMAIL_CHARS {
            return bad("must be at most 254 characters long");
        }
        // validator's rule knows ASCII only, while RFC 6531 lets the local
        // part be UTF-8 (`José@…`, sent with SMTPUTF8): the rule judges the
        // domain then, and lettre, which will send the mail, the local part.
        // An address lettre refuses could never be delivered, so it is
        // refused here rather than bounced later.
        let rule_checked = if local.is_ascii() {
            address.clone()
        } else {
            format!("x@{ascii_domain}")
        };
        let sendable = lettre::Address::new(local, &ascii_domain).is_ok();
        if !sendable || !rule_checked.validate_email() {
            return bad("is not a valid email address");
        }
        Ok(SubscriberEmail(address))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lower-cased address: one subscriber per mailbox, whatever the
    /// case it was typed in (virtually every provider ignores case).
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl AsRef<str> for SubscriberEmail {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Addresses are personal data: `Debug` shows them masked, so a stray
/// `{:?}` in a log line leaks nothing.
impl fmt::Debug for SubscriberEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SubscriberEmail({})",
            crate::telemetry::mask_email(&self.0)
        )
    }
}

/// A display name: trimmed, at most [`MAX_NAME_CHARS`], one line. Markup is
/// just text here; maud escapes it on output.
#[derive(Clone, PartialEq, Eq)]
pub struct SubscriberName(String);

impl SubscriberName {
    /// `None` for an empty or blank name: the name is optional.
    pub fn parse(raw: &str) -> Result<Option<SubscriberName>, FieldError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        if trimmed.chars().any(char::is_control) {
            return Err(FieldError::new(
                "name",
                "must be one line without control characters",
            ));
        }
        if trimmed.chars().count() > MAX_NAME_CHARS {
            return Err(FieldError::new(
                "name",
                "must be at most 100 characters long",
            ));
        }
        Ok(Some(SubscriberName(trimmed.to_string())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SubscriberName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubscriberName(***)")
    }
}

/// A newsletter slug as given in a request: lower-case letters, digits and
/// dashes. Whether such a newsletter exists is checked against the store.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NewsletterSlug(String);

impl NewsletterSlug {
    pub fn parse(raw: &str) -> Result<NewsletterSlug, FieldError> {
        let slug = raw.trim();
        let well_formed = !slug.is_empty()
            && slug.len() <= MAX_SLUG_CHARS
            && slug
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if well_formed {
            Ok(NewsletterSlug(slug.to_string()))
        } else {
            Err(FieldError::new(
                "newsletters",
                format!("unknown newsletter {:?}", truncate(slug, MAX_SLUG_CHARS)),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_domains_lowercased() {
        let email = SubscriberEmail::parse("  Amina.Diallo@Example.ORG ").unwrap();
        assert_eq!(email.as_str(), "Amina.Diallo@example.org");
        assert_eq!(email.key(), "amina.diallo@example.org");
    }

    #[test]
    fn idn_domains_are_stored_as_punycode() {
        let email = SubscriberEmail::parse("awa@bücher.example").unwrap();
        assert_eq!(email.as_str(), "awa@xn--bcher-kva.example");
    }

    #[test]
    fn utf8_local_parts_are_kept_as_typed() {
        let email = SubscriberEmail::parse("José@Bücher.Example").unwrap();
        assert_eq!(email.as_str(), "José@xn--bcher-kva.example");
        assert_eq!(email.key(), "josé@xn--bcher-kva.example");
        let email = SubscriberEmail::parse("ann@😀.example").unwrap();
        assert_eq!(email.as_str(), "ann@xn--e28h.example");
        let email = SubscriberEmail::parse("🎉party@example.org").unwrap();
        assert_eq!(email.as_str(), "🎉party@example.org");
    }

    #[test]
    fn bad_addresses_are_refused_with_the_field_named() {
        let too_long = format!("{}@example.org", "a".repeat(243));
        assert_eq!(too_long.len(), 255);
        for bad in [
            "",
            "   ",
            "a@b",
            "no-at-sign.example.org",
            "@example.org",
            "user@localhost",
            "user@[127.0.0.1]",
            "user@127.0.0.1",
            "Ann <ann@example.org>",
            "ann smith@example.org",
            "ann@example.org\r\nBcc: x@y.org",
            "ann@exa mple.org",
            "ann@example..org",
            "ann@example.org.",
            ".ann@example.org",
            "ann..smith@example.org",
            "jo\u{0}sé@example.org",
            "\u{fffd}\u{fffd}@example.org",
            too_long.as_str(),
        ] {
            let error = SubscriberEmail::parse(bad).expect_err(bad);
            assert_eq!(error.field, "email", "{bad}");
        }
    }

    #[test]
    fn the_longest_allowed_address_is_accepted() {
        let local = "a".repeat(64);
        let domain = format!(
            "{}.{}.{}.org",
            "b".repeat(60),
            "c".repeat(60),
            "d".repeat(60)
        );
        let address = format!("{local}@{domain}");
        assert!(address.len() <= MAX_EMAIL_CHARS);
        assert!(SubscriberEmail::parse(&address).is_ok());
    }

    #[test]
    fn debug_masks_the_address() {
        let email = SubscriberEmail::parse("amina@example.org").unwrap();
        assert_eq!(format!("{email:?}"), "SubscriberEmail(a***@example.org)");
    }

    #[test]
    fn names_are_optional_one_line_and_short() {
        assert_eq!(SubscriberName::parse("  ").unwrap(), None);
        let name = SubscriberName::parse(" <script>alert(1)</script> ").unwrap();
        assert_eq!(name.unwrap().as_str(), "<script>alert(1)</script>");
        assert_eq!(
            SubscriberName::parse("Ann\r\nBcc: x").unwrap_err().field,
            "name"
        );
        assert_eq!(SubscriberName::parse("Ann\u{7}").unwrap_err().field, "name");
        assert!(SubscriberName::parse(&"é".repeat(100)).unwrap().is_some());
        assert_eq!(
            SubscriberName::parse(&"é".repeat(101)).unwrap_err().field,
            "name"
        );
    }

    #[test]
    fn slugs_are_lowercase_words() {
        assert_eq!(
            NewsletterSlug::parse("morning-news").unwrap().as_str(),
            "morning-news"
        );
        assert_eq!(
            NewsletterSlug::parse("Bad Slug").unwrap_err().field,
            "newsletters"
        );
        assert!(NewsletterSlug::parse("").is_err());
    }
}
