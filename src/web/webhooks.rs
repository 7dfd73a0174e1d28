//! `POST /webhooks/{mailgun,sendgrid,postmark,ses}`: the providers' reports of
//! bounces and complaints. Thin: the provider's module in
//! `bounces::webhooks` checks the request and reads the events, the
//! bounce processor applies them. A bad signature is a 401 and stores
//! nothing; a database that cannot take the events is a 503, which every
//! provider retries.

use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;
use super::errors::{ApiError, ErrorCode};
use crate::bounces::MailEventSource;
use crate::bounces::webhooks::{self, ProviderEvent, WebhookError};

/// The largest payload taken: SendGrid posts events in batches.
pub const MAX_WEBHOOK_BYTES: usize = 4 * 1024 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/webhooks")
            .app_data(web::PayloadConfig::new(MAX_WEBHOOK_BYTES))
            .route("/mailgun", web::post().to(mailgun))
            .route("/sendgrid", web::post().to(sendgrid))
            .route("/postmark", web::post().to(postmark))
            .route("/ses", web::post().to(ses)),
    );
}

async fn mailgun(state: web::Data<AppState>, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let settings = &state.settings.mail.bounce.webhooks;
    let events = webhooks::mailgun::read(settings.mailgun.as_ref(), &body);
    apply(&state, MailEventSource::Mailgun, events).await
}

async fn sendgrid(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let settings = &state.settings.mail.bounce.webhooks;
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let events = webhooks::sendgrid::read(
        settings.sendgrid.as_ref(),
        header(webhooks::sendgrid::SIGNATURE_HEADER),
        header(webhooks::sendgrid::TIMESTAMP_HEADER),
        &body,
    );
    apply(&state, MailEventSource::Sendgrid, events).await
}

async fn postmark(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let settings = &state.settings.mail.bounce.webhooks;
    let authorization = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let events = webhooks::postmark::read(settings.postmark.as_ref(), authorization, &body);
    apply(&state, MailEventSource::Postmark, events).await
}

async fn ses(state: web::Data<AppState>, body: web::Bytes) -> Result<HttpResponse, ApiError> {
    let settings = &state.settings.mail.bounce.webhooks;
    let message = webhooks::ses::read(settings.ses.as_ref(), &body).await;
    match message {
        Ok(webhooks::ses::SnsMessage::Notification(events)) => {
            apply(&state, MailEventSource::Ses, Ok(events)).await
        }
        Ok(_) => Ok(HttpResponse::Ok().json(serde_json::json!({ "processed": 0 }))),
        Err(error) => apply(&state, MailEventSource::Ses, Err(error)).await,
    }
}

async fn apply(
    state: &AppState,
    source: MailEventSource,
    events: Result<Vec<ProviderEvent>, WebhookError>,
) -> Result<HttpResponse, ApiError> {
    let events = events.map_err(|error| match error {
        WebhookError::NotConfigured => ApiError::new(ErrorCode::NotFound, error.to_string()),
        WebhookError::BadSignature => {
            tracing::warn!(%source, "a webhook request failed its signature check");
            ApiError::new(ErrorCode::Unauthorized, error.to_string())
        }
        WebhookError::BadPayload(_) => ApiError::new(ErrorCode::InvalidInput, error.to_string()),
    })?;
    let mut processed = 0;
    for event in &events {
        state
            .bounces
            .process_event(source, &event.report, event.raw.as_bytes())
            .await
            .map_err(|error| {
                tracing::warn!(%source, %error, "cannot record a webhook's event; the provider will retry");
                ApiError::new(ErrorCode::ServiceUnavailable, "cannot record the events now")
            })?;
        processed += 1;
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "processed": processed })))
}
