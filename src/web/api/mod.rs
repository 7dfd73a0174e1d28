//! The JSON API under `/api`. Every error is an [`super::errors::ApiError`].
//! Every route is registered in [`register`] and described beside its
//! handler with `#[utoipa::path]`; [`openapi`] serves the description.

use actix_web::web;
use utoipa_actix_web::service_config::ServiceConfig;

pub mod auth;
pub mod feeds;
pub mod issues;
pub mod newsletters;
pub mod openapi;
pub mod stories;
pub mod subscriptions;
pub mod views;

pub fn routes(cfg: &mut web::ServiceConfig) {
    register(&mut ServiceConfig::new(cfg));
}

/// Every `/api` route. `ServiceConfig::service` takes only handlers that
/// carry a `#[utoipa::path]` description; never use `route(…)` here (it
/// would serve a route the description does not know; a test checks).
pub fn register(api: &mut ServiceConfig) {
    api.service(openapi::document)
        .service(subscriptions::create)
        .configure(newsletters::routes)
        .configure(stories::routes)
        .configure(issues::routes)
        .configure(feeds::routes);
}
