//! Gazette: a self-hosted newsletter service. Visitors subscribe with double
//! opt-in, editors schedule digests of the site's stories, and one durable
//! outbox delivers every email over SMTP.

pub mod cli;
pub mod config;
pub mod delivery;
pub mod links;
pub mod newsletters;
pub mod scheduling;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod templates;
pub mod web;
