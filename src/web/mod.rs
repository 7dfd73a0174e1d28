//! The HTTP layer: one place that lists every route ([`routes`]), the shared
//! [`AppState`], and the cross-cutting pieces (metrics, body limit, errors).
//! Handlers stay thin: extract, parse into domain types, call the domain, map
//! the result.

use std::sync::Arc;

use actix_web::web;

use email_templates::Templates;

use crate::config::Settings;
use crate::delivery::outbox::MailWaker;
use crate::links::LinkSigner;
use crate::store::Store;

pub mod admin;
pub mod api;
pub mod body_limit;
pub mod client_info;
pub mod errors;
pub mod extractors;
pub mod health;
pub mod login_limits;
pub mod metrics;
pub mod pages;
pub mod public;
pub mod rate_limit;
pub mod request_span;
pub mod security_headers;
pub mod webhooks;

/// The largest request body Gazette reads; larger ones get a 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler can reach. Cheap to clone: everything inside is shared.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub templates: Arc<Templates>,
    pub links: LinkSigner,
    pub mail_waker: MailWaker,
    /// Where signups queue to be written in groups.
    pub signups: crate::subscriptions::signup::SignupQueue,
    /// Told when a schedule changes, so the next wake-up is recomputed.
    pub scheduler: crate::scheduling::Scheduler,
    /// The newsletters the signup form offers, kept in memory.
    pub newsletter_listing: crate::newsletters::NewsletterListing,
    /// The signup form's answer, rendered once per language.
    pub check_inbox_pages: Arc<public::subscribe::CheckInboxPages>,
    /// Encrypts and signs the admin session cookie; derived from the
    /// server secret, so every instance reads every session.
    pub session_key: actix_web::cookie::Key,
    /// Keys from `server.previous_secret_keys`: sessions they made still
    /// open.
    pub previous_session_keys: Arc<Vec<actix_web::cookie::Key>>,
    /// Login attempts per client and per account, shared by the HTTP
    /// workers.
    pub login_limits: Arc<login_limits::LoginLimits>,
    /// Hashes the addresses of erased subscribers.
    pub erased_addresses: crate::subscriptions::ErasedAddresses,
    /// Other addresses that got test copies this hour.
    pub test_recipients: Arc<crate::issues::test_recipients::TestRecipients>,
    /// Requests to token pages per client network.
    pub token_page_limits: Arc<rate_limit::ClientLimit>,
    /// The bound on password hashing.
    pub password_checks: crate::users::PasswordChecks,
    /// Fetches feeds, from public addresses only unless allowed.
    pub feed_fetcher: crate::feeds::FeedFetcher,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    /// Applies the bounces and complaints the providers' webhooks report.
    pub bounces: crate::bounces::Processor,
    /// Whether the admin's mail check reached the SMTP relay since this
    /// instance started (a step of the dashboard's set-up checklist).
    pub mail_check_passed: Arc<std::sync::atomic::AtomicBool>,
}

impl AppState {
    pub fn mail_check_passed(&self) -> bool {
        self.mail_check_passed
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A newsletter was created or changed here: the scheduler recomputes
    /// its next wake-up and the signup form reads the list again.
    pub fn newsletters_changed(&self) {
        self.scheduler.schedules_changed();
        self.newsletter_listing.changed();
    }
}

/// Every route Gazette serves, in one list.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health::health))
        .route("/metrics", web::get().to(metrics::metrics))
        .configure(public::routes)
        .configure(api::routes)
        .configure(webhooks::routes)
        .configure(admin::routes);
}

/// Extractor settings shared by the server and the tests: size limits and
/// JSON errors in the shape of [`errors::ApiError`].
pub fn extractor_configs(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
        .app_data(extractors::json_config())
        .app_data(extractors::query_config())
        .app_data(extractors::form_config())
        .app_data(extractors::path_config());
}
