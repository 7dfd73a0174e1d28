//! `/archive/SLUG/feed.xml`: a newsletter's published issues as an Atom
//! feed (RFC 4287), so readers can follow it in a feed reader instead of
//! by email. Each entry links to the issue's archive page and carries its
//! stories as HTML content. Written with quick-xml's writer, which escapes
//! every text and attribute, so nothing from outside can break the XML.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, SecondsFormat, Utc};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use crate::newsletters::Newsletter;
use crate::store::issues::IssueContent;
use crate::store::stories::Story;
use crate::web::AppState;

/// The latest issues a feed holds; readers keep what they have seen.
const ENTRIES: i64 = 20;

pub async fn feed(state: web::Data<AppState>, slug: web::Path<String>) -> HttpResponse {
    let newsletter = match state.store.newsletters().by_slug(&slug).await {
        Ok(Some(newsletter)) => newsletter,
        Ok(None) => return HttpResponse::NotFound().finish(),
        Err(error) => return unavailable(&error),
    };
    let issues = match state
        .store
        .issues()
        .published(newsletter.id, ENTRIES, 0)
        .await
    {
        Ok(issues) => issues,
        Err(error) => return unavailable(&error),
    };
    let ids: Vec<i64> = issues.iter().map(|issue| issue.id).collect();
    let mut stories: HashMap<i64, Vec<Story>> = HashMap::new();
    match state.store.stories().of_issues(&ids).await {
        Ok(rows) => {
            for (issue_id, story) in rows {
                stories.entry(issue_id).or_default().push(story);
            }
        }
        Err(error) => return unavailable(&error),
    }
    let contents: Vec<IssueContent> = issues
        .into_iter()
        .map(|issue| IssueContent {
            stories: stories.remove(&issue.id).unwrap_or_default(),
            newsletter: newsletter.clone(),
            issue,
        })
        .collect();
    let base = state.settings.base_url();
    match atom(base, &state.settings.site.name, &newsletter, &contents) {
        Ok(xml) => HttpResponse::Ok()
            .content_type("application/atom+xml; charset=utf-8")
            // Feed readers poll; a few minutes' staleness is fine.
            .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
            .body(xml),
        Err(error) => unavailable(&error),
    }
}

fn unavailable(error: &dyn std::fmt::Display) -> HttpResponse {
    tracing::error!(%error, "archive feed failed");
    HttpResponse::ServiceUnavailable().finish()
}

/// When an issue was published: its send time, or when it was made.
fn published_at(content: &IssueContent) -> i64 {
    let issue = &content.issue;
    issue.sent_at.or(issue.send_at).unwrap_or(issue.created_at)
}

fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The Atom document of `issues`, newest first.
pub fn atom(
    base: &str,
    site_name: &str,
    newsletter: &Newsletter,
    issues: &[IssueContent],
) -> std::io::Result<String> {
    let archive = format!("{base}/archive/{}", newsletter.slug);
    let self_url = format!("{archive}/feed.xml");
    let updated = issues
        .iter()
        .map(published_at)
        .max()
        .unwrap_or(newsletter.created_at);
    let mut writer = Writer::new(Vec::new());
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    writer
        .create_element("feed")
        .with_attribute(("xmlns", "http://www.w3.org/2005/Atom"))
        .with_attribute(("xml:lang", newsletter.locale.as_str()))
        .write_inner_content(|w| {
            text(w, "id", &archive)?;
            text(w, "title", &newsletter.name)?;
            if !newsletter.description.is_empty() {
                text(w, "subtitle", &newsletter.description)?;
            }
            text(w, "updated", &rfc3339(updated))?;
            link(w, "self", &self_url)?;
            link(w, "alternate", &archive)?;
            w.create_element("author")
                .write_inner_content(|w| text(w, "name", site_name).map(|_| ()))?;
            for content in issues {
                let url = format!("{archive}/{}", content.issue.id);
                w.create_element("entry").write_inner_content(|w| {
                    text(w, "id", &url)?;
                    text(w, "title", &content.issue.subject)?;
                    let at = rfc3339(published_at(content));
                    text(w, "published", &at)?;
                    text(w, "updated", &at)?;
                    link(w, "alternate", &url)?;
                    if let Some(summary) =
                        content.issue.preheader.as_deref().filter(|s| !s.is_empty())
                    {
                        text(w, "summary", summary)?;
                    }
                    w.create_element("content")
                        .with_attribute(("type", "html"))
                        .write_text_content(BytesText::new(&stories_html(content)))?;
                    Ok(())
                })?;
            }
            Ok(())
        })?;
    Ok(String::from_utf8_lossy(&writer.into_inner()).into_owned())
}

fn text<W: std::io::Write>(writer: &mut Writer<W>, name: &str, value: &str) -> std::io::Result<()> {
    writer
        .create_element(name)
        .write_text_content(BytesText::new(value))?;
    Ok(())
}

fn link<W: std::io::Write>(writer: &mut Writer<W>, rel: &str, href: &str) -> std::io::Result<()> {
    writer
        .create_element("link")
        .with_attribute(("rel", rel))
        .with_attribute(("href", href))
        .write_empty()?;
    Ok(())
}

/// The issue's intro and stories as HTML (escaped by maud), the entry's
/// content.
fn stories_html(content: &IssueContent) -> String {
    maud::html! {
        @if let Some(intro) = content.issue.intro.as_deref().filter(|s| !s.is_empty()) {
            p { (intro) }
        }
        ul {
            @for story in &content.stories {
                li {
                    a href=(story.url) { (story.title) }
                    @if let Some(summary) = story.summary.as_deref().filter(|s| !s.is_empty()) {
                        br; (summary)
                    }
                }
            }
        }
    }
    .into_string()
}
