//! The email that tells editors an issue is waiting for their review.

use maud::html;

use crate::confirmation::footer_text;
use crate::layout::{self, Frame};
use crate::words::fill;
use crate::{Locale, RenderedEmail, Site, Templates, sanitize, text};

/// What the review notice needs.
#[derive(Debug, Clone, Copy)]
pub struct ReviewNotice<'a> {
    /// The site the editor works on.
    pub site: &'a Site,
    /// The language of the email.
    pub locale: Locale,
    /// The newsletter of the issue.
    pub newsletter_name: &'a str,
    /// The issue's subject.
    pub subject: &'a str,
    /// How many stories the issue holds.
    pub story_count: usize,
    /// Absolute URL of the issue in the admin.
    pub review_url: &'a str,
}

struct Texts {
    subject: String,
    preheader: String,
    heading: String,
    body: String,
    instructions: String,
    button: String,
    link_fallback: String,
    reason: String,
}

impl Templates {
    /// The "ready for review" email to an editor.
    pub fn review_notice(&self, notice: &ReviewNotice<'_>) -> RenderedEmail {
        let texts = self.review_texts(notice);
        RenderedEmail {
            html: self.inline_or_plain(render_html(notice, &texts)),
            text: render_text(notice, &texts),
            subject: texts.subject,
        }
    }

    pub(crate) fn review_notice_html(&self, notice: &ReviewNotice<'_>) -> String {
        render_html(notice, &self.review_texts(notice))
    }

    fn review_texts(&self, notice: &ReviewNotice<'_>) -> Texts {
        let words = &self.words(notice.locale).review;
        let newsletter = sanitize::line(notice.newsletter_name);
        let issue_subject = sanitize::line(notice.subject);
        let count = if notice.locale.is_singular(notice.story_count) {
            &words.story_count_one
        } else {
            &words.story_count_other
        };
        let stories = fill(count, &[("count", &notice.story_count.to_string())]);
        let values = [
            ("newsletter", newsletter.as_ref()),
            ("subject", issue_subject.as_ref()),
            ("stories", stories.as_str()),
        ];
        Texts {
            subject: sanitize::line(&fill(&words.subject, &values)).into_owned(),
            preheader: fill(&words.preheader, &values),
            heading: words.heading.clone(),
            body: fill(&words.body, &values),
            instructions: words.instructions.clone(),
            button: words.button.clone(),
            link_fallback: self.words(notice.locale).common.link_fallback.clone(),
            reason: fill(
                &words.reason,
                &[("site", &sanitize::line(&notice.site.name))],
            ),
        }
    }
}

fn render_html(notice: &ReviewNotice<'_>, texts: &Texts) -> String {
    let url = sanitize::url(notice.review_url);
    let rows = html! {
        tr {
            td.content {
                h1.heading { (texts.heading) }
                p { (texts.body) }
                p { (texts.instructions) }
                @if let Some(url) = url {
                    table role="presentation" cellpadding="0" cellspacing="0" border="0" {
                        tr { td.button-row { (layout::button(url, &texts.button)) } }
                    }
                    p.note.fallback { (texts.link_fallback) br; a href=(url) { (url) } }
                }
            }
        }
    };
    let footer = html! {
        p { (texts.reason) }
        (layout::address(&notice.site.postal_address))
    };
    layout::document(
        &Frame {
            locale: notice.locale,
            site: notice.site,
            title: &texts.subject,
            preheader: Some(&texts.preheader),
            subtitle: Some(notice.newsletter_name),
            banner: None,
        },
        rows,
        footer,
    )
}

fn render_text(notice: &ReviewNotice<'_>, texts: &Texts) -> String {
    let mut out = String::with_capacity(1024);
    text::heading(&mut out, &texts.heading);
    out.push('\n');
    text::wrap(&mut out, &texts.body, "", "");
    out.push('\n');
    text::wrap(&mut out, &texts.instructions, "", "");
    if let Some(url) = sanitize::url(notice.review_url) {
        out.push('\n');
        out.push_str(&text::label(notice.locale, &texts.button));
        out.push('\n');
        out.push_str(url);
        out.push('\n');
    }
    footer_text(&mut out, &texts.reason, notice.site);
    out
}
