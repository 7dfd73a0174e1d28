//! `/api/issues/{id}`: read an issue with its delivery counts, edit a
//! draft, send, cancel, test-send, and preview it (HTML, text, or a JSON
//! report of its size against Gmail's clipping limit).

use actix_web::{HttpResponse, get, post, put, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::auth::ApiClient;
use super::openapi::{Conflict, InvalidQuery, JsonBodyErrors, NotFound, RateLimited, Unauthorized};
use super::views::IssueView;
use crate::issues::edit::{DraftEdit, edit_draft};
use crate::issues::render::{self, GMAIL_CLIP_BYTES};
use crate::issues::send::{TestSendContext, cancel_issue, send_issue, send_test};
use crate::issues::sender::SenderSetup;
use crate::issues::{Issue, IssueError, IssueStatus};
use crate::store::Store;
use crate::web::AppState;
use crate::web::errors::{ApiError, ErrorCode};
use crate::web::extractors::JsonObject;

pub fn routes(api: &mut ServiceConfig) {
    api.service(show)
        .service(edit)
        .service(send)
        .service(cancel)
        .service(test_send)
        .service(preview);
}

impl From<IssueError> for ApiError {
    fn from(error: IssueError) -> ApiError {
        match error {
            IssueError::NotFound(_) => ApiError::new(ErrorCode::NotFound, error.to_string()),
            IssueError::NotDraft(_) | IssueError::WrongStatus(..) => {
                ApiError::new(ErrorCode::Conflict, error.to_string())
            }
            IssueError::Invalid(invalid) => {
                let mut api =
                    ApiError::new(ErrorCode::InvalidInput, "the request has invalid fields");
                for (field, problem) in invalid.fields {
                    api = api.with_field(field, problem);
                }
                api
            }
            IssueError::Newsletter(e) => e.into(),
            IssueError::Render(e) => ApiError::internal(&e),
            IssueError::Store(e) => ApiError::internal(&e),
            IssueError::SenderNotSet(e) => ApiError::new(ErrorCode::SenderNotSet, e.to_string()),
            IssueError::TooManyTestRecipients(e) => {
                ApiError::new(ErrorCode::RateLimited, e.to_string())
            }
        }
    }
}

/// The issue as JSON, with its stories and counts. A sending issue whose
/// rows are all done is marked sent on the way (cheap, and it means the
/// status is right even before a worker gets to it).
pub async fn issue_response(store: &Store, mut issue: Issue) -> Result<IssueView, IssueError> {
    if issue.status == IssueStatus::Sending
        && store
            .issues()
            .mark_sent_if_done(issue.id, crate::store::now_ms())
            .await?
    {
        issue = store
            .issues()
            .by_id(issue.id)
            .await?
            .ok_or(IssueError::NotFound(issue.id))?;
    }
    let newsletter = store
        .newsletters()
        .by_id(issue.newsletter_id)
        .await?
        .ok_or(IssueError::NotFound(issue.id))?;
    let stories = store.stories().of_issue(issue.id).await?;
    let counts = store.issues().delivery_counts(issue.id).await?;
    let events = store.mail_events().counts_of_issue(issue.id).await?;
    Ok(IssueView::new(
        &issue,
        &newsletter.slug,
        &stories,
        counts,
        events,
    ))
}

async fn find(store: &Store, id: i64) -> Result<Issue, IssueError> {
    store
        .issues()
        .by_id(id)
        .await?
        .ok_or(IssueError::NotFound(id))
}

/// An issue with its stories and delivery counts.
#[utoipa::path(
    tag = "issues",
    operation_id = "show_issue",
    security(("api_token" = [])),
    params(("id" = i64, Path, description = "The issue's id")),
    responses(
        (status = 200, description = "The issue", body = IssueView),
        Unauthorized,
        NotFound,
    )
)]
#[get("/api/issues/{id}")]
async fn show(
    _client: ApiClient,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let issue = find(&state.store, *id).await?;
    Ok(HttpResponse::Ok().json(issue_response(&state.store, issue).await?))
}

/// Edit a draft: subject, preheader, intro, story order.
#[utoipa::path(
    tag = "issues",
    operation_id = "edit_issue",
    security(("api_token" = [])),
    params(("id" = i64, Path, description = "The issue's id")),
    request_body = DraftEdit,
    responses(
        (status = 200, description = "Edited", body = IssueView),
        JsonBodyErrors,
        Unauthorized,
        NotFound,
        Conflict,
    )
)]
#[put("/api/issues/{id}")]
async fn edit(
    _client: ApiClient,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    input: JsonObject<DraftEdit>,
) -> Result<HttpResponse, ApiError> {
    let issue = edit_draft(&state.store, *id, input.into_inner()).await?;
    Ok(HttpResponse::Ok().json(issue_response(&state.store, issue).await?))
}

/// Send a draft to every confirmed subscriber of its newsletter.
#[utoipa::path(
    tag = "issues",
    operation_id = "send_issue",
    security(("api_token" = [])),
    params(("id" = i64, Path, description = "The issue's id")),
    responses(
        (status = 202, description = "Queued for delivery", body = IssueView),
        Unauthorized,
        NotFound,
        Conflict,
    )
)]
#[post("/api/issues/{id}/send")]
async fn send(
    _client: ApiClient,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let sender = SenderSetup::of(&state.settings);
    let issue = send_issue(&state.store, &state.mail_waker, &sender, *id).await?;
    Ok(HttpResponse::Accepted().json(issue_response(&state.store, issue).await?))
}

/// Cancel a draft or the unsent rest of a sending issue.
#[utoipa::path(
    tag = "issues",
    operation_id = "cancel_issue",
    security(("api_token" = [])),
    params(("id" = i64, Path, description = "The issue's id")),
    responses(
        (status = 200, description = "Cancelled", body = IssueView),
        Unauthorized,
        NotFound,
        Conflict,
    )
)]
#[post("/api/issues/{id}/cancel")]
async fn cancel(
    _client: ApiClient,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let issue = cancel_issue(&state.store, *id).await?;
    Ok(HttpResponse::Ok().json(issue_response(&state.store, issue).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TestRequest {
    /// Where the test copy goes.
    #[schema(format = Email)]
    email: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum TestSendStatus {
    Queued,
}

#[derive(Debug, Serialize, ToSchema)]
struct TestQueued {
    status: TestSendStatus,
    delivery_id: i64,
}

/// Send one test copy of the issue to an address: any user's address, or
/// at most 20 other addresses an hour.
#[utoipa::path(
    tag = "issues",
    operation_id = "test_send_issue",
    security(("api_token" = [])),
    params(("id" = i64, Path, description = "The issue's id")),
    request_body = TestRequest,
    responses(
        (status = 202, description = "Queued", body = TestQueued),
        JsonBodyErrors,
        Unauthorized,
        NotFound,
        RateLimited,
    )
)]
#[post("/api/issues/{id}/test")]
async fn test_send(
    _client: ApiClient,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    input: JsonObject<TestRequest>,
) -> Result<HttpResponse, ApiError> {
    let context = TestSendContext {
        store: &state.store,
        templates: &state.templates,
        settings: &state.settings,
        links: &state.links,
        waker: &state.mail_waker,
        recipients: &state.test_recipients,
    };
    let delivery_id = send_test(context, *id, &input.0.email).await?;
    Ok(HttpResponse::Accepted().json(TestQueued {
        status: TestSendStatus::Queued,
        delivery_id,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PreviewQuery {
    /// `html` (default), `text` or `json`.
    #[param(pattern = "^(html|text|json)$")]
    format: Option<String>,
}

/// The size report of a preview: Gmail clips an HTML part over 102 KB.
#[derive(Debug, Serialize, ToSchema)]
struct PreviewReport {
    subject: String,
    html_bytes: usize,
    text_bytes: usize,
    gmail_clip_bytes: usize,
    clipped_by_gmail: bool,
    html: String,
    text: String,
}

/// The issue as an editor sees it: HTML, plain text, or a JSON report.
#[utoipa::path(
    tag = "issues",
    operation_id = "preview_issue",
    security(("api_token" = [])),
    params(("id" = i64, Path, description = "The issue's id"), PreviewQuery),
    responses(
        (status = 200, description = "The preview",
            content(
                (String = "text/html"),
                (String = "text/plain"),
                (PreviewReport = "application/json"),
            ),
            headers(("X-Gazette-Html-Bytes" = usize, description = "Size of the HTML part (html format)"))),
        Unauthorized,
        NotFound,
        InvalidQuery,
    )
)]
#[get("/api/issues/{id}/preview")]
async fn preview(
    _client: ApiClient,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: web::Query<PreviewQuery>,
) -> Result<HttpResponse, ApiError> {
    let content = state
        .store
        .issue_content(*id)
        .await?
        .ok_or(IssueError::NotFound(*id))?;
    let template = render::render_digest(&state.templates, &state.settings, &content, false)
        .map_err(IssueError::from)?;
    let email = render::editor_copy(&template, &state.links);
    let html_bytes = email.html.len();
    match query.format.as_deref().unwrap_or("html") {
        "html" => Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header(("X-Gazette-Html-Bytes", html_bytes.to_string()))
            .body(email.html)),
        "text" => Ok(HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(email.text)),
        "json" => Ok(HttpResponse::Ok().json(PreviewReport {
            subject: email.subject,
            html_bytes,
            text_bytes: email.text.len(),
            gmail_clip_bytes: GMAIL_CLIP_BYTES,
            clipped_by_gmail: html_bytes > GMAIL_CLIP_BYTES,
            html: email.html,
            text: email.text,
        })),
        _ => Err(ApiError::invalid_field(
            "format",
            "must be html, text or json",
        )),
    }
}
