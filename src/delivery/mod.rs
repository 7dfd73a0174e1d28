//! Delivery: the one durable outbox every email goes through, and the
//! workers that drain it, knowing nothing of what the mail is about. Mail
//! is enqueued inside the transaction of the change that causes it
//! (the store's outbox); the workers ([`worker`]) claim due rows under a
//! lease ([`dispatch`]), have each one rendered by the renderer
//! its owner registered ([`render`]), compose it ([`message`]), sign it
//! ([`dkim`]), send it ([`transport`], [`send`]) and record the outcome
//! ([`record`]). With `mail.bounce.domain` set, each message's envelope
//! sender names its delivery ([`verp`]), for the reports that come back.

mod dispatch;
pub mod dkim;
pub mod message;
pub mod outbox;
mod record;
pub mod render;
mod send;
pub mod transport;
pub mod verp;
pub mod worker;

pub use crate::store::outbox::{ClaimedDelivery, Outcome};
pub use worker::{DeliveryParts, DeliveryStartError, start};
