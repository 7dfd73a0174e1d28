//! Public pages, no session: subscribe, confirm, unsubscribe, preferences,
//! archive. Each answers a page, errors included.

use actix_web::web;

pub fn routes(_cfg: &mut web::ServiceConfig) {}
