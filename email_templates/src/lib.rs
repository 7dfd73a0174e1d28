//! Gazette's email design: the maud layouts of every email Gazette sends,
//! their CSS, and their words in English and French. The crate does no I/O:
//! the built-in CSS and words are compiled in, and overrides (read by the
//! application from its `templates.dir`) come in as strings, checked by
//! [`Templates::with_overrides`] with an error that names the locale and key
//! at fault.
//!
//! Three emails:
//! - [`Templates::confirmation`]: the double opt-in email;
//! - [`Templates::digest`]: an issue, rendered once (CSS inlined once) into a
//!   [`PersonalisedTemplate`] that [`PersonalisedTemplate::personalise`] fills
//!   in cheaply for each recipient; [`Templates::web_view`] gives the same
//!   issue without personal links for the archive;
//! - [`Templates::review_notice`]: tells editors an issue awaits review.
//!
//! Every email has an HTML part (tables that survive Outlook, CSS inlined)
//! and a real plain-text part. Everything that comes from outside is
//! escaped by maud, stripped of control characters, and only `http(s)` URLs
//! are linked.
//!
//! ```
//! use email_templates::{Digest, Locale, Recipient, Site, Story, Templates};
//!
//! let templates = Templates::builtin();
//! let site = Site {
//!     name: "The Daily Bugle".into(),
//!     base_url: "https://news.example.org".into(),
//!     postal_address: "1 Main Street, Springfield".into(),
//! };
//! let stories = [Story {
//!     title: "Spider sighted downtown".into(),
//!     url: "https://news.example.org/spider".into(),
//!     ..Story::default()
//! }];
//! let issue = templates.digest(&Digest {
//!     site: &site,
//!     locale: Locale::En,
//!     newsletter_name: "Morning",
//!     subject: "Your morning news",
//!     preheader: None,
//!     intro: None,
//!     stories: &stories,
//!     web_url: None,
//!     test_send: false,
//! })?;
//! let email = issue.personalise(&Recipient {
//!     name: Some("Ann"),
//!     unsubscribe_url: "https://news.example.org/unsubscribe?token=t",
//!     preferences_url: "https://news.example.org/preferences?token=t",
//! });
//! assert!(email.html.contains("Hello Ann,"));
//! assert!(email.text.contains("1. Spider sighted downtown"));
//! # Ok::<(), email_templates::TemplateError>(())
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod confirmation;
mod css;
mod digest;
mod error;
mod layout;
mod locale;
mod personalise;
pub mod quoted_printable;
mod review;
mod sanitize;
mod text;
mod welcome;
mod words;

pub use confirmation::{Confirmation, ConfirmationLayout, ConfirmationTemplate};
pub use digest::{Digest, Story};
pub use error::TemplateError;
pub use locale::{Locale, UnknownLocale};
pub use personalise::{EncodedEmail, Field, PersonalisedTemplate, Recipient};
pub use review::ReviewNotice;
pub use welcome::Welcome;
pub use words::{
    CheckInboxPage, CommonWords, ConfirmPage, ConfirmationWords, DigestWords, ErrorPage,
    ExpiredPage, FooterWords, PageWords, PreferencesPage, ReviewWords, SubscribePage,
    UnsubscribePage, Words,
};

const BUILTIN_CSS: &str = include_str!("../styles/email.css");
const BUILTIN_EN: &str = include_str!("../locales/en.toml");
const BUILTIN_FR: &str = include_str!("../locales/fr.toml");

/// The site that sends the emails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// Shown in the header and the footer.
    pub name: String,
    /// The public URL; the header links to it.
    pub base_url: String,
    /// Shown in every footer (anti-spam laws require it). Line breaks are
    /// kept.
    pub postal_address: String,
}

/// An email ready to be put into a MIME message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    /// One line, control characters removed.
    pub subject: String,
    /// The `text/html` part, CSS inlined.
    pub html: String,
    /// The `text/plain` part.
    pub text: String,
}

/// The CSS and the words of every locale: the built-in ones, or overrides.
/// Build it once at start and share it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Templates {
    css: String,
    words: [Words; 2],
}

impl Templates {
    /// The built-in CSS and words.
    pub fn builtin() -> Templates {
        match Self::load(BUILTIN_CSS, &[]) {
            Ok(templates) => templates,
            // The built-in files are compiled in and checked by the tests
            // (`builtin_words_pass_every_check`), so this cannot happen in a
            // released build.
            Err(error) => panic!("the built-in templates are invalid: {error}"),
        }
    }

    /// The built-in templates with `css` replacing the built-in CSS and each
    /// `(locale, toml)` replacing that locale's words. Every override is
    /// checked: words must have every key of the built-in file and no other,
    /// use only the placeholders of their key and hold no control
    /// character; the CSS must have balanced braces, closed comments and
    /// strings, and no `</` (so it cannot close the `<style>` block that
    /// keeps `@media` rules) or control character. Each email is then rendered once in each locale,
    /// so an override that loads also renders.
    pub fn with_overrides(
        css: Option<&str>,
        words: &[(Locale, &str)],
    ) -> Result<Templates, TemplateError> {
        for (index, (locale, _)) in words.iter().enumerate() {
            if words[..index].iter().any(|(earlier, _)| earlier == locale) {
                return Err(TemplateError::DuplicateWords(*locale));
            }
        }
        let css = css.unwrap_or(BUILTIN_CSS);
        css::check(css)?;
        let templates = Self::load(css, words)?;
        templates.render_samples()?;
        Ok(templates)
    }

    fn load(css: &str, overrides: &[(Locale, &str)]) -> Result<Templates, TemplateError> {
        let schema: toml::Table =
            toml::from_str(BUILTIN_EN).map_err(|error| TemplateError::WordsSyntax {
                locale: Locale::En,
                message: error.message().to_owned(),
            })?;
        let source = |locale: Locale, builtin: &'static str| {
            overrides
                .iter()
                .find(|(overridden, _)| *overridden == locale)
                .map_or(builtin, |(_, source)| source)
        };
        Ok(Templates {
            css: css.to_owned(),
            words: [
                words::parse(Locale::En, source(Locale::En, BUILTIN_EN), &schema)?,
                words::parse(Locale::Fr, source(Locale::Fr, BUILTIN_FR), &schema)?,
            ],
        })
    }

    /// The words of a locale, for the public pages (`words(locale).pages`).
    pub fn words(&self, locale: Locale) -> &Words {
        &self.words[locale.index()]
    }

    /// The CSS in use (built-in or override).
    pub fn css(&self) -> &str {
        &self.css
    }

    /// The built-in CSS, a starting point for an override file.
    pub fn builtin_css_source() -> &'static str {
        BUILTIN_CSS
    }

    /// The built-in words file of a locale, a starting point for an
    /// override file.
    pub fn builtin_words_source(locale: Locale) -> &'static str {
        match locale {
            Locale::En => BUILTIN_EN,
            Locale::Fr => BUILTIN_FR,
        }
    }

    /// Inlines the CSS; on failure (impossible with CSS that passed
    /// `with_overrides`, which rendered every email) the email goes out
    /// unstyled rather than not at all: the layout's attributes still hold
    /// it together.
    fn inline_or_plain(&self, html: String) -> String {
        layout::inline_css(&self.css, &html).unwrap_or(html)
    }

    fn inline(&self, html: &str) -> Result<String, TemplateError> {
        layout::inline_css(&self.css, html).map_err(|error| TemplateError::Css(error.to_string()))
    }

    fn render_samples(&self) -> Result<(), TemplateError> {
        let site = Site {
            name: "Sample".to_owned(),
            base_url: "https://example.org".to_owned(),
            postal_address: "1 Sample Street\nSample Town".to_owned(),
        };
        let stories = [Story {
            title: "Sample story".to_owned(),
            url: "https://example.org/story".to_owned(),
            summary: Some("A summary.".to_owned()),
            image_url: Some("https://example.org/image.jpg".to_owned()),
            author: Some("Sam Ple".to_owned()),
            published_at: Some("1 January 2030".to_owned()),
        }];
        let newsletters = ["Sample news".to_owned()];
        for locale in Locale::ALL {
            let digest = Digest {
                site: &site,
                locale,
                newsletter_name: "Sample news",
                subject: "Sample issue",
                preheader: Some("Sample preheader"),
                intro: Some("Sample introduction."),
                stories: &stories,
                web_url: Some("https://example.org/archive/sample/1"),
                test_send: true,
            };
            self.digest(&digest)?;
            self.web_view(&digest)?;
            let confirmation = self.confirmation_html(&Confirmation {
                site: &site,
                locale,
                name: Some("Sam"),
                newsletter_names: &newsletters,
                confirm_url: "https://example.org/confirm?token=t",
                expires_hours: 72,
            });
            self.inline(&confirmation)?;
            self.confirmation_template(&ConfirmationLayout {
                site: &site,
                locale,
                newsletter_names: &newsletters,
                expires_hours: 72,
            })?;
            let review = self.review_notice_html(&ReviewNotice {
                site: &site,
                locale,
                newsletter_name: "Sample news",
                subject: "Sample issue",
                story_count: 1,
                review_url: "https://example.org/admin/issues/1",
            });
            self.inline(&review)?;
        }
        Ok(())
    }
}

impl Default for Templates {
    fn default() -> Self {
        Templates::builtin()
    }
}
