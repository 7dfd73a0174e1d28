//! Plain-text layout: word wrapping and the small conventions of the text
//! parts (underlined headings, labelled URLs on their own line).

use crate::Locale;

/// Column at which text parts wrap.
pub(crate) const WIDTH: usize = 72;

/// The separator above the footer. Not the "-- " signature delimiter, which
/// some clients fold away together with the unsubscribe link under it.
pub(crate) const RULE: &str = "----------------------------------------";

/// Appends `text` wrapped at [`WIDTH`] columns, every line starting with
/// `first_indent` (first line) or `indent` (the others), and a line break
/// after the last line. Words are split on spaces and line breaks only, so
/// no-break spaces (French punctuation) hold. A word longer than the line
/// (a URL) gets a line of its own.
pub(crate) fn wrap(out: &mut String, text: &str, first_indent: &str, indent: &str) {
    let mut line_width = 0;
    let mut line_start = true;
    out.push_str(first_indent);
    let mut current_indent = first_indent.chars().count();
    for word in text.split([' ', '\n']).filter(|word| !word.is_empty()) {
        let word_width = word.chars().count();
        if !line_start && current_indent + line_width + 1 + word_width > WIDTH {
            out.push('\n');
            out.push_str(indent);
            current_indent = indent.chars().count();
            line_width = 0;
            line_start = true;
        }
        if !line_start {
            out.push(' ');
            line_width += 1;
        }
        out.push_str(word);
        line_width += word_width;
        line_start = false;
    }
    out.push('\n');
}

/// Appends a heading underlined with `=`.
pub(crate) fn heading(out: &mut String, text: &str) {
    out.push_str(text);
    out.push('\n');
    out.push_str(&"=".repeat(text.chars().count().min(WIDTH)));
    out.push('\n');
}

/// A label followed by a colon, with the no-break space French puts before
/// it.
pub(crate) fn label(locale: Locale, text: &str) -> String {
    match locale {
        Locale::En => format!("{text}:"),
        Locale::Fr => format!("{text}\u{a0}:"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_72_columns_with_indent() {
        let text = "word ".repeat(40);
        let mut out = String::new();
        wrap(&mut out, &text, "1. ", "   ");
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.len() > 2);
        assert!(lines.iter().all(|line| line.chars().count() <= WIDTH));
        assert!(lines[0].starts_with("1. word"));
        assert!(lines[1].starts_with("   word"));
        assert!(out.ends_with("word\n"));
    }

    #[test]
    fn long_words_get_their_own_line_and_no_break_spaces_hold() {
        let url = format!("https://example.org/{}", "a".repeat(80));
        let mut out = String::new();
        wrap(&mut out, &format!("see {url} now 3\u{a0}heures"), "", "");
        assert_eq!(out, format!("see\n{url}\nnow 3\u{a0}heures\n"));
    }
}
