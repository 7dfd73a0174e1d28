//! Delivery: the one durable outbox every email goes through, and the
//! workers that drain it. Mail is enqueued inside the transaction of the
//! change that causes it ([`outbox::enqueue`]); the workers claim due rows
//! under a lease and send them.

pub mod outbox;
