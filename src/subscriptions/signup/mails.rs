//! Confirmation emails. The outbox keeps what one is made of
//! ([`ConfirmationData`]: the link's token, the language, the newsletters'
//! names and the reader's name, about 150 bytes) and the sender renders it
//! when it goes out ([`ConfirmationMails`]), from a template rendered once
//! per language and set of newsletters (maud and the CSS inliner run then)
//! and filled in per email. A whole 6 KB email in each outbox row made
//! SQLite write several times more pages for every signup, and a signup
//! waits for those writes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use email_templates::{
    Confirmation, ConfirmationLayout, ConfirmationTemplate, Locale, RenderedEmail, Site, Templates,
};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::delivery::ClaimedDelivery;
use crate::delivery::message::{self, Outgoing};
use crate::delivery::outbox::MailKind;
use crate::delivery::render::{Letterhead, RenderError, Renderer};

use crate::subscriptions::token::{CONFIRMATION_TOKEN_LIFETIME_HOURS, ConfirmationToken};

/// A confirmation email to one address, rendered when it is sent.
pub const CONFIRMATION: MailKind = MailKind::new("confirmation");

/// What a confirmation email is rendered from, as the outbox keeps it
/// (JSON in `deliveries.template_data`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmationData {
    /// The token in clear, for the link. The subscriber's row keeps only
    /// its hash; this copy is erased when the email is sent, as the
    /// rendered body that held the link was.
    pub token: String,
    pub locale: String,
    /// The newsletters the email tells about, in that order.
    pub newsletters: Vec<String>,
    /// Whom the greeting is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The one reminder to a signup left unconfirmed: the same email under
    /// a subject that says so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reminder: bool,
}

impl ConfirmationData {
    pub fn new(
        token: &ConfirmationToken,
        locale: Locale,
        newsletters: &[String],
        name: Option<&str>,
    ) -> ConfirmationData {
        ConfirmationData {
            token: token.as_str().to_owned(),
            locale: locale.as_str().to_owned(),
            newsletters: newsletters.to_vec(),
            name: name.map(str::to_owned),
            reminder: false,
        }
    }

    /// The same email as the reminder.
    pub fn as_reminder(mut self) -> ConfirmationData {
        self.reminder = true;
        self
    }

    pub fn to_json(&self) -> String {
        // a struct of strings always serialises
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(json: &str) -> Result<ConfirmationData, serde_json::Error> {
        serde_json::from_str(json)
    }
}

/// Sets of newsletters kept rendered. A site has a handful of newsletters
/// and visitors pick few combinations; past this many (a rename makes a new
/// set) the cache starts over rather than grow.
const MAX_TEMPLATES: usize = 64;

type TemplateKey = (Locale, Vec<String>);

/// Renders confirmation emails from their [`ConfirmationData`]; cheap to
/// clone, shared by the delivery tasks.
#[derive(Clone)]
pub struct ConfirmationMails {
    templates: Arc<Templates>,
    site: Site,
    /// Public base URL without a trailing slash.
    base_url: String,
    rendered: Arc<Mutex<HashMap<TemplateKey, Arc<ConfirmationTemplate>>>>,
}

impl ConfirmationMails {
    pub fn new(templates: Arc<Templates>, site: Site, base_url: String) -> ConfirmationMails {
        ConfirmationMails {
            templates,
            site,
            base_url,
            rendered: Arc::default(),
        }
    }

    /// The email `data` describes.
    pub fn render(&self, data: &ConfirmationData) -> RenderedEmail {
        // a language this version does not know is sent in English
        let locale = data.locale.parse().unwrap_or(Locale::En);
        let confirm_url = format!("{}/confirm?token={}", self.base_url, data.token);
        let name = data.name.as_deref();
        let mut email = match self.template(locale, &data.newsletters) {
            Some(template) => template.personalise(name, &confirm_url),
            // Cannot happen with templates that loaded (they rendered every
            // email once at start); rendering whole still sends a mail.
            None => self.templates.confirmation(&Confirmation {
                site: &self.site,
                locale,
                name,
                newsletter_names: &data.newsletters,
                confirm_url: &confirm_url,
                expires_hours: CONFIRMATION_TOKEN_LIFETIME_HOURS,
            }),
        };
        if data.reminder {
            let words = &self.templates.words(locale).confirmation;
            email.subject = words.reminder_subject.replace("{site}", &self.site.name);
        }
        email
    }

    fn template(
        &self,
        locale: Locale,
        newsletter_names: &[String],
    ) -> Option<Arc<ConfirmationTemplate>> {
        let key = (locale, newsletter_names.to_vec());
        if let Some(template) = self.cache().get(&key) {
            return Some(template.clone());
        }
        // Rendered outside the lock: two tasks may both render a new set
        // once, rather than every task wait behind the CSS inliner.
        let template = match self.templates.confirmation_template(&ConfirmationLayout {
            site: &self.site,
            locale,
            newsletter_names,
            expires_hours: CONFIRMATION_TOKEN_LIFETIME_HOURS,
        }) {
            Ok(template) => Arc::new(template),
            Err(error) => {
                tracing::error!(%error, "confirmation template failed to render");
                return None;
            }
        };
        let mut cache = self.cache();
        if cache.len() >= MAX_TEMPLATES {
            cache.clear();
        }
        cache.insert(key, template.clone());
        Some(template)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<TemplateKey, Arc<ConfirmationTemplate>>> {
        // the map is only ever inserted into or cleared: a panic elsewhere
        // cannot leave it half-changed
        self.rendered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Confirmation rows for the delivery workers: each is rendered from its
/// data by the one [`ConfirmationMails`].
pub struct ConfirmationRenderer(Arc<ConfirmationMails>);

impl ConfirmationRenderer {
    pub fn new(mails: ConfirmationMails) -> ConfirmationRenderer {
        ConfirmationRenderer(Arc::new(mails))
    }
}

impl Renderer for ConfirmationRenderer {
    fn prepare<'a>(
        &'a self,
        _row: &'a ClaimedDelivery,
    ) -> BoxFuture<'a, Result<Arc<dyn Letterhead>, RenderError>> {
        let mails: Arc<dyn Letterhead> = self.0.clone();
        Box::pin(async move { Ok(mails) })
    }
}

impl Letterhead for ConfirmationMails {
    fn letter<'a>(&'a self, row: &'a ClaimedDelivery) -> Result<Outgoing<'a>, RenderError> {
        let data = row
            .template_data
            .as_deref()
            .ok_or_else(|| RenderError::Never("a confirmation row without its data".into()))
            .and_then(|data| {
                ConfirmationData::from_json(data).map_err(|error| {
                    RenderError::Never(format!("unreadable confirmation data: {error}"))
                })
            })?;
        let email = self.render(&data);
        Ok(Outgoing {
            recipient: &row.recipient,
            subject: email.subject.into(),
            html_qp: message::encode_part(&email.html),
            text_qp: message::encode_part(&email.text),
            sender_name: None,
            reply_to: None,
            list: None,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn data_round_trips_through_json_and_renders_the_link_and_name() {
        let token = ConfirmationToken::generate();
        let names = vec!["Morning <news>".to_string(), "Sport".to_string()];
        let data = ConfirmationData::new(&token, Locale::Fr, &names, Some("Aïcha \"A\""));
        let json = data.to_json();
        assert!(json.len() < 200, "a small row: {json}");
        assert_eq!(ConfirmationData::from_json(&json).unwrap(), data);

        let templates = Arc::new(Templates::builtin());
        let site = Site {
            name: "Site".into(),
            base_url: "https://news.example.org".into(),
            postal_address: "1 Road".into(),
        };
        let mails = ConfirmationMails::new(
            templates.clone(),
            site.clone(),
            "https://news.example.org".into(),
        );
        let email = mails.render(&data);
        let link = format!("https://news.example.org/confirm?token={}", token.as_str());
        assert!(email.text.contains(&link), "{}", email.text);
        assert!(email.text.contains("Aïcha"), "{}", email.text);
        assert!(
            email.html.contains("Morning &lt;news&gt;"),
            "{}",
            email.html
        );
        // the same as rendering the whole email at once
        let whole = templates.confirmation(&Confirmation {
            site: &site,
            locale: Locale::Fr,
            name: Some("Aïcha \"A\""),
            newsletter_names: &names,
            confirm_url: &link,
            expires_hours: CONFIRMATION_TOKEN_LIFETIME_HOURS,
        });
        assert_eq!(email.text, whole.text);
        assert_eq!(email.subject, whole.subject);
    }
}
