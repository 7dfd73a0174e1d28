//! The digest: an issue's stories, rendered once per issue with markers for
//! the per-recipient parts (see `personalise`), and its web view for the
//! archive.

use maud::{Markup, html};

use crate::confirmation::push_address;
use crate::layout::{self, Frame};
use crate::personalise::{self, PersonalisedTemplate};
use crate::words::fill;
use crate::{Locale, Site, TemplateError, Templates, Words, sanitize, text};

/// A story as the digest shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Story {
    /// The headline; links to `url`.
    pub title: String,
    /// The story's URL; not linked unless `http(s)`.
    pub url: String,
    /// A short text under the title.
    pub summary: Option<String>,
    /// An image shown 568 px wide above the title; dropped unless `http(s)`.
    pub image_url: Option<String>,
    /// Shown as "By {author}".
    pub author: Option<String>,
    /// The publication date, already formatted for the locale.
    pub published_at: Option<String>,
}

/// What a digest needs.
#[derive(Debug, Clone, Copy)]
pub struct Digest<'a> {
    /// The site that sends it.
    pub site: &'a Site,
    /// The newsletter's language.
    pub locale: Locale,
    /// Shown under the site name and in the footer.
    pub newsletter_name: &'a str,
    /// The subject, also the heading.
    pub subject: &'a str,
    /// The inbox preview text; none when absent.
    pub preheader: Option<&'a str>,
    /// The editor's introduction; blank lines separate paragraphs.
    pub intro: Option<&'a str>,
    /// The stories, in order.
    pub stories: &'a [Story],
    /// The archive URL of the issue, for the "view in browser" link.
    pub web_url: Option<&'a str>,
    /// Shows a visible TEST banner on top.
    pub test_send: bool,
}

/// Who the HTML is for: a recipient (greeting, personal links) or anyone
/// (the archive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Audience {
    Recipient,
    Public,
}

impl Templates {
    /// Renders an issue once: the CSS is inlined here, and
    /// [`PersonalisedTemplate::personalise`] then fills in each recipient's
    /// name and links without rendering again. A test send gets a banner
    /// and a subject marked as a test (`digest.test_subject`).
    pub fn digest(&self, digest: &Digest<'_>) -> Result<PersonalisedTemplate, TemplateError> {
        let html = self.inline(&self.digest_html(digest, Audience::Recipient))?;
        let words = self.words(digest.locale);
        let text = digest_text(words, digest);
        let subject = sanitize::line(digest.subject);
        let subject = if digest.test_send {
            sanitize::line(&fill(&words.digest.test_subject, &[("subject", &subject)])).into_owned()
        } else {
            subject.into_owned()
        };
        PersonalisedTemplate::new(subject, html, text)
    }

    /// The issue as the archive shows it ("view in browser"): the same HTML
    /// without greeting, unsubscribe, preferences or "view in browser"
    /// links, so nothing personal is published.
    pub fn web_view(&self, digest: &Digest<'_>) -> Result<String, TemplateError> {
        self.inline(&self.digest_html(digest, Audience::Public))
    }

    fn digest_html(&self, digest: &Digest<'_>, audience: Audience) -> String {
        let words = self.words(digest.locale);
        let subject = sanitize::line(digest.subject);
        let intro = digest
            .intro
            .map(|intro| sanitize::paragraphs(&sanitize::block(intro)))
            .unwrap_or_default();
        let rows = html! {
            tr {
                td.content {
                    h1.heading { (subject) }
                    @if audience == Audience::Recipient {
                        // The markers are plain text to maud: `\u{1}` and
                        // letters are not escaped.
                        p.greeting {
                            (personalise::IF_NAME)
                            (fill(&words.common.greeting_named, &[("name", personalise::NAME)]))
                            (personalise::ELSE)
                            (words.common.greeting_anonymous)
                            (personalise::END_IF)
                        }
                    }
                    @for paragraph in &intro {
                        p { (paragraph) }
                    }
                }
            }
            @for story in digest.stories {
                (story_row(words, story))
            }
        };
        let footer = digest_footer(words, digest, audience);
        layout::document(
            &Frame {
                locale: digest.locale,
                site: digest.site,
                title: &subject,
                preheader: digest.preheader,
                // A newsletter named after the site does not repeat it.
                subtitle: Some(digest.newsletter_name).filter(|_| !named_after_site(digest)),
                banner: digest
                    .test_send
                    .then_some(words.digest.test_banner.as_str()),
            },
            rows,
            footer,
        )
    }
}

fn story_row(words: &Words, story: &Story) -> Markup {
    let title = sanitize::line(&story.title);
    let url = sanitize::url(&story.url);
    let image = story.image_url.as_deref().and_then(sanitize::url);
    let summary = story
        .summary
        .as_deref()
        .map(|summary| sanitize::paragraphs(&sanitize::block(summary)).join(" "))
        .filter(|summary| !summary.is_empty());
    let meta = story_meta(words, story);
    html! {
        tr {
            td.story {
                @if let Some(image) = image {
                    @let img = html! {
                        img.story-image src=(image) width="568" alt=(title) border="0";
                    };
                    @if let Some(url) = url {
                        a href=(url) target="_blank" { (img) }
                    } @else {
                        (img)
                    }
                }
                h2.story-title {
                    @if let Some(url) = url {
                        a href=(url) target="_blank" { (title) }
                    } @else {
                        (title)
                    }
                }
                @if let Some(meta) = &meta {
                    p.story-meta { (meta) }
                }
                @if let Some(summary) = &summary {
                    p.story-summary { (summary) }
                }
                @if let Some(url) = url {
                    p.read-more { a href=(url) target="_blank" { (words.digest.read_more) } }
                }
            }
        }
    }
}

/// "By Ann · 3 March 2030", or whichever half is known.
fn story_meta(words: &Words, story: &Story) -> Option<String> {
    let author = story
        .author
        .as_deref()
        .map(sanitize::line)
        .and_then(sanitize::non_empty)
        .map(|author| fill(&words.digest.by_author, &[("author", &author)]));
    let date = story
        .published_at
        .as_deref()
        .map(sanitize::line)
        .and_then(sanitize::non_empty)
        .map(|date| date.into_owned());
    match (author, date) {
        (Some(author), Some(date)) => Some(format!("{author} · {date}")),
        (author, date) => author.or(date),
    }
}

fn digest_footer(words: &Words, digest: &Digest<'_>, audience: Audience) -> Markup {
    let web_url = digest.web_url.and_then(sanitize::url);
    html! {
        @if audience == Audience::Recipient {
            p { (reason(words, digest)) }
            p.footer-links {
                a href=(personalise::UNSUBSCRIBE_URL) target="_blank" { (words.footer.unsubscribe) }
                " · "
                a href=(personalise::PREFERENCES_URL) target="_blank" { (words.footer.preferences) }
                @if let Some(web_url) = web_url {
                    " · "
                    a href=(web_url) target="_blank" { (words.footer.view_in_browser) }
                }
            }
        } @else {
            p { (sanitize::line(&digest.site.name)) }
        }
        (layout::address(&digest.site.postal_address))
    }
}

fn reason(words: &Words, digest: &Digest<'_>) -> String {
    newsletter_reason(words, digest.newsletter_name, digest.site)
}

/// Whether the newsletter bears the site's own name (the default one does).
fn named_after_site(digest: &Digest<'_>) -> bool {
    bears_site_name(digest.newsletter_name, digest.site)
}

pub(crate) fn bears_site_name(newsletter_name: &str, site: &Site) -> bool {
    sanitize::line(newsletter_name)
        .trim()
        .eq_ignore_ascii_case(sanitize::line(&site.name).trim())
}

/// Why a reader gets a newsletter's mail, said once when the newsletter
/// bears the site's own name (the default one does).
pub(crate) fn newsletter_reason(words: &Words, newsletter_name: &str, site: &Site) -> String {
    let site_name = sanitize::line(&site.name);
    if bears_site_name(newsletter_name, site) {
        return fill(&words.footer.reason_site, &[("site", &site_name)]);
    }
    fill(
        &words.footer.reason,
        &[
            ("newsletter", &sanitize::line(newsletter_name)),
            ("site", &site_name),
        ],
    )
}

/// The text part: greeting, intro, numbered stories (title, byline,
/// summary wrapped at 72 columns, URL on its own line), then the footer.
fn digest_text(words: &Words, digest: &Digest<'_>) -> String {
    let mut out = String::with_capacity(1024 + digest.stories.len() * 512);
    if digest.test_send {
        out.push_str("*** ");
        out.push_str(&words.digest.test_banner);
        out.push_str(" ***\n\n");
    }
    out.push_str(&sanitize::line(&digest.site.name));
    let newsletter = sanitize::line(digest.newsletter_name);
    if !newsletter.is_empty() && !named_after_site(digest) {
        out.push_str(" · ");
        out.push_str(&newsletter);
    }
    out.push_str("\n\n");
    text::heading(&mut out, &sanitize::line(digest.subject));
    out.push('\n');
    out.push_str(personalise::IF_NAME);
    out.push_str(&fill(
        &words.common.greeting_named,
        &[("name", personalise::NAME)],
    ));
    out.push_str(personalise::ELSE);
    out.push_str(&words.common.greeting_anonymous);
    out.push_str(personalise::END_IF);
    out.push_str("\n\n");
    if let Some(intro) = digest.intro {
        for paragraph in sanitize::paragraphs(&sanitize::block(intro)) {
            text::wrap(&mut out, &paragraph, "", "");
            out.push('\n');
        }
    }
    for (index, story) in digest.stories.iter().enumerate() {
        let number = format!("{}. ", index + 1);
        let indent = " ".repeat(number.len());
        text::wrap(&mut out, &sanitize::line(&story.title), &number, &indent);
        if let Some(meta) = story_meta(words, story) {
            text::wrap(&mut out, &meta, &indent, &indent);
        }
        if let Some(summary) = &story.summary {
            let summary = sanitize::paragraphs(&sanitize::block(summary)).join(" ");
            if !summary.is_empty() {
                text::wrap(&mut out, &summary, &indent, &indent);
            }
        }
        if let Some(url) = sanitize::url(&story.url) {
            out.push_str(&indent);
            out.push_str(url);
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(text::RULE);
    out.push('\n');
    text::wrap(&mut out, &reason(words, digest), "", "");
    out.push('\n');
    push_address(&mut out, &digest.site.postal_address);
    let mut link = |label: &str, url: &str| {
        out.push('\n');
        out.push_str(&text::label(digest.locale, label));
        out.push('\n');
        out.push_str(url);
        out.push('\n');
    };
    link(&words.footer.unsubscribe, personalise::UNSUBSCRIBE_URL);
    link(&words.footer.preferences, personalise::PREFERENCES_URL);
    if let Some(web_url) = digest.web_url.and_then(sanitize::url) {
        link(&words.footer.view_in_browser, web_url);
    }
    out
}
