//! Gazette: a self-hosted newsletter service. Visitors subscribe with double
//! opt-in, editors schedule digests of the site's stories, and one durable
//! outbox delivers every email over SMTP.

pub mod api_tokens;
pub mod bounces;
pub mod cli;
pub mod config;
pub mod console;
pub mod delivery;
pub mod dns;
pub mod feeds;
pub mod issues;
pub mod links;
pub mod newsletters;
pub mod scheduling;
pub mod startup;
pub mod store;
pub mod stories;
pub mod subscriptions;
pub mod tags;
pub mod telemetry;
pub mod templates;
pub mod users;
pub mod web;
