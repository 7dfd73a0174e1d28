//! Tags: how stories are labelled and how a newsletter picks the stories
//! it carries. A value used by stories, newsletters and the rows of both,
//! so it lives on its own, importing nothing of theirs.

/// Tags one story or newsletter may have.
pub const MAX_TAGS: usize = 20;
/// Characters in one tag.
pub const MAX_TAG: usize = 50;

/// A tag list, normalised (trimmed, lower-case, no duplicates) and stored
/// comma-separated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags(Vec<String>);

impl Tags {
    pub fn parse(raw: &[String]) -> Result<Tags, String> {
        if raw.len() > MAX_TAGS {
            return Err(format!("at most {MAX_TAGS} tags"));
        }
        let mut tags: Vec<String> = Vec::with_capacity(raw.len());
        for tag in raw {
            let tag = tag.trim().to_lowercase();
            if tag.is_empty() || tag.chars().count() > MAX_TAG {
                return Err(format!("each tag must be 1 to {MAX_TAG} characters"));
            }
            if tag.contains(',') || tag.chars().any(char::is_control) {
                return Err("a tag may not contain commas or control characters".into());
            }
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        Ok(Tags(tags))
    }

    /// Reads the stored column (trusted: it was written by [`Tags::to_column`]).
    pub fn from_column(column: &str) -> Tags {
        Tags(
            column
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect(),
        )
    }

    pub fn to_column(&self) -> String {
        self.0.join(",")
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
