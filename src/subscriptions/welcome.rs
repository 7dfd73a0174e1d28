//! The welcome email: queued once per subscription, in the transaction
//! that confirms it, when its newsletter has one; rendered when it is sent
//! (so the newsletter's current words go out) by [`WelcomeRenderer`], in
//! the newsletter's language, with the unsubscribe headers and footer of
//! newsletter mail.

use std::sync::Arc;

use email_templates::{RenderedEmail, Site, Templates, Welcome};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::delivery::ClaimedDelivery;
use crate::delivery::message::{ListInfo, Outgoing, encode_part};
use crate::delivery::outbox::{MailBody, MailKind, OneOffMail};
use crate::delivery::render::{Letterhead, RenderError, Renderer};
use crate::links::LinkSigner;
use crate::newsletters::welcome::WelcomeText;
use crate::store::subscribers::{Subscriber, SubscriptionStatus};
use crate::store::{Store, StoreError, WriteTx};

/// A welcome email, rendered when it is sent.
pub const WELCOME: MailKind = MailKind::new("welcome");

/// What a welcome row is rendered from (its subscriber is the row's).
#[derive(Debug, Serialize, Deserialize)]
struct WelcomeData {
    newsletter_id: i64,
}

/// Queues the welcome email of `newsletter_id` to `subscriber`, unless
/// the newsletter has none or this subscription was welcomed before.
pub(super) async fn queue(
    tx: &mut WriteTx,
    subscriber: &Subscriber,
    newsletter_id: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let Some(stored) = tx.newsletters().welcome(newsletter_id).await? else {
        return Ok(false);
    };
    if WelcomeText::from_stored(&stored).is_none()
        || !tx
            .subscribers()
            .claim_welcome(subscriber.id, newsletter_id, now)
            .await?
    {
        return Ok(false);
    }
    let data = serde_json::json!(WelcomeData { newsletter_id }).to_string();
    tx.outbox()
        .enqueue(
            &OneOffMail {
                kind: WELCOME,
                subscriber_id: Some(subscriber.id),
                recipient: &subscriber.email,
                body: MailBody::Data(&data),
            },
            now,
        )
        .await?;
    Ok(true)
}

pub struct WelcomeRenderer {
    store: Store,
    templates: Arc<Templates>,
    site: Site,
    links: LinkSigner,
}

impl WelcomeRenderer {
    pub fn new(
        store: Store,
        templates: Arc<Templates>,
        site: Site,
        links: LinkSigner,
    ) -> WelcomeRenderer {
        WelcomeRenderer {
            store,
            templates,
            site,
            links,
        }
    }

    async fn render(&self, row: &ClaimedDelivery) -> Result<WelcomeLetter, RenderError> {
        let later = |error: StoreError| RenderError::Later(error.to_string());
        let data: WelcomeData = row
            .template_data
            .as_deref()
            .and_then(|data| serde_json::from_str(data).ok())
            .ok_or_else(|| RenderError::Never("unreadable welcome data".into()))?;
        let subscriber_id = row
            .subscriber_id
            .ok_or_else(|| RenderError::Never("a welcome email without a subscriber".into()))?;
        let gone = |what: &str| RenderError::Cancelled(what.to_string());
        let newsletter = self
            .store
            .newsletters()
            .by_id(data.newsletter_id)
            .await
            .map_err(later)?
            .ok_or_else(|| gone("the newsletter was deleted"))?;
        let welcome = self
            .store
            .newsletters()
            .welcome(newsletter.id)
            .await
            .map_err(later)?
            .and_then(|stored| WelcomeText::from_stored(&stored))
            .ok_or_else(|| gone("the newsletter no longer has a welcome email"))?;
        let subscribed = self
            .store
            .subscribers()
            .subscriptions_of(subscriber_id, Some(SubscriptionStatus::Active))
            .await
            .map_err(later)?
            .iter()
            .any(|s| s.newsletter_id == newsletter.id);
        if !subscribed {
            return Err(gone("the reader unsubscribed since"));
        }
        let unsubscribe_url = self.links.unsubscribe_url(subscriber_id);
        let email = self.templates.welcome(&Welcome {
            site: &self.site,
            locale: newsletter.locale.parse().unwrap_or_default(),
            newsletter_name: &newsletter.name,
            subject: welcome.subject(),
            body_html: &welcome.html(),
            body_text: welcome.markdown(),
            unsubscribe_url: &unsubscribe_url,
            preferences_url: &self.links.preferences_url(subscriber_id),
        });
        Ok(WelcomeLetter {
            email,
            name: newsletter.name,
            slug: newsletter.slug,
            sender_name: newsletter.sender_name,
            reply_to: newsletter.reply_to,
            unsubscribe_url,
        })
    }
}

impl Renderer for WelcomeRenderer {
    fn prepare<'a>(
        &'a self,
        row: &'a ClaimedDelivery,
    ) -> BoxFuture<'a, Result<Arc<dyn Letterhead>, RenderError>> {
        Box::pin(async move {
            let letter = self.render(row).await?;
            Ok(Arc::new(letter) as Arc<dyn Letterhead>)
        })
    }
}

/// One reader's welcome email, rendered whole.
struct WelcomeLetter {
    email: RenderedEmail,
    name: String,
    slug: String,
    sender_name: Option<String>,
    reply_to: Option<String>,
    unsubscribe_url: String,
}

impl Letterhead for WelcomeLetter {
    fn letter<'a>(&'a self, row: &'a ClaimedDelivery) -> Result<Outgoing<'a>, RenderError> {
        Ok(Outgoing {
            recipient: &row.recipient,
            subject: self.email.subject.as_str().into(),
            html_qp: encode_part(&self.email.html),
            text_qp: encode_part(&self.email.text),
            sender_name: self.sender_name.as_deref(),
            reply_to: self.reply_to.as_deref(),
            list: Some(ListInfo {
                name: &self.name,
                slug: &self.slug,
                unsubscribe_url: self.unsubscribe_url.clone(),
            }),
        })
    }
}
