//! Issues (digests): one newsletter's selection of stories, built by
//! [`build::build_issue`] (by the scheduler at a slot, or by an editor now),
//! edited while it is a draft ([`edit`]), then sent by fanning it out into
//! the outbox in one statement ([`send`]), now or at a time an editor
//! chose ([`timing`]). [`render`] turns an issue into
//! the email design's input for previews, test sends and the archive.
//!
//! Life of an issue: `draft` → `sending` → `sent`, or `skipped` (nothing
//! new), `cancelled`, or `missed` (a slot the scheduler gave up on).

pub mod build;
pub mod cli;
pub mod edit;
pub mod mail;
pub mod prepare;
pub mod render;
pub mod send;
pub mod sender;
pub mod test_recipients;
pub mod timing;

pub use crate::store::issues::{DeliveryCounts, Issue, IssueContent, IssueStatus};
pub use build::{BuildOutcome, build_issue};

use crate::newsletters::NewsletterError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("no issue with id {0}")]
    NotFound(i64),
    #[error("the issue is {0}; only a draft can be edited")]
    NotDraft(IssueStatus),
    #[error("the issue is {0}; it cannot be {1}")]
    WrongStatus(IssueStatus, &'static str),
    #[error("invalid issue: {0}")]
    Invalid(#[from] edit::InvalidEdit),
    #[error(transparent)]
    Newsletter(#[from] NewsletterError),
    #[error("cannot render the issue: {0}")]
    Render(#[from] email_templates::TemplateError),
    #[error(transparent)]
    SenderNotSet(#[from] sender::SenderNotSet),
    #[error(transparent)]
    TooManyTestRecipients(#[from] test_recipients::TooManyTestRecipients),
    #[error(transparent)]
    Store(#[from] StoreError),
}
