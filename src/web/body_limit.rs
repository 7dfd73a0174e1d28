//! Refuses a body announced larger than [`MAX_BODY_BYTES`] (the subscriber
//! import upload: `MAX_IMPORT_BYTES`; providers' webhooks: `MAX_WEBHOOK_BYTES`) before any handler reads it. Bodies
//! without a length are still capped by the extractors.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError};

use super::MAX_BODY_BYTES;
use super::errors::{ApiError, ErrorCode};
use super::pages;

pub async fn refuse_large_bodies(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let announced = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // The subscriber import is the one upload that may be larger; it
    // counts what it reads itself, for bodies sent without a length.
    let limit = if req.path() == crate::web::admin::imports::UPLOAD_PATH {
        crate::subscriptions::import::MAX_IMPORT_BYTES
    } else if req.path().starts_with("/webhooks/") {
        crate::web::webhooks::MAX_WEBHOOK_BYTES
    } else {
        MAX_BODY_BYTES
    };
    if announced.is_some_and(|len| len > limit as u64) {
        let response = if req.path().starts_with("/api/") || req.path().starts_with("/webhooks/") {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("the body is larger than {} KiB", MAX_BODY_BYTES / 1024),
            )
            .error_response()
        } else {
            pages::error_page(
                actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                "That was too much",
                "The form you sent is larger than we accept. Please shorten it and try again.",
            )
        };
        return Ok(req.into_response(response));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}
