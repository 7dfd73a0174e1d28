//! Public pages, no session: subscribe, confirm, unsubscribe, preferences,
//! archive. Each answers a page, errors included.

use actix_web::web;

pub mod archive;
pub mod confirm;
pub mod embed;
pub mod preferences;
pub mod subscribe;
pub mod unsubscribe;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/subscribe", web::get().to(subscribe::form))
        .route("/subscribe", web::post().to(subscribe::submit))
        .route("/embed", web::get().to(embed::page_handler))
        .route("/confirm", web::get().to(confirm::page))
        .route("/confirm", web::post().to(confirm::submit))
        .route("/unsubscribe", web::get().to(unsubscribe::page))
        .route("/unsubscribe", web::post().to(unsubscribe::submit))
        .route("/preferences", web::get().to(preferences::page))
        .route("/preferences", web::post().to(preferences::save))
        .route("/preferences/pause", web::post().to(preferences::pause))
        .route("/preferences/resume", web::post().to(preferences::resume))
        .route("/preferences/export", web::get().to(preferences::export))
        .route("/preferences/delete", web::post().to(preferences::delete))
        .configure(archive::routes);
}
