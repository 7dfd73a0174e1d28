//! Confirmation emails for signups: rendered once per locale and set of
//! newsletter names (maud and the CSS inliner run then), and filled in with
//! each signup's name and link. Inlining the CSS for every signup was the
//! costliest step of one.

use std::collections::HashMap;
use std::sync::Arc;

use email_templates::{
    Confirmation, ConfirmationLayout, ConfirmationTemplate, Locale, RenderedEmail, Site, Templates,
};

use crate::subscriptions::token::{CONFIRMATION_TOKEN_LIFETIME_HOURS, ConfirmationToken};

/// Sets of newsletters kept rendered. A site has a handful of newsletters
/// and visitors pick few combinations; past this many (a rename makes a new
/// set) the cache starts over rather than grow.
const MAX_TEMPLATES: usize = 64;

#[derive(Clone)]
pub struct ConfirmationMails {
    templates: Arc<Templates>,
    site: Site,
    /// Public base URL without a trailing slash.
    base_url: String,
    rendered: HashMap<(Locale, Vec<String>), Arc<ConfirmationTemplate>>,
}

impl ConfirmationMails {
    pub fn new(templates: Arc<Templates>, site: Site, base_url: String) -> ConfirmationMails {
        ConfirmationMails {
            templates,
            site,
            base_url,
            rendered: HashMap::new(),
        }
    }

    /// The confirmation email for `name` with `token`'s link, telling about
    /// the newsletters `newsletter_names` (in the order given).
    pub fn render(
        &mut self,
        locale: Locale,
        newsletter_names: &[String],
        name: Option<&str>,
        token: &ConfirmationToken,
    ) -> RenderedEmail {
        let confirm_url = format!("{}/confirm?token={}", self.base_url, token.as_str());
        match self.template(locale, newsletter_names) {
            Some(template) => template.personalise(name, &confirm_url),
            // Cannot happen with templates that loaded (they rendered every
            // email once at start); rendering whole still sends a mail.
            None => self.templates.confirmation(&Confirmation {
                site: &self.site,
                locale,
                name,
                newsletter_names,
                confirm_url: &confirm_url,
                expires_hours: CONFIRMATION_TOKEN_LIFETIME_HOURS,
            }),
        }
    }

    fn template(
        &mut self,
        locale: Locale,
        newsletter_names: &[String],
    ) -> Option<Arc<ConfirmationTemplate>> {
        let key = (locale, newsletter_names.to_vec());
        if let Some(template) = self.rendered.get(&key) {
            return Some(template.clone());
        }
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
        if self.rendered.len() >= MAX_TEMPLATES {
            self.rendered.clear();
        }
        self.rendered.insert(key, template.clone());
        Some(template)
    }
}
