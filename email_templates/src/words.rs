//! The words of every email and public page, per locale, and the checks an
//! override file must pass: the built-in English file is the schema (every
//! key it has is required, no other key is accepted), each text may use only
//! the `{placeholders}` its key offers, and no text holds a control
//! character. Checking against the TOML table first, before serde, lets the
//! error list every missing or unknown key by its dotted path.

use serde::Deserialize;
use toml::{Table, Value};

use crate::{Locale, TemplateError};

/// All words for one locale. Fields mirror the sections of
/// `locales/<locale>.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Words {
    /// Words shared by several emails.
    pub common: CommonWords,
    /// The footer of newsletter emails.
    pub footer: FooterWords,
    /// The double opt-in email.
    pub confirmation: ConfirmationWords,
    /// The digest email.
    pub digest: DigestWords,
    /// The "ready for review" email to editors.
    pub review: ReviewWords,
    /// The public web pages.
    pub pages: PageWords,
}

/// Words shared by several emails.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommonWords {
    /// "Hello {name},"
    pub greeting_named: String,
    /// "Hello," when the name is unknown.
    pub greeting_anonymous: String,
    /// The word joining the last two items of a list ("and").
    pub list_and: String,
    /// The line above a link shown in full under a button.
    pub link_fallback: String,
}

/// The footer of newsletter emails.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FooterWords {
    /// Why the reader gets the email; `{newsletter}`, `{site}`.
    pub reason: String,
    /// The same when the newsletter bears the site's name; `{site}`.
    pub reason_site: String,
    /// The unsubscribe link.
    pub unsubscribe: String,
    /// The preferences link.
    pub preferences: String,
    /// The "view in browser" link to the archive.
    pub view_in_browser: String,
}

/// The double opt-in email.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmationWords {
    /// `{site}`.
    pub subject: String,
    /// The subject of the one reminder to an unconfirmed signup; `{site}`.
    pub reminder_subject: String,
    /// `{newsletters}`, `{site}`.
    pub preheader: String,
    /// The heading of the email.
    pub heading: String,
    /// `{newsletters}`, `{site}`.
    pub body: String,
    /// The body when no newsletter is named; `{site}`.
    pub body_generic: String,
    /// The confirm button.
    pub button: String,
    /// `{hours}`, singular.
    pub expiry_one: String,
    /// `{hours}`, plural.
    pub expiry_other: String,
    /// What to do if the reader did not ask.
    pub ignore: String,
    /// Why the reader gets this one email; `{site}`.
    pub reason: String,
}

/// The digest email.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestWords {
    /// The link under each story.
    pub read_more: String,
    /// `{author}`.
    pub by_author: String,
    /// The banner of a test send.
    pub test_banner: String,
    /// The subject of a test send; `{subject}`.
    pub test_subject: String,
}

/// The "ready for review" email to editors.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewWords {
    /// `{subject}`, `{newsletter}`.
    pub subject: String,
    /// `{newsletter}`, `{subject}`.
    pub preheader: String,
    /// The heading of the email.
    pub heading: String,
    /// `{newsletter}`, `{subject}`, `{stories}`.
    pub body: String,
    /// `{count}`, singular.
    pub story_count_one: String,
    /// `{count}`, plural.
    pub story_count_other: String,
    /// What the editor should do.
    pub instructions: String,
    /// The review button.
    pub button: String,
    /// Why the editor gets the email; `{site}`.
    pub reason: String,
}

/// The public web pages. No placeholders: the texts are used as they are.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageWords {
    /// The subscribe form.
    pub subscribe: SubscribePage,
    /// The page after a signup.
    pub check_inbox: CheckInboxPage,
    /// The confirmation page.
    pub confirm: ConfirmPage,
    /// An expired or unknown confirmation link.
    pub expired: ExpiredPage,
    /// The unsubscribe page.
    pub unsubscribe: UnsubscribePage,
    /// The preferences page.
    pub preferences: PreferencesPage,
    /// Error pages.
    pub error: ErrorPage,
}

/// The subscribe form.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribePage {
    /// Page title.
    pub title: String,
    /// "Receive captivating stories direct to your inbox."
    pub intro: String,
    /// Label of the email field.
    pub email_label: String,
    /// Label of the optional name field.
    pub name_label: String,
    /// Legend of the newsletter checkboxes.
    pub newsletters_legend: String,
    /// The submit button.
    pub button: String,
    /// A line under the form on what the address is used for.
    pub privacy: String,
    /// The message next to an invalid email field.
    pub email_invalid: String,
    /// The message next to an invalid name field.
    pub name_invalid: String,
    /// The message when no (or an unknown) newsletter was chosen.
    pub newsletters_invalid: String,
}

/// The page after a signup.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckInboxPage {
    /// Page title.
    pub title: String,
    /// Page text.
    pub body: String,
}

/// The confirmation page.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmPage {
    /// Page title before confirming.
    pub title: String,
    /// The button that POSTs the confirmation.
    pub button: String,
    /// "You're subscribed".
    pub done_title: String,
    /// The text after confirming.
    pub done_body: String,
}

/// An expired or unknown confirmation link.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpiredPage {
    /// Page title.
    pub title: String,
    /// Page text.
    pub body: String,
    /// "Send me a new link".
    pub button: String,
}

/// The unsubscribe page.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnsubscribePage {
    /// Page title.
    pub title: String,
    /// Page text before unsubscribing.
    pub body: String,
    /// The button that POSTs the unsubscription.
    pub button: String,
    /// Title after unsubscribing.
    pub done_title: String,
    /// Text after unsubscribing.
    pub done_body: String,
}

/// The preferences page.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreferencesPage {
    /// Page title.
    pub title: String,
    /// Text above the newsletter choices.
    pub intro: String,
    /// Save button.
    pub save: String,
    /// Notice after saving.
    pub saved: String,
    /// Pause button.
    pub pause: String,
    /// Resume button.
    pub resume: String,
    /// Export button.
    pub export: String,
    /// Delete button.
    pub delete: String,
    /// Warning next to the delete button.
    pub delete_warning: String,
    /// Shown while emails are paused.
    pub paused_notice: String,
    /// Title after the data was deleted.
    pub deleted_title: String,
    /// Text after the data was deleted.
    pub deleted_body: String,
}

/// Error pages.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorPage {
    /// Generic error title.
    pub title: String,
    /// Generic error text.
    pub body: String,
    /// Title of the 429 page.
    pub too_many_title: String,
    /// Text of the 429 page.
    pub too_many_requests: String,
    /// A manage or confirmation link that is not genuine or incomplete.
    pub invalid_link: String,
}

/// The placeholders each key may use; a key not listed takes none.
const PLACEHOLDERS: &[(&str, &[&str])] = &[
    ("common.greeting_named", &["name"]),
    ("footer.reason", &["newsletter", "site"]),
    ("footer.reason_site", &["site"]),
    ("confirmation.subject", &["site"]),
    ("confirmation.reminder_subject", &["site"]),
    ("confirmation.preheader", &["newsletters", "site"]),
    ("confirmation.body", &["newsletters", "site"]),
    ("confirmation.body_generic", &["site"]),
    ("confirmation.expiry_one", &["hours"]),
    ("confirmation.expiry_other", &["hours"]),
    ("confirmation.reason", &["site"]),
    ("digest.by_author", &["author"]),
    ("digest.test_subject", &["subject"]),
    ("review.subject", &["subject", "newsletter"]),
    ("review.preheader", &["newsletter", "subject"]),
    ("review.body", &["newsletter", "subject", "stories"]),
    ("review.story_count_one", &["count"]),
    ("review.story_count_other", &["count"]),
    ("review.reason", &["site"]),
];

fn allowed_placeholders(key: &str) -> &'static [&'static str] {
    PLACEHOLDERS
        .iter()
        .find(|(listed, _)| *listed == key)
        .map_or(&[], |(_, allowed)| allowed)
}

/// Parses and checks a words file against the schema (the built-in English
/// table).
pub(crate) fn parse(locale: Locale, source: &str, schema: &Table) -> Result<Words, TemplateError> {
    let table: Table = toml::from_str(source).map_err(|error| TemplateError::WordsSyntax {
        locale,
        message: error.message().to_owned() + &position(source, error.span()),
    })?;
    let mut check = ShapeCheck::default();
    check.compare(schema, &table, "");
    // Sorted so the message does not depend on whether toml keeps file order
    // (its `preserve_order` feature may be on in the whole workspace).
    check.missing.sort();
    check.unknown.sort();
    if !check.missing.is_empty() {
        return Err(TemplateError::MissingWords {
            locale,
            keys: check.missing,
        });
    }
    if !check.unknown.is_empty() {
        return Err(TemplateError::UnknownWords {
            locale,
            keys: check.unknown,
        });
    }
    if let Some((key, expected)) = check.wrong_type {
        return Err(TemplateError::WrongWordsType {
            locale,
            key,
            expected,
        });
    }
    check_texts(locale, &table, "")?;
    table
        .try_into()
        .map_err(|error: toml::de::Error| TemplateError::WordsSyntax {
            locale,
            message: error.message().to_owned(),
        })
}

/// " at line L, column C" for a span of the source, when the parser gave one.
fn position(source: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(start) = span.map(|span| span.start) else {
        return String::new();
    };
    let before = source.get(..start).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!(" (line {line}, column {column})")
}

#[derive(Default)]
struct ShapeCheck {
    missing: Vec<String>,
    unknown: Vec<String>,
    wrong_type: Option<(String, &'static str)>,
}

impl ShapeCheck {
    fn compare(&mut self, schema: &Table, given: &Table, prefix: &str) {
        for (key, expected) in schema {
            let path = join(prefix, key);
            match (expected, given.get(key)) {
                (_, None) => self.missing.push(path),
                (Value::Table(inner_schema), Some(Value::Table(inner))) => {
                    self.compare(inner_schema, inner, &path);
                }
                (Value::Table(_), Some(_)) => self.wrong(path, "a table"),
                (_, Some(Value::String(_))) => {}
                (_, Some(_)) => self.wrong(path, "text in quotes"),
            }
        }
        for key in given.keys() {
            if !schema.contains_key(key) {
                self.unknown.push(join(prefix, key));
            }
        }
    }

    fn wrong(&mut self, path: String, expected: &'static str) {
        if self.wrong_type.is_none() {
            self.wrong_type = Some((path, expected));
        }
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

fn check_texts(locale: Locale, table: &Table, prefix: &str) -> Result<(), TemplateError> {
    for (key, value) in table {
        let path = join(prefix, key);
        match value {
            Value::Table(inner) => check_texts(locale, inner, &path)?,
            Value::String(text) => check_text(locale, &path, text)?,
            _ => {}
        }
    }
    Ok(())
}

fn check_text(locale: Locale, key: &str, text: &str) -> Result<(), TemplateError> {
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(TemplateError::ControlCharacter {
            locale,
            key: key.to_owned(),
        });
    }
    let allowed = allowed_placeholders(key);
    for (_, name) in placeholders(text) {
        if !allowed.contains(&name) {
            return Err(TemplateError::UnknownPlaceholder {
                locale,
                key: key.to_owned(),
                placeholder: name.to_owned(),
                allowed: allowed.to_vec(),
            });
        }
    }
    Ok(())
}

/// Every `{name}` in a text, with the byte range it covers. A brace not
/// followed by a name and a closing brace is plain text.
fn placeholders(text: &str) -> impl Iterator<Item = (std::ops::Range<usize>, &str)> {
    text.match_indices('{').filter_map(move |(start, _)| {
        let rest = &text[start + 1..];
        let end = rest.find('}')?;
        let name = &rest[..end];
        let is_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        is_name.then(|| (start..start + end + 2, name))
    })
}

/// The text with each `{name}` replaced by its value. Placeholders without a
/// value are left as written (validation makes that impossible for loaded
/// words).
pub(crate) fn fill(text: &str, values: &[(&str, &str)]) -> String {
    let mut out =
        String::with_capacity(text.len() + values.iter().map(|(_, v)| v.len()).sum::<usize>());
    let mut copied = 0;
    for (range, name) in placeholders(text) {
        if let Some((_, value)) = values.iter().find(|(key, _)| *key == name) {
            out.push_str(&text[copied..range.start]);
            out.push_str(value);
            copied = range.end;
        }
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Table {
        toml::from_str(crate::BUILTIN_EN).unwrap()
    }

    #[test]
    fn builtin_words_pass_every_check() {
        let schema = schema();
        parse(Locale::En, crate::BUILTIN_EN, &schema).unwrap();
        parse(Locale::Fr, crate::BUILTIN_FR, &schema).unwrap();
    }

    #[test]
    fn every_placeholder_rule_names_a_real_key() {
        let schema = schema();
        for (key, _) in PLACEHOLDERS {
            let mut table = &schema;
            let mut parts = key.split('.').peekable();
            while let Some(part) = parts.next() {
                if parts.peek().is_some() {
                    table = table[part].as_table().unwrap();
                } else {
                    assert!(table[part].is_str(), "{key}");
                }
            }
        }
    }

    #[test]
    fn fill_replaces_known_placeholders_only() {
        assert_eq!(
            fill(
                "{a} and {b} {not a placeholder} {",
                &[("a", "1"), ("b", "{a}")]
            ),
            "1 and {a} {not a placeholder} {"
        );
    }

    #[test]
    fn missing_and_unknown_keys_are_listed_by_path() {
        let schema = schema();
        let source = crate::BUILTIN_FR
            .replace("button = \"Je m’inscris\"\n", "")
            .replace("done_title = \"Inscription confirmée\"\n", "");
        let error = parse(Locale::Fr, &source, &schema).unwrap_err();
        assert_eq!(
            error.to_string(),
            "words for locale fr: missing key(s) pages.confirm.done_title, pages.subscribe.button"
        );

        let source = crate::BUILTIN_EN.replace("[pages.error]", "[pages.error]\ntitel = \"x\"");
        let error = parse(Locale::En, &source, &schema).unwrap_err();
        assert_eq!(
            error.to_string(),
            "words for locale en: unknown key(s) pages.error.titel"
        );
    }

    #[test]
    fn unknown_placeholder_is_refused_with_the_allowed_ones() {
        let source = crate::BUILTIN_EN.replace("{newsletter} on {site}.", "{newsleter} on {site}.");
        let error = parse(Locale::En, &source, &schema()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "words for locale en: key footer.reason uses unknown placeholder {newsleter} \
             (allowed: {newsletter}, {site})"
        );
    }

    #[test]
    fn wrong_type_and_syntax_errors_name_the_place() {
        let source = crate::BUILTIN_EN.replace("list_and = \"and\"", "list_and = 3");
        let error = parse(Locale::En, &source, &schema()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "words for locale en: key common.list_and must be text in quotes"
        );

        let error = parse(Locale::Fr, "[common\n", &schema()).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("words for locale fr: not valid TOML"),
            "{error}"
        );
        assert!(error.to_string().contains("line 1"), "{error}");
    }

    #[test]
    fn control_characters_are_refused() {
        let source = crate::BUILTIN_EN.replace("list_and = \"and\"", "list_and = \"a\\u0001nd\"");
        let error = parse(Locale::En, &source, &schema()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "words for locale en: key common.list_and contains a control character"
        );
    }
}
