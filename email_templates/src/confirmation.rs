//! The double opt-in email: one button to confirm, the link in full under
//! it, when it expires and what to do if the reader never asked.

use std::borrow::Cow;

use maud::html;

use crate::layout::{self, Frame};
use crate::personalise::{self, PersonalisedTemplate, Values};
use crate::words::fill;
use crate::{Locale, RenderedEmail, Site, TemplateError, Templates, sanitize, text};

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

/// What a confirmation email says to everyone signing up for the same
/// newsletters: [`Confirmation`] without the name and the link.
#[derive(Debug, Clone, Copy)]
pub struct ConfirmationLayout<'a> {
    pub site: &'a Site,
    pub locale: Locale,
    /// The newsletters asked for, by their display names.
    pub newsletter_names: &'a [String],
    pub expires_hours: u32,
}

/// A confirmation email rendered once (CSS inlined once) for a locale and a
/// set of newsletters, filled in for each signup with the name and the
/// link, as digests are for each recipient (see `personalise`): signups
/// come in bursts, and inlining the CSS was the costliest step of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmationTemplate(PersonalisedTemplate);

impl ConfirmationTemplate {
    /// The email for one signup: exactly what [`Templates::confirmation`]
    /// renders for the same name and link, except that `"` and `'` in a
    /// name come out as character references in the HTML.
    pub fn personalise(&self, name: Option<&str>, confirm_url: &str) -> RenderedEmail {
        self.0.fill(&Values::confirmation(name, confirm_url))
    }
}

/// Who the greeting is for: a known name, or the template's markers.
#[derive(Debug, Clone, Copy)]
enum Greeting<'a> {
    Reader(Option<&'a str>),
    Markers,
}

impl Templates {
    /// The confirmation email for one signup, rendered whole. Signups use
    /// [`Templates::confirmation_template`] instead.
    pub fn confirmation(&self, confirmation: &Confirmation<'_>) -> RenderedEmail {
        let texts = self.confirmation_texts(confirmation, Greeting::Reader(confirmation.name));
        let url = sanitize::url(confirmation.confirm_url);
        RenderedEmail {
            html: self.inline_or_plain(self.render_confirmation_html(confirmation, &texts, url)),
            text: confirmation_text(confirmation, &texts, url),
            subject: texts.subject,
        }
    }

    /// The confirmation email for a locale and newsletters, with the name
    /// and the link left to [`ConfirmationTemplate::personalise`].
    pub fn confirmation_template(
        &self,
        layout: &ConfirmationLayout<'_>,
    ) -> Result<ConfirmationTemplate, TemplateError> {
        let confirmation = Confirmation {
            site: layout.site,
            locale: layout.locale,
            name: None,
            newsletter_names: layout.newsletter_names,
            confirm_url: personalise::CONFIRM_URL,
            expires_hours: layout.expires_hours,
        };
        let texts = self.confirmation_texts(&confirmation, Greeting::Markers);
        let url = Some(personalise::CONFIRM_URL);
        let html = self.inline(&self.render_confirmation_html(&confirmation, &texts, url))?;
        let text = confirmation_text(&confirmation, &texts, url);
        Ok(ConfirmationTemplate(PersonalisedTemplate::new(
            texts.subject,
            html,
            text,
        )?))
    }

    pub(crate) fn confirmation_html(&self, confirmation: &Confirmation<'_>) -> String {
        let texts = self.confirmation_texts(confirmation, Greeting::Reader(confirmation.name));
        let url = sanitize::url(confirmation.confirm_url);
        self.render_confirmation_html(confirmation, &texts, url)
    }

    fn confirmation_texts(&self, confirmation: &Confirmation<'_>, greeting: Greeting<'_>) -> Texts {
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
        let greeting = match greeting {
            Greeting::Reader(name) => {
                match name.map(sanitize::line).and_then(sanitize::non_empty) {
                    Some(name) => fill(&words.common.greeting_named, &[("name", &name)]),
                    None => words.common.greeting_anonymous.clone(),
                }
            }
            // The markers are plain text to maud and the inliner.
            Greeting::Markers => format!(
                "{}{}{}{}{}",
                personalise::IF_NAME,
                fill(&words.common.greeting_named, &[("name", personalise::NAME)]),
                personalise::ELSE,
                words.common.greeting_anonymous,
                personalise::END_IF
            ),
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

    /// `url` is the link if it may be linked (or the link's marker).
    fn render_confirmation_html(
        &self,
        confirmation: &Confirmation<'_>,
        texts: &Texts,
        url: Option<&str>,
    ) -> String {
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

fn confirmation_text(confirmation: &Confirmation<'_>, texts: &Texts, url: Option<&str>) -> String {
    let mut out = String::with_capacity(1024);
    text::heading(&mut out, &texts.heading);
    out.push('\n');
    out.push_str(&texts.greeting);
    out.push_str("\n\n");
    text::wrap(&mut out, &texts.body, "", "");
    if let Some(url) = url {
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

    fn site() -> Site {
        Site {
            name: "The Daily Bugle".into(),
            base_url: "https://news.example.org".into(),
            postal_address: "1 Main Street\nSpringfield".into(),
        }
    }

    #[test]
    fn the_template_gives_the_email_rendered_whole() {
        let templates = Templates::builtin();
        let site = site();
        let url = "https://news.example.org/confirm?token=abc-DEF_123";
        for locale in Locale::ALL {
            for names in [
                vec![],
                vec!["Morning".to_owned(), "Évening & more".to_owned()],
            ] {
                let template = templates
                    .confirmation_template(&ConfirmationLayout {
                        site: &site,
                        locale,
                        newsletter_names: &names,
                        expires_hours: 72,
                    })
                    .unwrap();
                for name in [
                    None,
                    Some("Ann"),
                    Some("  "),
                    Some("<script>x</script> & Co"),
                    Some("\u{1}Zoë\n"),
                ] {
                    let whole = templates.confirmation(&Confirmation {
                        site: &site,
                        locale,
                        name,
                        newsletter_names: &names,
                        confirm_url: url,
                        expires_hours: 72,
                    });
                    assert_eq!(
                        template.personalise(name, url),
                        whole,
                        "{locale:?} {name:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_name_is_escaped_in_html_and_plain_in_text() {
        let templates = Templates::builtin();
        let site = site();
        let template = templates
            .confirmation_template(&ConfirmationLayout {
                site: &site,
                locale: Locale::En,
                newsletter_names: &["Morning".to_owned()],
                expires_hours: 72,
            })
            .unwrap();
        let email = template.personalise(
            Some("<script>alert('x')</script> & \"Co\""),
            "https://news.example.org/confirm?token=t1",
        );
        assert!(!email.html.contains("<script>"), "{}", email.html);
        assert!(
            email
                .html
                .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;Co&quot;")
        );
        assert!(email.text.contains("<script>alert('x')</script> & \"Co\""));
        assert!(
            email
                .html
                .contains("href=\"https://news.example.org/confirm?token=t1\"")
        );
        assert!(
            email
                .text
                .contains("\nhttps://news.example.org/confirm?token=t1\n")
        );
        assert!(!email.html.contains('\u{1}') && !email.text.contains('\u{1}'));
        // a link that may not be linked is left out
        let email = template.personalise(None, "javascript:alert(1)");
        assert!(!email.html.contains("javascript:") && !email.text.contains("javascript:"));
    }

    #[test]
    fn lists_join_with_the_locale_word() {
        let items: Vec<Cow<'_, str>> = vec!["A".into(), "B".into(), "C".into()];
        assert_eq!(join_list(&items[..1], "and"), "A");
        assert_eq!(join_list(&items[..2], "et"), "A et B");
        assert_eq!(join_list(&items, "and"), "A, B and C");
    }
}
