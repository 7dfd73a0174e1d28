//! The double opt-in email: one button to confirm, the link in full under
//! it, when it expires and what to do if the reader never asked.

use std::borrow::Cow;

use maud::html;

use crate::layout::{self, Frame};
use crate::words::fill;
use crate::{Locale, RenderedEmail, Site, Templates, sanitize, text};

/// What the confirmation email needs.
#[derive(Debug, Clone, Copy)]
pub struct Confirmation<'a> {
    /// The site the reader subscribed on.
    pub site: &'a Site,
    /// The language of the email.
    pub locale: Locale,
    /// The name given in the form, if any.
    pub name: Option<&'a str>,
    /// The newsletters asked for, by their display names.
    pub newsletter_names: &'a [String],
    /// Absolute URL of the confirmation page.
    pub confirm_url: &'a str,
    /// How long the link stays valid.
    pub expires_hours: u32,
}

/// The words of one confirmation email, filled in.
struct Texts {
    subject: String,
    preheader: String,
    heading: String,
    greeting: String,
    body: String,
    button: String,
    expiry: String,
    link_fallback: String,
    ignore: String,
    reason: String,
}

impl Templates {
    /// The confirmation email. Unlike digests it is rendered whole for each
    /// signup: it goes to one person.
    pub fn confirmation(&self, confirmation: &Confirmation<'_>) -> RenderedEmail {
        let texts = self.confirmation_texts(confirmation);
        RenderedEmail {
            html: self.inline_or_plain(self.render_confirmation_html(confirmation, &texts)),
            text: confirmation_text(confirmation, &texts),
            subject: texts.subject,
        }
    }

    pub(crate) fn confirmation_html(&self, confirmation: &Confirmation<'_>) -> String {
        let texts = self.confirmation_texts(confirmation);
        self.render_confirmation_html(confirmation, &texts)
    }

    fn confirmation_texts(&self, confirmation: &Confirmation<'_>) -> Texts {
        let words = self.words(confirmation.locale);
        let site = sanitize::line(&confirmation.site.name);
        let names: Vec<Cow<'_, str>> = confirmation
            .newsletter_names
            .iter()
            .map(|name| sanitize::line(name))
            .filter(|name| !name.is_empty())
            .collect();
        let list = join_list(&names, &words.common.list_and);
        let body = if list.is_empty() {
            fill(&words.confirmation.body_generic, &[("site", &site)])
        } else {
            fill(
                &words.confirmation.body,
                &[("newsletters", &list), ("site", &site)],
            )
        };
        let preheader_list: &str = if list.is_empty() { &site } else { &list };
        let greeting = match confirmation
            .name
            .map(sanitize::line)
            .and_then(sanitize::non_empty)
        {
            Some(name) => fill(&words.common.greeting_named, &[("name", &name)]),
            None => words.common.greeting_anonymous.clone(),
        };
        let expiry = if confirmation
            .locale
            .is_singular(usize::try_from(confirmation.expires_hours).unwrap_or(usize::MAX))
        {
            &words.confirmation.expiry_one
        } else {
            &words.confirmation.expiry_other
        };
        Texts {
            subject: fill(&words.confirmation.subject, &[("site", &site)]),
            preheader: fill(
                &words.confirmation.preheader,
                &[("newsletters", preheader_list), ("site", &site)],
            ),
            heading: words.confirmation.heading.clone(),
            greeting,
            body,
            button: words.confirmation.button.clone(),
            expiry: fill(
                expiry,
                &[("hours", &confirmation.expires_hours.to_string())],
            ),
            link_fallback: words.common.link_fallback.clone(),
            ignore: words.confirmation.ignore.clone(),
            reason: fill(&words.confirmation.reason, &[("site", &site)]),
        }
    }

    fn render_confirmation_html(&self, confirmation: &Confirmation<'_>, texts: &Texts) -> String {
        let url = sanitize::url(confirmation.confirm_url);
        let rows = html! {
            tr {
                td.content {
                    h1.heading { (texts.heading) }
                    p { (texts.greeting) }
                    p { (texts.body) }
                    @if let Some(url) = url {
                        table role="presentation" cellpadding="0" cellspacing="0" border="0" {
                            tr { td.button-row { (layout::button(url, &texts.button)) } }
                        }
                    }
                    p.note { (texts.expiry) }
                    @if let Some(url) = url {
                        p.note.fallback { (texts.link_fallback) br; a href=(url) { (url) } }
                    }
                    p.note { (texts.ignore) }
                }
            }
        };
        let footer = html! {
            p { (texts.reason) }
            (layout::address(&confirmation.site.postal_address))
        };
        layout::document(
            &Frame {
                locale: confirmation.locale,
                site: confirmation.site,
                title: &texts.subject,
                preheader: Some(&texts.preheader),
                subtitle: None,
                banner: None,
            },
            rows,
            footer,
        )
    }
}

fn confirmation_text(confirmation: &Confirmation<'_>, texts: &Texts) -> String {
    let mut out = String::with_capacity(1024);
    text::heading(&mut out, &texts.heading);
    out.push('\n');
    out.push_str(&texts.greeting);
    out.push_str("\n\n");
    text::wrap(&mut out, &texts.body, "", "");
    if let Some(url) = sanitize::url(confirmation.confirm_url) {
        out.push('\n');
        out.push_str(&text::label(confirmation.locale, &texts.button));
        out.push('\n');
        out.push_str(url);
        out.push('\n');
    }
    out.push('\n');
    text::wrap(&mut out, &texts.expiry, "", "");
    out.push('\n');
    text::wrap(&mut out, &texts.ignore, "", "");
    footer_text(&mut out, &texts.reason, confirmation.site);
    out
}

/// The footer of the confirmation and review emails: why, then who.
pub(crate) fn footer_text(out: &mut String, reason: &str, site: &Site) {
    out.push('\n');
    out.push_str(text::RULE);
    out.push('\n');
    text::wrap(out, reason, "", "");
    out.push('\n');
    out.push_str(&sanitize::line(&site.name));
    out.push('\n');
    push_address(out, &site.postal_address);
}

/// The postal address, one line per line.
pub(crate) fn push_address(out: &mut String, postal_address: &str) {
    for line in sanitize::block(postal_address)
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
    {
        out.push_str(line);
        out.push('\n');
    }
}

/// "A", "A and B", "A, B and C".
fn join_list(items: &[Cow<'_, str>], and: &str) -> String {
    match items {
        [] => String::new(),
        [only] => only.to_string(),
        [init @ .., last] => format!("{} {and} {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_join_with_the_locale_word() {
        let items: Vec<Cow<'_, str>> = vec!["A".into(), "B".into(), "C".into()];
        assert_eq!(join_list(&items[..1], "and"), "A");
        assert_eq!(join_list(&items[..2], "et"), "A et B");
        assert_eq!(join_list(&items, "and"), "A, B and C");
    }
}
