//! `/api/feeds`: the RSS, Atom and JSON Feed URLs Gazette polls.

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::auth::ApiClient;
use super::openapi::{Conflict, JsonBodyErrors, NotFound, Unauthorized};
use super::views::{FeedList, FeedView};
use crate::feeds::{FeedError, PollReport, add_feed, poll_feed_now};
use crate::web::AppState;
use crate::web::errors::{ApiError, ErrorCode};
use crate::web::extractors::JsonObject;

pub fn routes(api: &mut ServiceConfig) {
    api.service(create).service(list).service(poll_now);
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewFeed {
    /// Absolute `http(s)` URL of an RSS, Atom or JSON feed.
    #[schema(format = "uri")]
    url: String,
    /// Seconds between polls (default 900); the bounds are
    /// `feeds::MIN_POLL_INTERVAL_SECS` and `MAX_POLL_INTERVAL_SECS`.
    #[schema(minimum = 60, maximum = 86400)]
    poll_interval_secs: Option<i64>,
}

/// Add a feed to poll for stories.
#[utoipa::path(
    tag = "feeds",
    operation_id = "add_feed",
    security(("api_token" = [])),
    request_body = NewFeed,
    responses(
        (status = 201, description = "Added", body = FeedView),
        JsonBodyErrors,
        Unauthorized,
        Conflict,
    )
)]
#[post("/api/feeds")]
async fn create(
    _client: ApiClient,
    state: web::Data<AppState>,
    input: JsonObject<NewFeed>,
) -> Result<HttpResponse, ApiError> {
    let feed = add_feed(
        &state.store,
        &state.feed_fetcher,
        &input.0.url,
        input.0.poll_interval_secs,
    )
    .await?;
    Ok(HttpResponse::Created().json(FeedView::from(&feed)))
}

/// Every feed, with its last poll and error.
#[utoipa::path(
    tag = "feeds",
    operation_id = "list_feeds",
    security(("api_token" = [])),
    responses(
        (status = 200, description = "The feeds", body = FeedList),
        Unauthorized,
    )
)]
#[get("/api/feeds")]
async fn list(_client: ApiClient, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let feeds = state.store.feeds().all().await?;
    Ok(HttpResponse::Ok().json(FeedList {
        feeds: feeds.iter().map(FeedView::from).collect(),
    }))
}

/// Poll a feed now.
#[utoipa::path(
    tag = "feeds",
    operation_id = "poll_feed",
    security(("api_token" = [])),
    params(("id" = i64, Path, description = "The feed's id")),
    responses(
        (status = 200, description = "What the poll did", body = PollReport),
        Unauthorized,
        NotFound,
    )
)]
#[post("/api/feeds/{id}/poll")]
async fn poll_now(
    _client: ApiClient,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let report = poll_feed_now(&state.store, &state.feed_fetcher, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(report))
}
