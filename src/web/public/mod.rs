//! Public pages, no session: subscribe, confirm, unsubscribe, preferences,
//! archive. Each answers a page, errors included.

use actix_web::web;

pub mod archive;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(archive::routes);
}
