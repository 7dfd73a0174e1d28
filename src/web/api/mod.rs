//! The JSON API under `/api`. Every error is an [`super::errors::ApiError`].

use actix_web::web;

pub mod auth;
pub mod feeds;
pub mod issues;
pub mod newsletters;
pub mod stories;
pub mod subscriptions;
pub mod views;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/subscriptions", web::post().to(subscriptions::create));
    cfg.configure(newsletters::routes)
        .configure(stories::routes)
        .configure(issues::routes)
        .configure(feeds::routes);
}
