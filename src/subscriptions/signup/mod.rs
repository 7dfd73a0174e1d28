//! Double opt-in signup: one transaction writes the pending subscriber, the
//! pending subscriptions, a confirmation token, the consent event and the
//! confirmation email in the outbox. The caller answers the same whatever
//! the address's past, so nobody learns who is subscribed.
//!
//! Consent is per newsletter: a confirmed subscriber asking for one more
//! newsletter gets a confirmation email for it too, because a form on the
//! open web proves nothing about who typed the address.
//!
//! Signups are written in groups (group commit): the handlers hand them to
//! a [`SignupQueue`], whose writer takes every signup waiting and writes
//! them in one transaction ([`SignupWriter`]), then answers each after the
//! commit. An address seen for the first time, the common case, costs a
//! row in a few multi-row statements ([`crate::store::signups`]); a known address
//! runs the full rules of [`known`]. A group that fails is written again one
//! signup at a time, so one bad signup fails alone.

mod known;
mod mails;
mod queue;
mod writer;

use super::domain::{FieldError, NewsletterSlug, SubscriberEmail, SubscriberName};
use crate::delivery::outbox::{MailBody, OneOffMail};
use crate::newsletters::Newsletter;
use crate::store::StoreError;
use crate::store::outbox::Outbox;
use crate::store::subscribers::{ClientMeta, ConsentSource};

pub use mails::{CONFIRMATION, ConfirmationData, ConfirmationMails, ConfirmationRenderer};
pub use queue::SignupQueue;
pub use writer::SignupWriter;

/// A pending address gets the confirmation email again at most this often,
/// so the form cannot be used to flood someone's inbox.
pub const CONFIRMATION_RESEND_INTERVAL_MS: i64 = 10 * 60 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The signup writer is gone (the server is shutting down).
    #[error("the signup writer has stopped")]
    Stopped,
}

/// A signup, parsed.
#[derive(Debug, Clone)]
pub struct SignupRequest {
    pub email: SubscriberEmail,
    pub name: Option<SubscriberName>,
    /// Empty means the default newsletter.
    pub newsletters: Vec<NewsletterSlug>,
    pub source: ConsentSource,
    pub client: ClientMeta,
}

/// What the signup did. Never shown to the visitor (every outcome gets the
/// same answer); tests and the log line use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignupOutcome {
    /// A confirmation email is in the outbox.
    ConfirmationQueued,
    /// Still pending, and a confirmation email went out less than
    /// [`CONFIRMATION_RESEND_INTERVAL_MS`] ago.
    ConfirmationRecentlySent,
    /// Already subscribed to everything asked for: no email.
    AlreadySubscribed,
}

impl SignupOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            SignupOutcome::ConfirmationQueued => "confirmation_queued",
            SignupOutcome::ConfirmationRecentlySent => "confirmation_recently_sent",
            SignupOutcome::AlreadySubscribed => "already_subscribed",
        }
    }
}

/// The newsletters a signup is for, among `all`: the ones named, or the
/// default one (the only newsletter there is). With several newsletters and
/// none named, the visitor must choose: guessing would subscribe them to
/// the wrong list.
pub fn choose_newsletters(
    all: &[Newsletter],
    slugs: &[NewsletterSlug],
) -> Result<Vec<Newsletter>, FieldError> {
    if slugs.is_empty() {
        return match all {
            [only] => Ok(vec![only.clone()]),
            [] => Err(FieldError {
                field: "newsletters",
                problem: "there is no newsletter to subscribe to yet".into(),
            }),
            _ => Err(FieldError {
                field: "newsletters",
                problem: format!(
                    "choose at least one newsletter: {}",
                    all.iter()
                        .map(|n| n.slug.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        };
    }
    let mut found: Vec<Newsletter> = Vec::with_capacity(slugs.len());
    for slug in slugs {
        if found.iter().any(|n| n.slug == slug.as_str()) {
            continue;
        }
        match all.iter().find(|n| n.slug == slug.as_str()) {
            Some(newsletter) => found.push(newsletter.clone()),
            None => {
                return Err(FieldError {
                    field: "newsletters",
                    problem: format!("unknown newsletter {:?}", slug.as_str()),
                });
            }
        }
    }
    Ok(found)
}

/// The whole signup as the form and the API run it: through the queue
/// (which wakes the delivery workers when an email was queued, and counts
/// each outcome in `gazette_signups_total`), then a debug line. The line is
/// not at info: formatted with its request's span, it would cost about 5 %
/// of the CPU of a signup load, and the consent record already keeps
/// every signup.
pub async fn request_signup(
    queue: &SignupQueue,
    request: SignupRequest,
) -> Result<SignupOutcome, SignupError> {
    let source = request.source;
    let masked = tracing::enabled!(tracing::Level::DEBUG)
        .then(|| crate::telemetry::mask_email(request.email.as_str()));
    let outcome = queue.sign_up(request).await?;
    if let Some(masked) = masked {
        tracing::debug!(
            email = %masked,
            source = source.as_str(),
            outcome = outcome.as_str(),
            "signup"
        );
    }
    Ok(outcome)
}

/// Puts a confirmation email into the outbox, in the caller's transaction
/// (signups and imports alike); the sender renders it from `data`.
pub(crate) async fn queue_confirmation(
    mut outbox: Outbox<'_>,
    subscriber_id: i64,
    recipient: &str,
    data: &ConfirmationData,
) -> Result<(), StoreError> {
    let data = data.to_json();
    let mail = OneOffMail {
        kind: CONFIRMATION,
        subscriber_id: Some(subscriber_id),
        recipient,
        body: MailBody::Data(&data),
    };
    outbox.enqueue(&mail, crate::store::now_ms()).await?;
    Ok(())
}
