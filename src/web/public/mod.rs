//! Public pages, no session: subscribe, confirm, unsubscribe, preferences,
//! archive. Each answers a page, errors included.
//!
//! The pages reached through a token in their link are limited per client
//! network ([`limit_token_pages`]): tokens cannot be guessed, but a flood
//! of made-up ones would still cost a database look-up each.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::{Next, from_fn};
use actix_web::{Error, web};
use email_templates::Locale;

use super::AppState;
use super::client_info::ClientInfo;

pub mod archive;
pub mod archive_feed;
pub mod confirm;
pub mod embed;
pub mod preferences;
pub mod subscribe;
pub mod unsubscribe;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/subscribe", web::get().to(subscribe::form))
        .route("/subscribe", web::post().to(subscribe::submit))
        .route("/embed", web::get().to(embed::page_handler))
        .service(
            web::resource("/confirm")
                .wrap(from_fn(limit_token_pages))
                .route(web::get().to(confirm::page))
                .route(web::post().to(confirm::submit)),
        )
        .service(
            web::resource("/unsubscribe")
                .wrap(from_fn(limit_token_pages))
                .route(web::get().to(unsubscribe::page))
                .route(web::post().to(unsubscribe::submit)),
        )
        .service(
            web::resource("/preferences")
                .wrap(from_fn(limit_token_pages))
                .route(web::get().to(preferences::page))
                .route(web::post().to(preferences::save)),
        )
        .service(
            web::resource("/preferences/pause")
                .wrap(from_fn(limit_token_pages))
                .route(web::post().to(preferences::pause)),
        )
        .service(
            web::resource("/preferences/resume")
                .wrap(from_fn(limit_token_pages))
                .route(web::post().to(preferences::resume)),
        )
        .service(
            web::resource("/preferences/export")
                .wrap(from_fn(limit_token_pages))
                .route(web::get().to(preferences::export)),
        )
        .service(
            web::resource("/preferences/delete")
                .wrap(from_fn(limit_token_pages))
                .route(web::post().to(preferences::delete)),
        )
        .configure(archive::routes);
}

/// Counts a request to a token page against its client's limit. The
/// one-click unsubscribe (`POST /unsubscribe`) is never limited: mail
/// providers send those for all their users from a few addresses, and
/// an unsubscribe must take effect.
pub async fn limit_token_pages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let one_click = req.method() == Method::POST && req.path() == "/unsubscribe";
    if !one_click && let Some(state) = req.app_data::<web::Data<AppState>>().cloned() {
        let ip = ClientInfo::of(req.request()).ip;
        if let Err(limited) = state.token_page_limits.check(ip) {
            let page = subscribe::too_many(&state, Locale::En, limited);
            return Ok(req.into_response(page));
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}
