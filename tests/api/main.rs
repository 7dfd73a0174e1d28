//! Behaviour tests through HTTP, against real SQLite and real PostgreSQL.
//! One binary, so the crate links once.

mod browser_support;
mod editor;
mod helpers;
mod smtp_server;

mod browser;
mod delivery;
mod foundation;
mod subscriptions;
mod scheduling;
mod newsletters;
mod stories;
mod feeds;
mod issues;
mod archive;
mod cli;
mod admin;
mod admin_browser;
