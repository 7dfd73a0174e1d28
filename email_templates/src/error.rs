//! What can go wrong when loading override words or CSS, or rendering.

use crate::Locale;

/// An error from loading overrides or rendering a digest. Each variant names
/// the locale and key (or the CSS) at fault, so the message can be shown to an
/// operator as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The words file is not valid TOML.
    #[error("words for locale {locale}: not valid TOML: {message}")]
    WordsSyntax {
        /// The locale whose words were given.
        locale: Locale,
        /// The TOML parser's message, with line and column.
        message: String,
    },
    /// Keys the words file must have are absent.
    #[error("words for locale {locale}: missing key(s) {}", .keys.join(", "))]
    MissingWords {
        /// The locale whose words were given.
        locale: Locale,
        /// Dotted paths of the missing keys, for example `pages.subscribe.button`.
        keys: Vec<String>,
    },
    /// Keys the words file has but Gazette does not know (often a typo).
    #[error("words for locale {locale}: unknown key(s) {}", .keys.join(", "))]
    UnknownWords {
        /// The locale whose words were given.
        locale: Locale,
        /// Dotted paths of the unknown keys.
        keys: Vec<String>,
    },
    /// A key holds a value of the wrong kind (a table instead of text, …).
    #[error("words for locale {locale}: key {key} must be {expected}")]
    WrongWordsType {
        /// The locale whose words were given.
        locale: Locale,
        /// Dotted path of the key.
        key: String,
        /// What the key must hold ("text" or "a table").
        expected: &'static str,
    },
    /// A text uses a `{placeholder}` its key does not offer.
    #[error(
        "words for locale {locale}: key {key} uses unknown placeholder {{{placeholder}}} (allowed: {})",
        allowed_list(.allowed)
    )]
    UnknownPlaceholder {
        /// The locale whose words were given.
        locale: Locale,
        /// Dotted path of the key.
        key: String,
        /// The placeholder name found between braces.
        placeholder: String,
        /// The placeholders this key may use.
        allowed: Vec<&'static str>,
    },
    /// A text holds a control character (other than a line break or a tab).
    #[error("words for locale {locale}: key {key} contains a control character")]
    ControlCharacter {
        /// The locale whose words were given.
        locale: Locale,
        /// Dotted path of the key.
        key: String,
    },
    /// The same locale was overridden twice.
    #[error("words for locale {0} were given twice")]
    DuplicateWords(Locale),
    /// The override CSS was refused.
    #[error("CSS: {0}")]
    Css(String),
    /// A rendered template lost one of its per-recipient markers. This is a
    /// bug in the crate, not in the input.
    #[error("internal template error: {0}")]
    Internal(String),
}

fn allowed_list(allowed: &[&'static str]) -> String {
    if allowed.is_empty() {
        return "none".to_owned();
    }
    allowed
        .iter()
        .map(|name| format!("{{{name}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}
