//! The JSON API under `/api`. Every error is an [`super::errors::ApiError`].

use actix_web::web;

pub fn routes(_cfg: &mut web::ServiceConfig) {}
