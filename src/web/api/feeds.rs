//! `/api/feeds`: the RSS, Atom and JSON Feed URLs Gazette polls.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::auth::ApiClient;
use super::views::FeedView;
use crate::feeds::{FeedError, add_feed, poll_feed_now};
use crate::web::AppState;
use crate::web::errors::{ApiError, ErrorCode};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/feeds", web::post().to(create))
        .route("/api/feeds", web::get().to(list))
        .route("/api/feeds/{id}/poll", web::post().to(poll_now));
}

impl From<FeedError> for ApiError {
    fn from(error: FeedError) -> ApiError {
        match error {
            FeedError::InvalidUrl(problem) => ApiError::invalid_field("url", problem),
            FeedError::InvalidInterval => {
                let message = error.to_string();
                ApiError::invalid_field("poll_interval_secs", message)
            }
            FeedError::Duplicate(_) => ApiError::new(ErrorCode::Conflict, error.to_string()),
            FeedError::NotFound(_) => ApiError::new(ErrorCode::NotFound, error.to_string()),
            FeedError::Fetcher(e) => ApiError::internal(&e),
            FeedError::Store(e) => ApiError::internal(&e),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewFeed {
    url: String,
    poll_interval_secs: Option<i64>,
}

async fn create(
    _client: ApiClient,
    state: web::Data<AppState>,
    input: web::Json<NewFeed>,
) -> Result<HttpResponse, ApiError> {
    let feed = add_feed(&state.store, &input.url, input.poll_interval_secs).await?;
    Ok(HttpResponse::Created().json(FeedView::from(&feed)))
}

async fn list(_client: ApiClient, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let feeds = state.store.feeds().await?;
    let views: Vec<FeedView> = feeds.iter().map(FeedView::from).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "feeds": views })))
}

async fn poll_now(
    _client: ApiClient,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let report = poll_feed_now(&state.store, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "not_modified": report.not_modified,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "duplicates": report.duplicates,
        "error": report.error,
    })))
}
