//! `GET /health`: is this instance able to serve? 200 when the database
//! answers, 503 while it does not; the pool reconnects on its own, so the
//! answer turns back to 200 without a restart.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;

const DATABASE_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    match state.store.ping(DATABASE_PROBE_TIMEOUT).await {
        Ok(()) => HttpResponse::Ok().json(json!({"status": "ok", "database": "ok"})),
        Err(error) => {
            tracing::warn!(%error, "health check: database unavailable");
            HttpResponse::ServiceUnavailable()
                .json(json!({"status": "unavailable", "database": "unavailable"}))
        }
    }
}
