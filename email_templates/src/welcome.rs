//! The welcome email a newsletter sends once a reader confirmed: the
//! editors' own words (Markdown, turned into HTML by the caller with raw
//! HTML escaped), in the newsletter's frame and language, with the footer
//! of newsletter mail (why, unsubscribe, preferences, postal address).

use maud::{PreEscaped, html};

use crate::confirmation::push_address;
use crate::digest::newsletter_reason;
use crate::layout::{self, Frame};
use crate::{Locale, RenderedEmail, Site, Templates, sanitize, text};

/// What the welcome email needs.
#[derive(Debug, Clone, Copy)]
pub struct Welcome<'a> {
    pub site: &'a Site,
    /// The newsletter's language.
    pub locale: Locale,
    pub newsletter_name: &'a str,
    /// The editors' subject line.
    pub subject: &'a str,
    /// The body as HTML the caller made safe (Markdown rendered with raw
    /// HTML escaped); put in as it is.
    pub body_html: &'a str,
    /// The body as plain text (the Markdown source reads as such).
    pub body_text: &'a str,
    pub unsubscribe_url: &'a str,
    pub preferences_url: &'a str,
}

impl Templates {
    /// The welcome email to one reader.
    pub fn welcome(&self, welcome: &Welcome<'_>) -> RenderedEmail {
        RenderedEmail {
            html: self.inline_or_plain(self.welcome_html(welcome)),
            text: self.welcome_text(welcome),
            subject: sanitize::line(welcome.subject).into_owned(),
        }
    }

    fn welcome_html(&self, welcome: &Welcome<'_>) -> String {
        let words = self.words(welcome.locale);
        let subject = sanitize::line(welcome.subject);
        let rows = html! {
            tr { td.content.welcome { (PreEscaped(welcome.body_html)) } }
        };
        let footer = html! {
            p { (newsletter_reason(words, welcome.newsletter_name, welcome.site)) }
            p.footer-links {
                @if let Some(url) = sanitize::url(welcome.unsubscribe_url) {
                    a href=(url) target="_blank" { (words.footer.unsubscribe) }
                }
                " · "
                @if let Some(url) = sanitize::url(welcome.preferences_url) {
                    a href=(url) target="_blank" { (words.footer.preferences) }
                }
            }
            (layout::address(&welcome.site.postal_address))
        };
        layout::document(
            &Frame {
                locale: welcome.locale,
                site: welcome.site,
                title: &subject,
                preheader: None,
                subtitle: Some(welcome.newsletter_name),
                banner: None,
            },
            rows,
            footer,
        )
    }

    fn welcome_text(&self, welcome: &Welcome<'_>) -> String {
        let words = self.words(welcome.locale);
        let mut out = String::with_capacity(welcome.body_text.len() + 512);
        out.push_str(welcome.body_text.trim_end());
        out.push_str("\n\n");
        out.push_str(text::RULE);
        out.push('\n');
        let reason = newsletter_reason(words, welcome.newsletter_name, welcome.site);
        text::wrap(&mut out, &reason, "", "");
        out.push('\n');
        push_address(&mut out, &welcome.site.postal_address);
        for (label, url) in [
            (&words.footer.unsubscribe, welcome.unsubscribe_url),
            (&words.footer.preferences, welcome.preferences_url),
        ] {
            out.push('\n');
            out.push_str(&text::label(welcome.locale, label));
            out.push('\n');
            out.push_str(url);
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Site {
        Site {
            name: "The Daily".into(),
            base_url: "https://news.example.org".into(),
            postal_address: "1 Main Street".into(),
        }
    }

    #[test]
    fn welcome_carries_the_body_and_the_newsletter_footer() {
        let site = site();
        let email = Templates::builtin().welcome(&Welcome {
            site: &site,
            locale: Locale::Fr,
            newsletter_name: "Sport",
            subject: "Bienvenue\r\nBcc: x",
            body_html: "<p>Merci <strong>beaucoup</strong></p>",
            body_text: "Merci **beaucoup**",
            unsubscribe_url: "https://news.example.org/unsubscribe?t=1",
            preferences_url: "https://news.example.org/preferences?t=1",
        });
        assert!(!email.subject.contains('\n'), "{}", email.subject);
        assert!(email.html.contains("<strong>beaucoup</strong>"));
        assert!(
            email
                .html
                .contains("https://news.example.org/unsubscribe?t=1")
        );
        assert!(email.html.contains("1 Main Street"));
        assert!(
            email.html.contains("lang=\"fr\""),
            "the newsletter's language"
        );
        assert!(email.text.starts_with("Merci **beaucoup**"));
        assert!(
            email
                .text
                .contains("https://news.example.org/preferences?t=1")
        );
    }
}
