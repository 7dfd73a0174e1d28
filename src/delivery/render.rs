//! How a claimed outbox row becomes an email, without delivery knowing what
//! the email is about. The module that owns a kind of mail registers a
//! [`Renderer`] for it at start-up (digests by `issues`, confirmations by
//! `subscriptions`); a row that carries its email already rendered (a test
//! copy, a notice) is sent as stored whatever its kind.
//!
//! Rendering has two steps, so that work shared by many rows is done once:
//! [`Renderer::prepare`] (async, may read the database; a digest's issue is
//! rendered there once and kept) gives a [`Letterhead`], whose
//! [`Letterhead::letter`] fills in one recipient (no I/O). When the queue
//! runs dry the dispatcher calls [`Renderer::settle`], after every outcome
//! so far is recorded: a renderer drops what it kept and finishes what its
//! rows were for (an issue all sent).

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::message::{self, Outgoing};
use crate::store::outbox::ClaimedDelivery;

/// Why a row could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderError {
    /// Something it needs is away (the database): try the row again later.
    Later(String),
    /// It can never be rendered (its issue is gone, its data unreadable).
    Never(String),
    /// It is no longer wanted (the reader unsubscribed since it was queued).
    Cancelled(String),
}

/// What the rows of one kind share, prepared once.
pub trait Letterhead: Send + Sync {
    /// The email of `row`.
    fn letter<'a>(&'a self, row: &'a ClaimedDelivery) -> Result<Outgoing<'a>, RenderError>;
}

/// The renderer of one kind of row.
pub trait Renderer: Send + Sync {
    /// What `row` is rendered from. The dispatcher calls it for one row at
    /// a time, before the row's send starts.
    fn prepare<'a>(
        &'a self,
        row: &'a ClaimedDelivery,
    ) -> BoxFuture<'a, Result<Arc<dyn Letterhead>, RenderError>>;

    /// The queue ran dry and every outcome so far is recorded.
    fn settle(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// The renderers by kind, filled at start-up.
#[derive(Clone, Default)]
pub struct Renderers {
    by_kind: HashMap<&'static str, Arc<dyn Renderer>>,
}

impl Renderers {
    pub fn register(&mut self, kind: super::outbox::MailKind, renderer: Arc<dyn Renderer>) {
        self.by_kind.insert(kind.as_str(), renderer);
    }

    /// What `row` is rendered from: as stored when it carries its email,
    /// else by its kind's renderer.
    pub(super) async fn prepare(
        &self,
        row: &ClaimedDelivery,
    ) -> Result<Arc<dyn Letterhead>, RenderError> {
        if row.subject.is_some() {
            return Ok(Arc::new(Stored));
        }
        match self.by_kind.get(row.kind.as_str()) {
            Some(renderer) => renderer.prepare(row).await,
            None => Err(RenderError::Never(format!(
                "no renderer for mail of kind {:?}",
                row.kind
            ))),
        }
    }

    pub(super) async fn settle(&self) {
        for renderer in self.by_kind.values() {
            renderer.settle().await;
        }
    }
}

/// A row that carries its email, rendered when it was queued.
struct Stored;

impl Letterhead for Stored {
    fn letter<'a>(&'a self, row: &'a ClaimedDelivery) -> Result<Outgoing<'a>, RenderError> {
        Ok(Outgoing {
            recipient: &row.recipient,
            subject: row.subject.as_deref().unwrap_or_default().into(),
            html_qp: message::encode_part(row.html_body.as_deref().unwrap_or_default()),
            text_qp: message::encode_part(row.text_body.as_deref().unwrap_or_default()),
            sender_name: None,
            reply_to: None,
            list: None,
        })
    }
}
