//! Turning a feed body (RSS 2.0, Atom or JSON Feed, told apart by feed-rs)
//! into the stories Gazette keeps: a guid, a link, a title, a summary made
//! safe text, an image URL, an author, a date and tags. Items without a
//! usable link or title are dropped: a digest cannot show them.

use chrono::Utc;

use crate::stories::input::{MAX_AUTHOR, MAX_SUMMARY, MAX_TITLE, text_line, web_url};
use crate::stories::{NewStory, clean};
use crate::tags::Tags;

/// One item of a feed, as Gazette will store it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedItem {
    pub guid: String,
    pub story: NewStory,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedFeed {
    pub title: Option<String>,
    pub items: Vec<FeedItem>,
    /// Items dropped for want of a link or a title.
    pub dropped: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("not a feed Gazette can read (RSS 2.0, Atom or JSON Feed): {0}")]
pub struct FeedParseError(String);

/// The guid is kept to this length; the rest of `external_id` is the
/// `feed:<id>:` prefix.
const MAX_GUID: usize = 250;

pub fn parse_feed(feed_id: i64, body: &[u8]) -> Result<ParsedFeed, FeedParseError> {
    let feed = feed_rs::parser::parse(body).map_err(|e| FeedParseError(e.to_string()))?;
    let json_images = json_feed_images(body);
    let title = feed
        .title
        .as_ref()
        .and_then(|t| text_line(&clean::summary_text(&t.content, MAX_TITLE), MAX_TITLE).ok())
        .filter(|t| !t.is_empty());
    let mut items = Vec::with_capacity(feed.entries.len());
    let mut dropped = 0;
    let now = Utc::now().timestamp_millis();
    for entry in feed.entries {
        let Some(url) = entry_link(&entry) else {
            dropped += 1;
            continue;
        };
        // Titles in RSS are often HTML-escaped HTML: clean them like a
        // summary, into one line.
        let title = entry
            .title
            .as_ref()
            .map(|t| clean::summary_text(&t.content, MAX_TITLE * 2))
            .and_then(|t| text_line(&t, usize::MAX).ok())
            .map(|t| clean::truncate(&t, MAX_TITLE))
            .filter(|t| !t.is_empty());
        let Some(title) = title else {
            dropped += 1;
            continue;
        };
        let guid = if entry.id.trim().is_empty() {
            url.clone()
        } else {
            entry.id.trim().chars().take(MAX_GUID).collect()
        };
        let summary_source = entry
            .summary
            .as_ref()
            .map(|s| s.content.clone())
            .or_else(|| entry.content.as_ref().and_then(|c| c.body.clone()));
        let summary = summary_source
            .map(|s| clean::summary_text(&s, MAX_SUMMARY))
            .filter(|s| !s.is_empty());
        let image_url = json_images
            .iter()
            .find(|(id, _)| *id == entry.id)
            .map(|(_, image)| image.clone())
            .or_else(|| entry_image(&entry))
            .or_else(|| summary_source_image(&entry));
        let author = entry.authors.iter().find_map(|p| {
            text_line(p.name.as_deref()?, MAX_AUTHOR)
                .ok()
                .filter(|n| !n.is_empty())
        });
        let tags: Vec<String> = entry
            .categories
            .iter()
            .map(|c| c.term.trim().to_string())
            .filter(|t| !t.is_empty() && !t.contains(','))
            .take(crate::tags::MAX_TAGS)
            .collect();
        let tags = Tags::parse(&tags).unwrap_or_default();
        let published_at = entry
            .published
            .or(entry.updated)
            .map(|at| at.timestamp_millis())
            // a date in the future would keep the story out of every
            // digest until then
            .map(|at| at.min(now))
            .unwrap_or(now);
        items.push(FeedItem {
            story: NewStory {
                url,
                external_id: Some(format!("feed:{feed_id}:{guid}")),
                feed_id: Some(feed_id),
                title,
                summary,
                image_url,
                author,
                tags,
                published_at,
            },
            guid,
        });
    }
    Ok(ParsedFeed {
        title,
        items,
        dropped,
    })
}

/// The entry's page: the `alternate` link, else the first web link.
fn entry_link(entry: &feed_rs::model::Entry) -> Option<String> {
    let alternate = entry
        .links
        .iter()
        .filter(|l| l.rel.as_deref().is_none_or(|rel| rel == "alternate"));
    alternate
        .chain(entry.links.iter())
        .find_map(|l| web_url(&l.href).ok())
}

/// A picture for the entry: a Media RSS thumbnail, else an image
/// enclosure or media content.
fn entry_image(entry: &feed_rs::model::Entry) -> Option<String> {
    for media in &entry.media {
        for thumbnail in &media.thumbnails {
            if let Ok(url) = web_url(&thumbnail.image.uri) {
                return Some(url);
            }
        }
        for content in &media.content {
            let Some(url) = &content.url else { continue };
            let is_image = match &content.content_type {
                Some(kind) => kind.to_string().starts_with("image/"),
                None => looks_like_image(url.path()),
            };
            if is_image && let Ok(url) = web_url(url.as_str()) {
                return Some(url);
            }
        }
    }
    None
}

/// The first `<img src>` of the entry's HTML (WordPress and many CMSs put
/// the picture there rather than in Media RSS).
fn summary_source_image(entry: &feed_rs::model::Entry) -> Option<String> {
    let html = entry
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .into_iter()
        .chain(entry.summary.as_ref().map(|s| s.content.as_str()));
    html.filter_map(first_img_src).next()
}

fn first_img_src(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let tag = lower.find("<img")?;
    let tag_end = tag + lower[tag..].find('>')?;
    let attributes = &lower[tag..tag_end];
    let src = attributes.find("src=")? + tag + 4;
    let quote = html[src..].chars().next()?;
    let value = if quote == '"' || quote == '\'' {
        let rest = &html[src + 1..tag_end];
        &rest[..rest.find(quote)?]
    } else {
        let rest = &html[src..tag_end];
        rest.split_whitespace().next()?
    };
    web_url(&value.replace("&amp;", "&")).ok()
}

fn looks_like_image(path: &str) -> bool {
    let path = path.to_ascii_lowercase();
    [".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif"]
        .iter()
        .any(|ext| path.ends_with(ext))
}

/// JSON Feed's `image` (or `banner_image`) per item id: feed-rs does not
/// carry them over, so they are read here.
fn json_feed_images(body: &[u8]) -> Vec<(String, String)> {
    let trimmed = body.iter().position(|b| !b.is_ascii_whitespace());
    if trimmed.is_none_or(|start| body[start] != b'{') {
        return Vec::new();
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Vec::new();
    };
    let Some(items) = value.get("items").and_then(|i| i.as_array()) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let id = item.get("id")?.as_str()?.to_string();
            let image = item
                .get("image")
                .or_else(|| item.get("banner_image"))?
                .as_str()?;
            Some((id, web_url(image).ok()?))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn rss_items_become_stories_with_guid_ids() {
        let rss = br#"<?xml version="1.0"?><rss version="2.0"><channel><title>Bugle</title>
          <item><title>Fish &amp;amp; chips</title><link>https://n.example.org/1</link>
            <guid>g-1</guid><description>&lt;p&gt;Hot &lt;script&gt;x()&lt;/script&gt;news&lt;/p&gt;</description>
            <enclosure url="https://n.example.org/1.jpg" type="image/jpeg" length="1"/>
            <category>World</category><pubDate>Tue, 05 Mar 2030 07:00:00 GMT</pubDate></item>
          <item><title>No link</title></item>
        </channel></rss>"#;
        let feed = parse_feed(7, rss).unwrap();
        assert_eq!(feed.title.as_deref(), Some("Bugle"));
        assert_eq!(feed.dropped, 1);
        let item = &feed.items[0];
        assert_eq!(item.story.external_id.as_deref(), Some("feed:7:g-1"));
        assert_eq!(item.story.title, "Fish & chips");
        assert_eq!(item.story.summary.as_deref(), Some("Hot news"));
        assert_eq!(
            item.story.image_url.as_deref(),
            Some("https://n.example.org/1.jpg")
        );
        assert_eq!(item.story.tags.to_column(), "world");
    }

    #[test]
    fn json_feed_images_are_kept() {
        let json = br#"{"version":"https://jsonfeed.org/version/1.1","title":"J",
          "items":[{"id":"a","url":"https://n.example.org/a","title":"A",
          "image":"https://n.example.org/a.png","content_text":"Text"}]}"#;
        let feed = parse_feed(1, json).unwrap();
        assert_eq!(
            feed.items[0].story.image_url.as_deref(),
            Some("https://n.example.org/a.png")
        );
        assert_eq!(feed.items[0].story.summary.as_deref(), Some("Text"));
    }

    #[test]
    fn an_img_in_the_html_is_a_fallback_image() {
        assert_eq!(
            first_img_src(
                r#"<p>Hi <IMG alt="x" SRC="https://e.example.org/a.jpg?w=1&amp;h=2"></p>"#
            )
            .as_deref(),
            Some("https://e.example.org/a.jpg?w=1&h=2")
        );
        assert_eq!(first_img_src("<img src=javascript:alert(1)>"), None);
        assert_eq!(first_img_src("<img alt=x>"), None);
        assert_eq!(first_img_src("no image"), None);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse_feed(1, b"<html><body>nope</body></html>").is_err());
        assert!(parse_feed(1, b"\xff\xfe garbage").is_err());
    }
}
