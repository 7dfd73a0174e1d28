//! Summaries arrive as HTML from CMSs and feeds. The emails show them as
//! text (maud escapes them; the plain-text part needs text anyway), so they
//! are cleaned here, once, into text: ammonia parses the HTML like a browser
//! and drops scripts, styles and every attribute; only the block tags
//! survive, long enough to become paragraph breaks.

use std::collections::HashSet;
use std::sync::LazyLock;

/// Block tags whose ends become paragraph breaks.
const BLOCK_TAGS: [&str; 13] = [
    "p",
    "br",
    "div",
    "li",
    "blockquote",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "pre",
];

static CLEANER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::empty();
    builder
        .tags(BLOCK_TAGS.iter().copied().collect::<HashSet<_>>())
        .clean_content_tags(
            [
                "script", "style", "noscript", "template", "iframe", "object",
            ]
            .into_iter()
            .collect(),
        )
        .strip_comments(true);
    builder
});

/// Plain text of an HTML fragment: tags dropped, script and style content
/// dropped, entities decoded, paragraphs separated by one blank line, other
/// whitespace collapsed, at most `max_chars` characters (cut at a word with
/// an ellipsis).
pub fn summary_text(html: &str, max_chars: usize) -> String {
    let cleaned = CLEANER.clean(html).to_string();
    let mut paragraphs: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut rest = cleaned.as_str();
    // ammonia's serializer escapes `<` in text, so every `<` here opens one
    // of the allowed block tags.
    while let Some(open) = rest.find('<') {
        push_text(&mut current, &rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        flush(&mut paragraphs, &mut current);
        rest = &rest[open + close + 1..];
    }
    push_text(&mut current, rest);
    flush(&mut paragraphs, &mut current);
    truncate(&paragraphs.join("\n\n"), max_chars)
}

fn push_text(current: &mut String, escaped: &str) {
    let decoded = decode_entities(escaped);
    for word in decoded.split_whitespace() {
        if !current.is_empty() {
            current.push(' ');
        }
        current.extend(word.chars().filter(|c| !c.is_control()));
    }
}

fn flush(paragraphs: &mut Vec<String>, current: &mut String) {
    if !current.is_empty() {
        paragraphs.push(std::mem::take(current));
    }
}

/// The entities html5ever's serializer writes in text nodes.
fn decode_entities(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", " ")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// At most `max_chars` characters, cut at a space when one is near.
pub fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let cut: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    let cut = match cut.rfind(' ') {
        Some(space) if space > cut.len() / 2 => &cut[..space],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn scripts_and_attributes_go_text_stays() {
        let text = summary_text(
            r#"<p onclick="x()">Fish &amp; <b>chips</b> &lt;3</p><script>alert(1)</script><p>Second<br>line</p>"#,
            5000,
        );
        assert_eq!(text, "Fish & chips <3\n\nSecond\n\nline");
    }

    #[test]
    fn plain_text_with_angle_brackets_survives_as_text() {
        assert_eq!(summary_text("a < b and c > d", 100), "a < b and c > d");
        assert_eq!(summary_text("<img src=x onerror=alert(1)>hi", 100), "hi");
    }

    #[test]
    fn long_text_is_cut_at_a_word() {
        let text = summary_text(&"word ".repeat(100), 20);
        assert!(text.chars().count() <= 20, "{text}");
        assert!(text.ends_with('…'));
    }
}
