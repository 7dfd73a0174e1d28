//! Behaviour tests through HTTP, against real SQLite and real PostgreSQL.
//! One binary, so the crate links once.

mod helpers;
mod smtp_server;

mod foundation;
mod subscriptions;
