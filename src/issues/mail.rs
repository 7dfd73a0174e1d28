//! The mail an issue sends, for the delivery workers: the kinds of outbox
//! rows issues own, and the renderer of digests ([`DigestRenderer`]),
//! registered with delivery at start-up. A digest is rendered once per
//! issue ([`prepare_issue`]) and kept while its rows are sent; each row
//! fills in its reader's name and links. When the queue runs dry, the
//! issues whose rows this instance sent are marked sent if none is left,
//! and the renderings are dropped.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use email_templates::{Recipient, Templates};
use futures_util::future::BoxFuture;

use super::prepare::{PrepareError, PreparedIssue, prepare_issue};
use crate::config::Settings;
use crate::delivery::ClaimedDelivery;
use crate::delivery::message::{ListInfo, Outgoing};
use crate::delivery::outbox::MailKind;
use crate::delivery::render::{Letterhead, RenderError, Renderer};
use crate::links::LinkSigner;
use crate::store::Store;

/// A digest to one subscriber, rendered when it is sent.
pub const DIGEST: MailKind = MailKind::new("digest");
/// An editor's test copy, stored rendered.
pub const TEST_COPY: MailKind = MailKind::new("test");

pub struct DigestRenderer {
    store: Store,
    templates: Arc<Templates>,
    settings: Arc<Settings>,
    links: LinkSigner,
    /// The issues prepared since the queue last ran dry.
    prepared: Mutex<HashMap<i64, Arc<DigestLetterhead>>>,
    /// The issues this instance sent rows of since then.
    touched: Mutex<HashSet<i64>>,
}

impl DigestRenderer {
    pub fn new(
        store: Store,
        templates: Arc<Templates>,
        settings: Arc<Settings>,
        links: LinkSigner,
    ) -> DigestRenderer {
        DigestRenderer {
            store,
            templates,
            settings,
            links,
            prepared: Mutex::default(),
            touched: Mutex::default(),
        }
    }

    async fn prepare_digest(&self, issue_id: i64) -> Result<Arc<DigestLetterhead>, RenderError> {
        self.touched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(issue_id);
        if let Some(ready) = self
            .prepared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&issue_id)
        {
            return Ok(ready.clone());
        }
        let issue = prepare_issue(
            &self.store,
            &self.templates,
            &self.settings,
            issue_id,
            false,
        )
        .await
        .map_err(|error| match error {
            PrepareError::Store(error) => RenderError::Later(error.to_string()),
            other => RenderError::Never(other.to_string()),
        })?;
        let ready = Arc::new(DigestLetterhead {
            issue,
            links: self.links.clone(),
        });
        self.prepared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(issue_id, ready.clone());
        Ok(ready)
    }
}

impl Renderer for DigestRenderer {
    fn prepare<'a>(
        &'a self,
        row: &'a ClaimedDelivery,
    ) -> BoxFuture<'a, Result<Arc<dyn Letterhead>, RenderError>> {
        Box::pin(async move {
            let Some(issue_id) = row.issue_id else {
                return Err(RenderError::Never("a digest row without an issue".into()));
            };
            let ready: Arc<dyn Letterhead> = self.prepare_digest(issue_id).await?;
            Ok(ready)
        })
    }

    fn settle(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let touched: Vec<i64> = self
                .touched
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .drain()
                .collect();
            for issue_id in touched {
                if let Err(error) = self
                    .store
                    .issues()
                    .mark_sent_if_done(issue_id, crate::store::now_ms())
                    .await
                {
                    tracing::warn!(issue_id, %error, "cannot mark issue as sent");
                }
            }
            self.prepared
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
        })
    }
}

/// An issue rendered once, filled in per reader.
struct DigestLetterhead {
    issue: PreparedIssue,
    links: LinkSigner,
}

impl Letterhead for DigestLetterhead {
    fn letter<'a>(&'a self, row: &'a ClaimedDelivery) -> Result<Outgoing<'a>, RenderError> {
        let Some(subscriber_id) = row.subscriber_id.filter(|_| row.still_subscribed) else {
            return Err(RenderError::Cancelled(
                "subscriber no longer subscribed".into(),
            ));
        };
        let unsubscribe_url = self.links.unsubscribe_url(subscriber_id);
        let preferences_url = self.links.preferences_url(subscriber_id);
        let issue = &self.issue;
        let email = issue.template.personalise_encoded(&Recipient {
            name: row.subscriber_name.as_deref(),
            unsubscribe_url: &unsubscribe_url,
            preferences_url: &preferences_url,
        });
        Ok(Outgoing {
            recipient: &row.recipient,
            subject: email.subject.into(),
            html_qp: email.html,
            text_qp: email.text,
            sender_name: issue.sender_name.as_deref(),
            reply_to: issue.reply_to.as_deref(),
            list: Some(ListInfo {
                name: &issue.newsletter_name,
                slug: &issue.newsletter_slug,
                unsubscribe_url,
            }),
        })
    }
}
