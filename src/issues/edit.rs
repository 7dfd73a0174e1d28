//! Editing a draft: subject, preheader, intro, and the stories' order (a
//! story left out of the new order is dropped from the issue and becomes
//! free for a later one). Only a draft changes; the status check and the
//! edit are one transaction, so an issue that starts sending meanwhile is
//! never half-edited.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::{Deserialize, Deserializer};

use super::{Issue, IssueError, IssueStatus};
use crate::store::{Store, now_ms};
use crate::stories::input::text_line;

pub const MAX_SUBJECT: usize = 200;
pub const MAX_PREHEADER: usize = 200;
pub const MAX_INTRO: usize = 5000;

/// A field left out keeps its value; `null` clears preheader or intro.
#[derive(Debug, Default, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftEdit {
    #[schema(max_length = 200)]
    pub subject: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub preheader: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 5000)]
    pub intro: Option<Option<String>>,
    /// The issue's stories in their new order; stories left out are dropped.
    pub story_ids: Option<Vec<i64>>,
}

fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvalidEdit {
    pub fields: BTreeMap<&'static str, String>,
}

impl fmt::Display for InvalidEdit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .fields
            .iter()
            .map(|(field, problem)| format!("{field}: {problem}"))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for InvalidEdit {}

/// The checked values of an edit.
struct CheckedEdit {
    subject: Option<String>,
    preheader: Option<Option<String>>,
    intro: Option<Option<String>>,
    story_ids: Option<Vec<i64>>,
}

fn check(edit: DraftEdit) -> Result<CheckedEdit, InvalidEdit> {
    let mut problems = BTreeMap::new();
    let subject = match edit.subject.as_deref().map(|s| text_line(s, MAX_SUBJECT)) {
        None => None,
        Some(Ok(subject)) if !subject.is_empty() => Some(subject),
        Some(Ok(_)) => {
            problems.insert("subject", "must not be empty".to_string());
            None
        }
        Some(Err(problem)) => {
            problems.insert("subject", problem);
            None
        }
    };
    let preheader = match edit.preheader {
        None => None,
        Some(None) => Some(None),
        Some(Some(text)) => match text_line(&text, MAX_PREHEADER) {
            Ok(text) => Some(Some(text).filter(|t| !t.is_empty())),
            Err(problem) => {
                problems.insert("preheader", problem);
                None
            }
        },
    };
    let intro = match edit.intro {
        None => None,
        Some(None) => Some(None),
        Some(Some(text)) => {
            let text = text.replace("\r\n", "\n");
            let text = text.trim();
            if text.chars().count() > MAX_INTRO {
                problems.insert("intro", format!("at most {MAX_INTRO} characters"));
                None
            } else if text.chars().any(|c| c.is_control() && c != '\n') {
                problems.insert("intro", "must not contain control characters".to_string());
                None
            } else {
                Some(Some(text.to_string()).filter(|t| !t.is_empty()))
            }
        }
    };
    if let Some(ids) = &edit.story_ids {
        let unique: HashSet<_> = ids.iter().collect();
        if unique.len() != ids.len() {
            problems.insert("story_ids", "lists a story twice".to_string());
        }
    }
    if !problems.is_empty() {
        return Err(InvalidEdit { fields: problems });
    }
    Ok(CheckedEdit {
        subject,
        preheader,
        intro,
        story_ids: edit.story_ids,
    })
}

/// Applies `edit` to draft `issue_id`.
pub async fn edit_draft(
    store: &Store,
    issue_id: i64,
    edit: DraftEdit,
) -> Result<Issue, IssueError> {
    let edit = check(edit)?;
    let mut tx = store.begin_write().await?;
    // Claim the row first (the write lock on SQLite, a row lock on
    // PostgreSQL) and learn whether it is still a draft.
    let Some(current) = tx.issues().take_draft(issue_id, now_ms()).await? else {
        drop(tx);
        return Err(match store.issues().by_id(issue_id).await? {
            Some(issue) => IssueError::NotDraft(issue.status),
            None => IssueError::NotFound(issue_id),
        });
    };
    if let Some(order) = &edit.story_ids {
        let present = tx.issues().story_ids(issue_id).await?;
        if let Some(stranger) = order.iter().find(|id| !present.contains(id)) {
            let mut fields = BTreeMap::new();
            fields.insert(
                "story_ids",
                format!("story {stranger} is not in this issue"),
            );
            return Err(InvalidEdit { fields }.into());
        }
        for dropped in present.iter().filter(|id| !order.contains(id)) {
            tx.issues().remove_story(issue_id, *dropped).await?;
        }
        for (position, story_id) in order.iter().enumerate() {
            tx.issues()
                .set_story_position(issue_id, *story_id, position as i64)
                .await?;
        }
    }
    let subject = edit.subject.unwrap_or(current.subject);
    let preheader = edit.preheader.unwrap_or(current.preheader);
    let intro = edit.intro.unwrap_or(current.intro);
    let issue = tx
        .issues()
        .set_texts(issue_id, &subject, preheader.as_deref(), intro.as_deref())
        .await?
        .ok_or(IssueError::NotFound(issue_id))?;
    tx.commit().await?;
    debug_assert_eq!(issue.status, IssueStatus::Draft);
    Ok(issue)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn edits_are_checked() {
        let edit: DraftEdit = serde_json::from_value(serde_json::json!({
            "subject": " ", "preheader": "x".repeat(201), "story_ids": [1, 1]
        }))
        .unwrap();
        let error = check(edit).err().unwrap();
        assert_eq!(error.fields.len(), 3, "{error}");
        let clear: DraftEdit = serde_json::from_value(serde_json::json!({"intro": null})).unwrap();
        assert_eq!(check(clear).ok().unwrap().intro, Some(None));
    }
}
