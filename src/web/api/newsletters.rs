//! `/api/newsletters`: create, list, read (with the next fire times), update,
//! and build an issue now.

use actix_web::{HttpResponse, get, post, put, web};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::auth::ApiClient;
use super::issues::issue_response;
use super::openapi::{Conflict, JsonBodyErrors, NotFound, Unauthorized};
use super::views::{IssueView, NewsletterList, NewsletterView};
use crate::issues::IssueError;
use crate::issues::sender::SenderSetup;
use crate::issues::{BuildOutcome, build_issue, send::send_issue, timing};
use crate::newsletters::{
    NewsletterError, NewsletterInput, create_newsletter, find_newsletter, next_runs,
    update_newsletter,
};
use crate::web::AppState;
use crate::web::errors::{ApiError, ErrorCode};
use crate::web::extractors::{JsonObject, object_body};

pub fn routes(api: &mut ServiceConfig) {
    api.service(create)
        .service(list)
        .service(show)
        .service(update)
        .service(build_now);
}

impl From<NewsletterError> for ApiError {
    fn from(error: NewsletterError) -> ApiError {
        match error {
            NewsletterError::Invalid(invalid) => {
                let mut api =
                    ApiError::new(ErrorCode::InvalidInput, "the newsletter has invalid fields");
                for (field, problem) in invalid.fields {
                    api = api.with_field(field, problem);
                }
                api
            }
            NewsletterError::SlugTaken(_) => ApiError::new(ErrorCode::Conflict, error.to_string()),
            NewsletterError::NotFound(_) => ApiError::new(ErrorCode::NotFound, error.to_string()),
            NewsletterError::Store(e) => ApiError::internal(&e),
        }
    }
}

/// The newsletter with its next five fire times, when scheduled.
fn detailed(newsletter: &crate::newsletters::Newsletter) -> NewsletterView {
    let runs = next_runs(newsletter, chrono::Utc::now(), 5);
    let runs = newsletter.schedule.is_some().then_some(runs.as_slice());
    NewsletterView::new(newsletter, runs)
}

/// Create a newsletter (`slug` and `name` required).
#[utoipa::path(
    tag = "newsletters",
    operation_id = "create_newsletter",
    security(("api_token" = [])),
    request_body = NewsletterInput,
    responses(
        (status = 201, description = "Created, with its next runs", body = NewsletterView),
        JsonBodyErrors,
        Unauthorized,
        Conflict,
    )
)]
#[post("/api/newsletters")]
async fn create(
    _client: ApiClient,
    state: web::Data<AppState>,
    input: JsonObject<NewsletterInput>,
) -> Result<HttpResponse, ApiError> {
    let newsletter = create_newsletter(&state.store, input.into_inner()).await?;
    state.newsletters_changed();
    Ok(HttpResponse::Created().json(detailed(&newsletter)))
}

/// Every newsletter.
#[utoipa::path(
    tag = "newsletters",
    operation_id = "list_newsletters",
    security(("api_token" = [])),
    responses(
        (status = 200, description = "The newsletters", body = NewsletterList),
        Unauthorized,
    )
)]
#[get("/api/newsletters")]
async fn list(_client: ApiClient, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let newsletters = state.store.newsletters().all().await?;
    Ok(HttpResponse::Ok().json(NewsletterList {
        newsletters: newsletters
            .iter()
            .map(|n| NewsletterView::new(n, None))
            .collect(),
    }))
}

/// One newsletter, with its next five runs when scheduled.
#[utoipa::path(
    tag = "newsletters",
    operation_id = "show_newsletter",
    security(("api_token" = [])),
    params(("slug" = String, Path, description = "The newsletter's slug")),
    responses(
        (status = 200, description = "The newsletter", body = NewsletterView),
        Unauthorized,
        NotFound,
    )
)]
#[get("/api/newsletters/{slug}")]
async fn show(
    _client: ApiClient,
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let newsletter = find_newsletter(&state.store, &slug).await?;
    Ok(HttpResponse::Ok().json(detailed(&newsletter)))
}

/// Change some settings; fields left out keep their value.
#[utoipa::path(
    tag = "newsletters",
    operation_id = "update_newsletter",
    security(("api_token" = [])),
    params(("slug" = String, Path, description = "The newsletter's slug")),
    request_body = NewsletterInput,
    responses(
        (status = 200, description = "Updated", body = NewsletterView),
        JsonBodyErrors,
        Unauthorized,
        NotFound,
    )
)]
#[put("/api/newsletters/{slug}")]
async fn update(
    _client: ApiClient,
    state: web::Data<AppState>,
    slug: web::Path<String>,
    input: JsonObject<NewsletterInput>,
) -> Result<HttpResponse, ApiError> {
    let newsletter = update_newsletter(&state.store, &slug, input.into_inner()).await?;
    state.newsletters_changed();
    Ok(HttpResponse::Ok().json(detailed(&newsletter)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct BuildRequest {
    /// Send it at once instead of leaving a draft.
    #[serde(default)]
    send: bool,
    /// RFC 3339, in the future: build the draft now and send it then.
    #[serde(default)]
    send_at: Option<String>,
}

/// Build an issue now from the stories since the last one
/// (`{"send": true}` also sends it; `{"send_at": RFC3339}` leaves a draft
/// that is sent then). The body is optional, so it is read by hand: no
/// body means "build a draft".
#[utoipa::path(
    tag = "issues",
    operation_id = "build_issue",
    security(("api_token" = [])),
    params(("slug" = String, Path, description = "The newsletter's slug")),
    request_body(content = Option<BuildRequest>, content_type = "application/json"),
    responses(
        (status = 201, description = "Built (a draft, sending, or skipped when empty)", body = IssueView),
        JsonBodyErrors,
        Unauthorized,
        NotFound,
        Conflict,
    )
)]
#[post("/api/newsletters/{slug}/issues")]
async fn build_now(
    _client: ApiClient,
    state: web::Data<AppState>,
    slug: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let request: BuildRequest = if body.iter().all(u8::is_ascii_whitespace) {
        BuildRequest::default()
    } else {
        let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                ErrorCode::MalformedJson,
                format!("the body is not valid JSON: {e}"),
            )
        })?;
        object_body(value)?
    };
    // Checked before anything is built, so a bad time changes nothing.
    let send_at = match request.send_at.as_deref() {
        Some(_) if request.send => {
            return Err(ApiError::invalid_field(
                "send_at",
                "give either send or send_at, not both",
            ));
        }
        Some(raw) => {
            let at = timing::parse_rfc3339(raw)?;
            if at <= chrono::Utc::now() {
                return Err(ApiError::invalid_field("send_at", "must be in the future"));
            }
            Some(at)
        }
        None => None,
    };
    let newsletter = find_newsletter(&state.store, &slug).await?;
    let sender = SenderSetup::of(&state.settings);
    if request.send {
        // Refused before a draft is built, so a refusal changes nothing.
        sender.allow_issue().map_err(IssueError::from)?;
    }
    let issue = match build_issue(
        &state.store,
        &newsletter,
        None,
        state.settings.scheduling.first_issue_window,
    )
    .await?
    {
        BuildOutcome::Built(issue) if request.send => {
            send_issue(&state.store, &state.mail_waker, &sender, issue.id).await?
        }
        BuildOutcome::Built(issue) if send_at.is_some() => {
            let issue =
                timing::schedule_send(&state.store, issue.id, send_at, chrono::Utc::now()).await?;
            state.newsletters_changed();
            issue
        }
        BuildOutcome::Built(issue) | BuildOutcome::Skipped(issue) => issue,
        BuildOutcome::AlreadyExists(id) => {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!("issue {id} already exists for this slot"),
            ));
        }
    };
    Ok(HttpResponse::Created().json(issue_response(&state.store, issue).await?))
}
