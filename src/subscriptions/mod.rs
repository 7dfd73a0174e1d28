//! Subscriptions: who receives which newsletter, and with what consent.
//! Owns double opt-in signup ([`signup`]), confirmation ([`confirm`]), what
//! a subscriber does from the link in their emails ([`manage`]:
//! unsubscribe, preferences, pause, export, erase), the consent record, and
//! the parsed input types ([`domain`]). Handlers in `web::public` and
//! `web::api` call these; nothing here knows HTTP.

pub mod cli;
pub mod confirm;
pub mod domain;
pub mod erased;
pub mod export;
pub mod import;
pub mod manage;
pub mod reminders;
pub mod signup;
pub mod token;
pub mod welcome;

pub use crate::store::subscribers::{
    ClientMeta, ConsentEvent, ConsentKind, ConsentSource, DailyCounter, Subscriber,
    SubscriberStatus, SubscriptionRow, SubscriptionStatus,
};
pub use domain::{FieldError, NewsletterSlug, SubscriberEmail, SubscriberName};
pub use erased::ErasedAddresses;
pub use signup::{SignupError, SignupOutcome, SignupRequest};
