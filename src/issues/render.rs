//! An issue as the email design's input: the site, the stories with their
//! dates written for the newsletter's locale and timezone, the archive URL.
//! Previews, test sends and the archive render through here; the delivery
//! workers render the real sends once per issue the same way.

use chrono::{Datelike, TimeZone, Utc};
use chrono_tz::Tz;
use email_templates::{Digest, Locale, PersonalisedTemplate, Recipient, RenderedEmail, Templates};

use super::IssueContent;
use crate::config::Settings;
use crate::links::LinkSigner;
use crate::templates::site;

/// Gmail clips an HTML part larger than this and hides the rest (and the
/// unsubscribe link) behind "View entire message".
pub const GMAIL_CLIP_BYTES: usize = 102 * 1024;

/// The issue's page in the public archive ("view in browser").
pub fn web_url(settings: &Settings, content: &IssueContent) -> String {
    format!(
        "{}/archive/{}/{}",
        settings.base_url().trim_end_matches('/'),
        content.newsletter.slug,
        content.issue.id
    )
}

pub fn locale(content: &IssueContent) -> Locale {
    content.newsletter.locale.parse().unwrap_or_default()
}

/// The stories as the templates take them.
pub fn template_stories(content: &IssueContent) -> Vec<email_templates::Story> {
    let locale = locale(content);
    let tz: Tz = content.newsletter.timezone.parse().unwrap_or(Tz::UTC);
    content
        .stories
        .iter()
        .map(|story| email_templates::Story {
            title: story.title.clone(),
            url: story.url.clone(),
            summary: story.summary.clone(),
            image_url: story.image_url.clone(),
            author: story.author.clone(),
            published_at: Some(format_date(locale, story.published_at, tz)),
        })
        .collect()
}

/// "5 March 2030" or "5 mars 2030".
pub fn format_date(locale: Locale, at_ms: i64, tz: Tz) -> String {
    const EN: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const FR: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    let Some(at) = Utc.timestamp_millis_opt(at_ms).single() else {
        return String::new();
    };
    let local = at.with_timezone(&tz);
    let month = local.month0() as usize;
    let name = match locale {
        Locale::En => EN[month],
        Locale::Fr => FR[month],
    };
    format!("{} {} {}", local.day(), name, local.year())
}

/// Renders the issue once for sending (`test_send` adds the TEST banner).
pub fn render_digest(
    templates: &Templates,
    settings: &Settings,
    content: &IssueContent,
    test_send: bool,
) -> Result<PersonalisedTemplate, email_templates::TemplateError> {
    let site = site(settings);
    let stories = template_stories(content);
    let web_url = web_url(settings, content);
    templates.digest(&Digest {
        site: &site,
        locale: locale(content),
        newsletter_name: &content.newsletter.name,
        subject: &content.issue.subject,
        preheader: content.issue.preheader.as_deref(),
        intro: content.issue.intro.as_deref(),
        stories: &stories,
        web_url: Some(&web_url),
        test_send,
    })
}

/// The archive's page of the issue: no personal links.
pub fn render_web_view(
    templates: &Templates,
    settings: &Settings,
    content: &IssueContent,
) -> Result<String, email_templates::TemplateError> {
    let site = site(settings);
    let stories = template_stories(content);
    templates.web_view(&Digest {
        site: &site,
        locale: locale(content),
        newsletter_name: &content.newsletter.name,
        subject: &content.issue.subject,
        preheader: content.issue.preheader.as_deref(),
        intro: content.issue.intro.as_deref(),
        stories: &stories,
        web_url: None,
        test_send: false,
    })
}

/// The email as an editor sees it in a preview or a test send: no name,
/// and links signed for no subscriber (they lead to the "link not valid"
/// page rather than to somebody's preferences).
pub fn editor_copy(template: &PersonalisedTemplate, links: &LinkSigner) -> RenderedEmail {
    let unsubscribe = links.unsubscribe_url(0);
    let preferences = links.preferences_url(0);
    template.personalise(&Recipient {
        name: None,
        unsubscribe_url: &unsubscribe,
        preferences_url: &preferences,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_in_the_locale_and_zone() {
        // 2030-03-05T23:30:00Z is already 6 March in Paris.
        let at = 1_898_983_800_000;
        assert_eq!(format_date(Locale::En, at, Tz::UTC), "5 March 2030");
        assert_eq!(
            format_date(Locale::Fr, at, Tz::Europe__Paris),
            "6 mars 2030"
        );
    }
}
