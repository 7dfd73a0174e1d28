//! A newsletter's welcome email as editors write it: a subject and a body
//! in Markdown, sent once to each reader who confirms. Markdown becomes
//! HTML with pulldown-cmark; raw HTML in it is shown as text, never put
//! into the email, and links keep only web and mail addresses.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, html};

use crate::store::newsletters::StoredWelcome;

pub const MAX_SUBJECT_CHARS: usize = 200;
pub const MAX_BODY_CHARS: usize = 20_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidWelcome {
    #[error("a welcome email needs a subject")]
    NoSubject,
    #[error("the subject must be one line of at most {MAX_SUBJECT_CHARS} characters")]
    BadSubject,
    #[error("the welcome email is longer than {MAX_BODY_CHARS} characters")]
    TooLong,
}

/// A checked welcome email; an empty body is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WelcomeText {
    subject: String,
    markdown: String,
}

impl WelcomeText {
    /// `None` when the body is empty: the newsletter sends no welcome.
    pub fn parse(subject: &str, markdown: &str) -> Result<Option<WelcomeText>, InvalidWelcome> {
        let markdown = markdown.replace("\r\n", "\n");
        let markdown = markdown.trim();
        let subject = subject.trim();
        if markdown.is_empty() {
            return Ok(None);
        }
        if subject.is_empty() {
            return Err(InvalidWelcome::NoSubject);
        }
        if subject.chars().count() > MAX_SUBJECT_CHARS || subject.chars().any(char::is_control) {
            return Err(InvalidWelcome::BadSubject);
        }
        if markdown.chars().count() > MAX_BODY_CHARS {
            return Err(InvalidWelcome::TooLong);
        }
        Ok(Some(WelcomeText {
            subject: subject.to_string(),
            markdown: markdown.to_string(),
        }))
    }

    /// What was stored, if it is a welcome email.
    pub fn from_stored(stored: &StoredWelcome) -> Option<WelcomeText> {
        WelcomeText::parse(&stored.subject, &stored.markdown)
            .ok()
            .flatten()
    }

    pub fn to_stored(welcome: Option<&WelcomeText>) -> StoredWelcome {
        welcome
            .map(|w| StoredWelcome {
                subject: w.subject.clone(),
                markdown: w.markdown.clone(),
            })
            .unwrap_or_default()
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }

    pub fn markdown(&self) -> &str {
        &self.markdown
    }

    /// The body as HTML, safe to put into the email as it is.
    pub fn html(&self) -> String {
        markdown_to_html(&self.markdown)
    }
}

fn markdown_to_html(markdown: &str) -> String {
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        other => other,
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

/// Web and mail addresses only: anything else (`javascript:`, `data:`)
/// becomes an empty link.
fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let lower = url.trim().to_ascii_lowercase();
    if ["https://", "http://", "mailto:"]
        .iter()
        .any(|scheme| lower.starts_with(scheme))
    {
        url
    } else {
        CowStr::Borrowed("")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_html_and_raw_html_stays_text() {
        let welcome = WelcomeText::parse(
            "Welcome",
            "Hello **reader**.\r\n\r\n<script>alert(1)</script> <b>bold</b>\n\n\
             [Read](https://news.example.org) [x](javascript:alert(1))",
        )
        .unwrap()
        .unwrap();
        let html = welcome.html();
        assert!(html.contains("<strong>reader</strong>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("&lt;b&gt;bold&lt;/b&gt;"), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("href=\"https://news.example.org\""), "{html}");
        assert!(!html.contains("javascript"), "{html}");
    }

    #[test]
    fn an_empty_body_is_no_welcome_and_a_body_needs_a_subject() {
        assert_eq!(WelcomeText::parse("Hi", "  \n"), Ok(None));
        assert_eq!(
            WelcomeText::parse(" ", "Hello"),
            Err(InvalidWelcome::NoSubject)
        );
        assert_eq!(
            WelcomeText::parse("a\u{7}b", "Hello"),
            Err(InvalidWelcome::BadSubject)
        );
        assert_eq!(
            WelcomeText::parse("Hi", &"x".repeat(MAX_BODY_CHARS + 1)),
            Err(InvalidWelcome::TooLong)
        );
    }
}
