//! `/api/newsletters`: create, list, read (with the next fire times), update,
//! and build an issue now.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::auth::ApiClient;
use super::issues::issue_response;
use super::views::NewsletterView;
use crate::issues::{BuildOutcome, build_issue, send::send_issue};
use crate::newsletters::{
    NewsletterError, NewsletterInput, create_newsletter, find_newsletter, next_runs,
    update_newsletter,
};
use crate::web::AppState;
use crate::web::errors::{ApiError, ErrorCode};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/newsletters", web::post().to(create))
        .route("/api/newsletters", web::get().to(list))
        .route("/api/newsletters/{slug}", web::get().to(show))
        .route("/api/newsletters/{slug}", web::put().to(update))
        .route("/api/newsletters/{slug}/issues", web::post().to(build_now));
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

async fn create(
    _client: ApiClient,
    state: web::Data<AppState>,
    input: web::Json<NewsletterInput>,
) -> Result<HttpResponse, ApiError> {
    let newsletter = create_newsletter(&state.store, input.into_inner()).await?;
    state.scheduler.schedules_changed();
    Ok(HttpResponse::Created().json(detailed(&newsletter)))
}

async fn list(_client: ApiClient, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let newsletters = state.store.newsletters().await?;
    let views: Vec<NewsletterView> = newsletters
        .iter()
        .map(|n| NewsletterView::new(n, None))
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "newsletters": views })))
}

async fn show(
    _client: ApiClient,
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let newsletter = find_newsletter(&state.store, &slug).await?;
    Ok(HttpResponse::Ok().json(detailed(&newsletter)))
}

async fn update(
    _client: ApiClient,
    state: web::Data<AppState>,
    slug: web::Path<String>,
    input: web::Json<NewsletterInput>,
) -> Result<HttpResponse, ApiError> {
    let newsletter = update_newsletter(&state.store, &slug, input.into_inner()).await?;
    state.scheduler.schedules_changed();
    Ok(HttpResponse::Ok().json(detailed(&newsletter)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BuildRequest {
    #[serde(default)]
    send: bool,
}

/// Builds an issue now (`{"send": true}` also sends it). The body is
/// optional, so it is read by hand: no body means "build a draft".
async fn build_now(
    _client: ApiClient,
    state: web::Data<AppState>,
    slug: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let request: BuildRequest = if body.iter().all(u8::is_ascii_whitespace) {
        BuildRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidInput,
                format!("the JSON has the wrong shape: {e}"),
            )
        })?
    };
    let newsletter = find_newsletter(&state.store, &slug).await?;
    let issue = match build_issue(&state.store, &newsletter, None).await? {
        BuildOutcome::Built(issue) if request.send => {
            send_issue(&state.store, &state.mail_waker, issue.id).await?
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
