//! A story as a client sends it ([`StoryInput`]) and as Gazette accepts it
//! ([`NewStory`]): every field bounded, URLs absolute `http(s)` only (a
//! `javascript:` link in an email is an attack), the summary cleaned to
//! text, tags normalised.

use std::collections::BTreeMap;
use std::fmt;

use chrono::DateTime;
use serde::Deserialize;

use super::clean;
use crate::store::now_ms;
pub use crate::store::stories::NewStory;
use crate::tags::Tags;

pub const MAX_URL: usize = 2048;
pub const MAX_TITLE: usize = 300;
pub const MAX_SUMMARY: usize = 5000;
pub const MAX_AUTHOR: usize = 200;
pub const MAX_EXTERNAL_ID: usize = 300;

/// A story as a CMS sends it; `url` and `title` are required.
// Every field is an Option so that a missing `url` or `title` is named in
// a 422 together with the other problems, not by a serde error.
#[derive(Debug, Default, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoryInput {
    /// Absolute `http(s)` URL.
    #[schema(value_type = String, required = true, format = "uri", max_length = 2048)]
    pub url: Option<String>,
    #[schema(value_type = String, required = true, max_length = 300)]
    pub title: Option<String>,
    /// HTML or text; kept as text.
    #[schema(max_length = 5000)]
    pub summary: Option<String>,
    #[schema(format = "uri", max_length = 2048)]
    pub image_url: Option<String>,
    #[schema(max_length = 200)]
    pub author: Option<String>,
    /// RFC 3339; the time of the request when absent.
    #[schema(format = DateTime)]
    pub published_at: Option<String>,
    #[schema(max_items = 20)]
    pub tags: Option<Vec<String>>,
    #[schema(max_length = 300)]
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvalidStory {
    pub fields: BTreeMap<&'static str, String>,
}

impl fmt::Display for InvalidStory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .fields
            .iter()
            .map(|(field, problem)| format!("{field}: {problem}"))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for InvalidStory {}

impl NewStory {
    pub fn parse(input: StoryInput) -> Result<NewStory, InvalidStory> {
        let mut problems = BTreeMap::new();
        let url = match input.url.as_deref().map(web_url) {
            Some(Ok(url)) => url,
            Some(Err(problem)) => {
                problems.insert("url", problem);
                String::new()
            }
            None => {
                problems.insert("url", "is required".to_string());
                String::new()
            }
        };
        let title = match input.title.as_deref().map(|t| text_line(t, MAX_TITLE)) {
            Some(Ok(title)) if !title.is_empty() => title,
            Some(Err(problem)) => {
                problems.insert("title", problem);
                String::new()
            }
            _ => {
                problems.insert("title", "is required".to_string());
                String::new()
            }
        };
        let summary = match input.summary {
            Some(summary) if summary.chars().count() > MAX_SUMMARY => {
                problems.insert("summary", format!("at most {MAX_SUMMARY} characters"));
                None
            }
            Some(summary) => {
                Some(clean::summary_text(&summary, MAX_SUMMARY)).filter(|s| !s.is_empty())
            }
            None => None,
        };
        let image_url = match input.image_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => match web_url(raw) {
                Ok(url) => Some(url),
                Err(problem) => {
                    problems.insert("image_url", problem);
                    None
                }
            },
        };
        let author = match input.author.as_deref().map(|a| text_line(a, MAX_AUTHOR)) {
            None => None,
            Some(Ok(author)) => Some(author).filter(|a| !a.is_empty()),
            Some(Err(problem)) => {
                problems.insert("author", problem);
                None
            }
        };
        let published_at = match input.published_at.as_deref() {
            None => now_ms(),
            Some(raw) => match DateTime::parse_from_rfc3339(raw.trim()) {
                Ok(at) => at.timestamp_millis(),
                Err(_) => {
                    problems.insert(
                        "published_at",
                        "must be an RFC 3339 time such as 2030-03-01T07:00:00Z".to_string(),
                    );
                    0
                }
            },
        };
        let tags = match input.tags.as_deref().map(Tags::parse) {
            None => Tags::default(),
            Some(Ok(tags)) => tags,
            Some(Err(problem)) => {
                problems.insert("tags", problem);
                Tags::default()
            }
        };
        let external_id = match input.external_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(id)
                if id.chars().count() > MAX_EXTERNAL_ID || id.chars().any(char::is_control) =>
            {
                problems.insert(
                    "external_id",
                    format!("at most {MAX_EXTERNAL_ID} characters, no control characters"),
                );
                None
            }
            // `feed:` ids belong to the feed poller; a client using one
            // could overwrite a feed's story.
            Some(id) if id.starts_with("feed:") => {
                problems.insert("external_id", "must not start with \"feed:\"".to_string());
                None
            }
            Some(id) => Some(id.to_string()),
        };
        if !problems.is_empty() {
            return Err(InvalidStory { fields: problems });
        }
        Ok(NewStory {
            url,
            external_id,
            feed_id: None,
            title,
            summary,
            image_url,
            author,
            tags,
            published_at,
        })
    }
}

/// An absolute `http` or `https` URL of at most [`MAX_URL`] bytes.
pub fn web_url(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("is required".into());
    }
    if raw.len() > MAX_URL {
        return Err(format!("at most {MAX_URL} characters"));
    }
    let parsed = url::Url::parse(raw).map_err(|_| "must be an absolute http or https URL")?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err("must be an absolute http or https URL".into());
    }
    // The normalised form: `HTTP://Example.org` and `http://example.org/`
    // are one story.
    let normalised = parsed.to_string();
    if normalised.len() > MAX_URL {
        return Err(format!("at most {MAX_URL} characters"));
    }
    Ok(normalised)
}

/// One line of text: trimmed, inner whitespace runs collapsed, control
/// characters refused, at most `max` characters.
pub fn text_line(raw: &str, max: usize) -> Result<String, String> {
    let text = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    if text.chars().count() > max {
        return Err(format!("at most {max} characters"));
    }
    Ok(text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn input(json: serde_json::Value) -> StoryInput {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_minimal_story_is_accepted_and_normalised() {
        let story = NewStory::parse(input(serde_json::json!({
            "url": "HTTPS://News.Example.org/a", "title": "  Big   news ",
            "summary": "<p>Hello <b>world</b></p>", "tags": ["World"],
            "published_at": "2030-03-01T07:00:00+01:00"
        })))
        .unwrap();
        assert_eq!(story.url, "https://news.example.org/a");
        assert_eq!(story.title, "Big news");
        assert_eq!(story.summary.as_deref(), Some("Hello world"));
        assert_eq!(story.tags.to_column(), "world");
        assert_eq!(story.published_at, 1_898_575_200_000);
    }

    #[test]
    fn dangerous_or_oversized_fields_are_named() {
        let error = NewStory::parse(input(serde_json::json!({
            "url": "javascript:alert(1)", "title": "x".repeat(301),
            "image_url": "data:image/png;base64,AAAA", "published_at": "yesterday",
            "tags": vec!["t"; 21], "external_id": "feed:1:x"
        })))
        .unwrap_err();
        for field in [
            "url",
            "title",
            "image_url",
            "published_at",
            "tags",
            "external_id",
        ] {
            assert!(error.fields.contains_key(field), "{field}: {error}");
        }
    }
}
