//! Delivery: the one durable outbox every email goes through, and the
//! workers that drain it. Mail is enqueued inside the transaction of the
//! change that causes it ([`outbox::enqueue`]); the workers ([`worker`])
//! claim due rows under a lease ([`store`]), build each message
//! ([`message`]), sign it ([`dkim`]) and send it ([`transport`]).

pub mod dkim;
pub mod message;
pub mod outbox;
pub mod store;
pub mod transport;
pub mod worker;

pub use worker::{DeliveryStartError, start};
