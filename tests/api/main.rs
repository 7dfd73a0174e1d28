//! Behaviour tests through HTTP, against real SQLite and real PostgreSQL.
//! One binary, so the crate links once.

mod browser_support;
mod editor;
mod helpers;
mod http_server;
mod imap_server;
mod smtp_server;

mod admin;
mod admin_browser;
mod admin_empty_states;
mod admin_search;
mod admin_users_stories;
mod archive;
mod bounces;
mod browser;
mod cli;
mod delivery;
mod dmarc;
mod feeds;
mod first_issue;
mod foundation;
mod hostile;
mod imports;
mod issues;
mod login_limits;
mod newsletters;
mod openapi;
mod reminders;
mod scheduling;
mod security;
mod send_at;
mod sender_setup;
mod sessions;
mod signup_groups;
mod store;
mod stories;
mod subscriptions;
mod webhooks;
mod welcome;
