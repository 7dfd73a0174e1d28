//! An issue made ready for sending: rendered once (CSS inlined once) into a
//! [`PersonalisedTemplate`], with what the delivery workers need for the
//! headers (newsletter name and slug, sender name, reply-to). The workers
//! keep one per issue and fill it in per recipient.

use email_templates::{PersonalisedTemplate, TemplateError, Templates};

use super::render;
use crate::config::Settings;
use crate::store::{Store, StoreError};

#[derive(Debug, Clone)]
pub struct PreparedIssue {
    pub issue_id: i64,
    pub newsletter_id: i64,
    pub newsletter_slug: String,
    pub newsletter_name: String,
    pub sender_name: Option<String>,
    pub reply_to: Option<String>,
    pub template: PersonalisedTemplate,
}

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("issue {0} does not exist")]
    NotFound(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot render issue {issue_id}: {source}")]
    Render {
        issue_id: i64,
        source: TemplateError,
    },
}

/// Loads the issue, its newsletter and its stories (in the issue's order)
/// and renders the digest once.
pub async fn prepare_issue(
    store: &Store,
    templates: &Templates,
    settings: &Settings,
    issue_id: i64,
    test_send: bool,
) -> Result<PreparedIssue, PrepareError> {
    let content = store
        .issue_content(issue_id)
        .await?
        .ok_or(PrepareError::NotFound(issue_id))?;
    let template = render::render_digest(templates, settings, &content, test_send)
        .map_err(|source| PrepareError::Render { issue_id, source })?;
    let newsletter = content.newsletter;
    Ok(PreparedIssue {
        issue_id,
        newsletter_id: newsletter.id,
        newsletter_slug: newsletter.slug,
        newsletter_name: newsletter.name,
        sender_name: newsletter.sender_name,
        reply_to: newsletter.reply_to,
        template,
    })
}
