//! `/api/stories`: a CMS pushes stories (upsert by URL or external id) and
//! reads them back.

use actix_web::{HttpResponse, get, post, web};
use chrono::DateTime;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use super::auth::ApiClient;
use super::openapi::{Conflict, InvalidQuery, JsonBodyErrors, Unauthorized};
use super::views::{StoryList, StoryView};
use crate::stories::{NewStory, StoryInput, Upserted};
use crate::web::AppState;
use crate::web::errors::{ApiError, ErrorCode};
use crate::web::extractors::JsonObject;

pub fn routes(api: &mut ServiceConfig) {
    api.service(upsert).service(list);
}

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 500;

/// Create or update a story, matched by `external_id` when given, else by
/// `url`.
#[utoipa::path(
    tag = "stories",
    operation_id = "upsert_story",
    security(("api_token" = [])),
    request_body = StoryInput,
    responses(
        (status = 201, description = "Created", body = StoryView),
        (status = 200, description = "Updated", body = StoryView),
        JsonBodyErrors,
        Unauthorized,
        Conflict,
    )
)]
#[post("/api/stories")]
async fn upsert(
    _client: ApiClient,
    state: web::Data<AppState>,
    input: JsonObject<StoryInput>,
) -> Result<HttpResponse, ApiError> {
    let story = NewStory::parse(input.into_inner()).map_err(|invalid| {
        let mut api = ApiError::new(ErrorCode::InvalidInput, "the story has invalid fields");
        for (field, problem) in invalid.fields {
            api = api.with_field(field, problem);
        }
        api
    })?;
    match crate::stories::upsert_story(&state.store, &story).await {
        Ok(Upserted::Created(story)) => Ok(HttpResponse::Created().json(StoryView::from(&story))),
        Ok(Upserted::Updated(story)) => Ok(HttpResponse::Ok().json(StoryView::from(&story))),
        Err(error) if error.is_unique_violation() => Err(ApiError::new(
            ErrorCode::Conflict,
            "another story already has this url",
        )
        .with_field("url", "belongs to another story")),
        Err(error) => Err(error.into()),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// RFC 3339: only stories published at or after this time.
    since: Option<String>,
    /// 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

/// Stories, newest first.
#[utoipa::path(
    tag = "stories",
    operation_id = "list_stories",
    security(("api_token" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "The stories", body = StoryList),
        Unauthorized,
        InvalidQuery,
    )
)]
#[get("/api/stories")]
async fn list(
    _client: ApiClient,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let since = match query.since.as_deref() {
        None => None,
        Some(raw) => Some(
            DateTime::parse_from_rfc3339(raw.trim())
                .map_err(|_| {
                    ApiError::invalid_field(
                        "since",
                        "must be an RFC 3339 time such as 2030-03-01T07:00:00Z",
                    )
                })?
                .timestamp_millis(),
        ),
    };
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let stories = state.store.stories().published_since(since, limit).await?;
    Ok(HttpResponse::Ok().json(StoryList {
        stories: stories.iter().map(StoryView::from).collect(),
    }))
}
