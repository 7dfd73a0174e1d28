//! Double opt-in signup: one transaction writes the pending subscriber, the
//! pending subscriptions, a confirmation token, the consent event and the
//! confirmation email in the outbox. The caller answers the same whatever
//! the address's past, so nobody learns who is subscribed.
//!
//! Consent is per newsletter: a confirmed subscriber asking for one more
//! newsletter gets a confirmation email for it too, because a form on the
//! open web proves nothing about who typed the address.

use email_templates::{Confirmation, Locale, RenderedEmail, Site, Templates};

use super::domain::{FieldError, NewsletterSlug, SubscriberEmail, SubscriberName};
use super::store::{self as sql, ClientMeta, ConsentKind, ConsentSource, DailyCounter};
use super::token::{CONFIRMATION_TOKEN_LIFETIME_HOURS, ConfirmationToken};
use crate::delivery::outbox::{self, MailKind, OneOffMail};
use crate::newsletters::Newsletter;
use crate::store::{Store, StoreError, now_ms};

/// A pending address gets the confirmation email again at most this often,
/// so the form cannot be used to flood someone's inbox.
pub const CONFIRMATION_RESEND_INTERVAL_MS: i64 = 10 * 60 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for SignupError {
    fn from(error: sqlx::Error) -> SignupError {
        SignupError::Store(StoreError::Sql(error))
    }
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

/// What rendering the confirmation email needs.
pub struct Mailer<'a> {
    pub templates: &'a Templates,
    pub site: Site,
    /// Public base URL without a trailing slash.
    pub base_url: &'a str,
}

/// The newsletters a signup is for: the ones named, or the default one
/// (the only newsletter there is). With several newsletters and none named,
/// the visitor must choose: guessing would subscribe them to the wrong list.
pub async fn resolve_newsletters(
    store: &Store,
    slugs: &[NewsletterSlug],
) -> Result<Vec<Newsletter>, SignupError> {
    if slugs.is_empty() {
        let mut all = store.newsletters().await?;
        return match all.len() {
            1 => Ok(all.split_off(0)),
            0 => Err(FieldError {
                field: "newsletters",
                problem: "there is no newsletter to subscribe to yet".into(),
            }
            .into()),
            _ => Err(FieldError {
                field: "newsletters",
                problem: format!(
                    "choose at least one newsletter: {}",
                    all.iter()
                        .map(|n| n.slug.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
            .into()),
        };
    }
    let mut found: Vec<Newsletter> = Vec::with_capacity(slugs.len());
    for slug in slugs {
        if found.iter().any(|n| n.slug == slug.as_str()) {
            continue;
        }
        match store.newsletter_by_slug(slug.as_str()).await? {
            Some(newsletter) => found.push(newsletter),
            None => {
                return Err(FieldError {
                    field: "newsletters",
                    problem: format!("unknown newsletter {:?}", slug.as_str()),
                }
                .into());
            }
        }
    }
    Ok(found)
}

/// Runs a signup for newsletters already resolved. Returns after the commit;
/// the caller wakes the delivery workers when an email was queued.
pub async fn sign_up(
    store: &Store,
    mailer: &Mailer<'_>,
    request: &SignupRequest,
    newsletters: &[Newsletter],
) -> Result<SignupOutcome, SignupError> {
    let Some(first) = newsletters.first() else {
        return Err(FieldError {
            field: "newsletters",
            problem: "choose at least one newsletter".into(),
        }
        .into());
    };
    let name = request.name.as_ref().map(SubscriberName::as_str);
    let locale = first.locale.parse().unwrap_or(Locale::En);
    let token = ConfirmationToken::generate();
    // Rendered before the transaction (CSS inlining is the costliest step of
    // a signup, and SQLite holds its write lock for the whole transaction);
    // rendered again inside only when the email must say something else.
    let mut requested_names: Vec<String> = newsletters.iter().map(|n| n.name.clone()).collect();
    requested_names.sort();
    let prerendered = render_confirmation(mailer, locale, name, &requested_names, &token);
    let mut tx = store.begin_write().await?;
    let subscriber = sql::upsert_pending_subscriber(
        &mut tx,
        request.email.as_str(),
        &request.email.key(),
        name,
        &first.locale,
    )
    .await?;
    match subscriber.status.as_str() {
        "active" => {}
        "pending" if name.is_none() => {}
        _ => sql::reopen_subscriber(&mut tx, subscriber.id, name).await?,
    }
    let mut newly_pending = Vec::new();
    for newsletter in newsletters {
        if sql::request_subscription(&mut tx, subscriber.id, newsletter.id).await? {
            newly_pending.push(newsletter.id);
        }
    }
    let pending = sql::subscriptions_of(&mut tx, subscriber.id, Some("pending")).await?;
    if pending.is_empty() {
        tx.rollback().await?;
        return Ok(SignupOutcome::AlreadySubscribed);
    }
    let requested: Vec<&str> = newsletters.iter().map(|n| n.slug.as_str()).collect();
    sql::record_consent(
        &mut tx,
        subscriber.id,
        ConsentKind::Signup,
        request.source,
        &request.client,
        Some(&requested.join(",")),
    )
    .await?;
    // Only a still-pending address waits for the interval: one that had
    // unsubscribed, or asks for another newsletter, gets its email now (the
    // per-address rate limit still bounds how often).
    let sent_recently = subscriber.status == "pending"
        && subscriber
            .last_confirmation_sent_at
            .is_some_and(|at| now_ms() - at < CONFIRMATION_RESEND_INTERVAL_MS);
    let outcome = if sent_recently {
        SignupOutcome::ConfirmationRecentlySent
    } else {
        sql::insert_confirmation_token(
            &mut tx,
            &token.hash(),
            subscriber.id,
            CONFIRMATION_TOKEN_LIFETIME_HOURS,
        )
        .await?;
        let names: Vec<String> = pending.iter().map(|p| p.name.clone()).collect();
        let greeting_name = name.or(subscriber.name.as_deref());
        let email = if names == requested_names && greeting_name == name {
            prerendered
        } else {
            render_confirmation(mailer, locale, greeting_name, &names, &token)
        };
        queue_confirmation(&mut tx, subscriber.id, &subscriber.email, &email).await?;
        SignupOutcome::ConfirmationQueued
    };
    // Last, so the shared counter row is locked for the shortest time.
    for newsletter_id in newly_pending {
        sql::count_today(&mut tx, newsletter_id, DailyCounter::Signups).await?;
    }
    tx.commit().await?;
    Ok(outcome)
}

fn render_confirmation(
    mailer: &Mailer<'_>,
    locale: Locale,
    name: Option<&str>,
    newsletter_names: &[String],
    token: &ConfirmationToken,
) -> RenderedEmail {
    let confirm_url = format!("{}/confirm?token={}", mailer.base_url, token.as_str());
    mailer.templates.confirmation(&Confirmation {
        site: &mailer.site,
        locale,
        name,
        newsletter_names,
        confirm_url: &confirm_url,
        expires_hours: CONFIRMATION_TOKEN_LIFETIME_HOURS,
    })
}

/// The whole signup as the form and the API run it: resolve the
/// newsletters, sign up, wake the delivery workers when an email was
/// queued, and write the one log line.
pub async fn request_signup(
    store: &Store,
    mailer: &Mailer<'_>,
    waker: &crate::delivery::outbox::MailWaker,
    request: &SignupRequest,
) -> Result<SignupOutcome, SignupError> {
    let newsletters = resolve_newsletters(store, &request.newsletters).await?;
    let outcome = sign_up(store, mailer, request, &newsletters).await?;
    if outcome == SignupOutcome::ConfirmationQueued {
        waker.wake();
    }
    tracing::info!(
        email = %crate::telemetry::mask_email(request.email.as_str()),
        source = request.source.as_str(),
        outcome = outcome.as_str(),
        "signup"
    );
    Ok(outcome)
}

/// Puts a rendered confirmation email into the outbox, in the caller's
/// transaction (signups and imports alike).
pub(crate) async fn queue_confirmation(
    conn: &mut sqlx::AnyConnection,
    subscriber_id: i64,
    recipient: &str,
    email: &RenderedEmail,
) -> Result<(), sqlx::Error> {
    outbox::enqueue(
        conn,
        &OneOffMail {
            kind: MailKind::Confirmation,
            subscriber_id: Some(subscriber_id),
            recipient,
            subject: &email.subject,
            html: &email.html,
            text: &email.text,
        },
    )
    .await?;
    Ok(())
}
