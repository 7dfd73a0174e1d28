//! Cleaning of everything that comes from outside the crate: control
//! characters are stripped from text (they can break mail headers, and the
//! per-recipient sentinels rely on `\u{1}` never reaching a template from
//! input), and only `http`/`https` URLs are ever linked.

use std::borrow::Cow;

/// One line of text (subject, title, name): every control character goes,
/// tabs and line breaks become spaces, so a subject can never smuggle a
/// header line. Leading and trailing whitespace is trimmed.
pub(crate) fn line(text: &str) -> Cow<'_, str> {
    let trimmed = text.trim();
    if !trimmed.chars().any(char::is_control) {
        return Cow::Borrowed(trimmed);
    }
    let cleaned: String = trimmed
        .chars()
        .filter_map(|c| match c {
            '\t' | '\n' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect();
    Cow::Owned(cleaned.trim().to_owned())
}

/// A block of text (summary, intro, postal address): like [`line`] but line
/// breaks survive, so paragraphs and address lines can be laid out.
pub(crate) fn block(text: &str) -> Cow<'_, str> {
    let trimmed = text.trim();
    if !trimmed.chars().any(|c| c.is_control() && c != '\n') {
        return Cow::Borrowed(trimmed);
    }
    let cleaned: String = trimmed
        .chars()
        .filter_map(|c| match c {
            '\n' => Some('\n'),
            '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect();
    Cow::Owned(cleaned.trim().to_owned())
}

/// Paragraphs of a block: separated by blank lines, with the lines inside
/// one paragraph joined by a space.
pub(crate) fn paragraphs(text: &str) -> Vec<String> {
    let mut paragraphs = Vec::new();
    let mut current = String::new();
    for raw_line in text.lines() {
        let raw_line = raw_line.trim();
        if raw_line.is_empty() {
            if !current.is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
            continue;
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(raw_line);
    }
    if !current.is_empty() {
        paragraphs.push(current);
    }
    paragraphs
}

/// The URL if it may be linked: absolute `http` or `https` only, so
/// `javascript:`, `data:` and relative URLs are never put in an `href` or a
/// `src`. Surrounding whitespace is trimmed; a URL with whitespace or control
/// characters inside is refused (browsers strip tabs and newlines from URLs,
/// which is how `java\tscript:` tricks work).
pub(crate) fn url(raw: &str) -> Option<&str> {
    let url = raw.trim();
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (scheme, rest) = url.split_once(':')?;
    let linkable = (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"))
        && rest.starts_with("//")
        && rest.len() > 2;
    linkable.then_some(url)
}

/// Optional text that is empty after cleaning counts as absent.
pub(crate) fn non_empty(text: Cow<'_, str>) -> Option<Cow<'_, str>> {
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_drops_control_characters_and_line_breaks() {
        assert_eq!(line(" Hi\r\nBcc: x\u{1}y\t "), "Hi Bcc: xy");
        assert!(matches!(line("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn block_keeps_line_breaks() {
        assert_eq!(
            block("1 Main St\r\nSpringfield\u{7}"),
            "1 Main St\nSpringfield"
        );
    }

    #[test]
    fn paragraphs_split_on_blank_lines() {
        assert_eq!(
            paragraphs("one\ntwo\n\n\n three "),
            vec!["one two".to_owned(), "three".to_owned()]
        );
    }

    #[test]
    fn only_http_and_https_urls_are_linkable() {
        assert_eq!(
            url(" https://example.org/a?b=1 "),
            Some("https://example.org/a?b=1")
        );
        assert_eq!(url("HTTP://example.org"), Some("HTTP://example.org"));
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,<b>",
            "//example.org",
            "/relative",
            "https:",
            "https://",
            "https://exa mple.org",
            "mailto:a@example.org",
        ] {
            assert_eq!(url(bad), None, "{bad:?} must not be linkable");
        }
    }
}
