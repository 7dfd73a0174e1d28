//! The OpenAPI description of `/api`, served at `GET /api/openapi.json`.
//!
//! Paths and schemas are not listed here: they are collected from the
//! `service(…)` calls in [`super::register`], which only accepts handlers
//! described with `#[utoipa::path]`, so a route cannot be served without
//! being described. This module adds what is not tied to one handler: the
//! document's info, the bearer security scheme, and the error responses
//! shared by many routes.

use std::sync::OnceLock;

use actix_web::{App, HttpResponse, get};
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{IntoResponses, Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::web::errors::{ApiError, ErrorBody};

/// The security scheme each editor route names in `security(("api_token" = []))`
/// (the macro wants a literal there).
pub const BEARER: &str = "api_token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Gazette API",
        description = "Subscriptions (public) and the editor API (stories, newsletters, \
                       issues, feeds; `Authorization: Bearer TOKEN`, tokens from \
                       `gazette token create NAME` or /admin/settings). Every error is \
                       `{\"error\":{\"code\",\"message\",\"fields\"?}}` with a stable `code`.",
        license(name = "MIT OR Apache-2.0"),
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerScheme),
    tags(
        (name = "subscriptions", description = "Public signup"),
        (name = "stories", description = "What a CMS pushes"),
        (name = "newsletters", description = "Newsletters and their schedules"),
        (name = "issues", description = "Digests: build, edit, send"),
        (name = "feeds", description = "RSS, Atom and JSON Feed sources"),
        (name = "meta", description = "This description"),
    )
)]
struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.description = Some("An API token, sent as `Authorization: Bearer TOKEN`".into());
        components.add_security_scheme(BEARER, SecurityScheme::Http(scheme));
    }
}

/// The whole description: the document above plus every path and schema
/// registered by [`super::register`] (on a throw-away app, so this is
/// exactly what the server registers).
pub fn description() -> OpenApiDoc {
    let (_, paths) = App::new()
        .into_utoipa_app()
        .configure(super::register)
        .split_for_parts();
    let mut doc = ApiDoc::openapi();
    doc.merge(paths);
    doc
}

/// Built once per process: it never changes while the server runs.
fn cached() -> &'static (OpenApiDoc, Result<String, String>) {
    static CACHE: OnceLock<(OpenApiDoc, Result<String, String>)> = OnceLock::new();
    CACHE.get_or_init(|| {
        let doc = description();
        let json = doc.to_json().map_err(|e| e.to_string());
        (doc, json)
    })
}

/// The methods the description lists for a concrete path such as
/// `/api/issues/7` (upper case; empty when no described path matches), so
/// a wrong method gets a 405 naming the right ones rather than a 404.
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let matches = |template: &str| {
        let parts: Vec<&str> = template.split('/').collect();
        parts.len() == segments.len()
            && parts.iter().zip(&segments).all(|(part, segment)| {
                part == segment || (part.starts_with('{') && !segment.is_empty())
            })
    };
    let mut methods = Vec::new();
    for (template, item) in &cached().0.paths.paths {
        if !matches(template) {
            continue;
        }
        let listed = [
            ("GET", item.get.is_some()),
            ("PUT", item.put.is_some()),
            ("POST", item.post.is_some()),
            ("DELETE", item.delete.is_some()),
            ("PATCH", item.patch.is_some()),
        ];
        methods.extend(listed.iter().filter(|(_, on)| *on).map(|(m, _)| *m));
    }
    methods
}

/// The OpenAPI 3.1 description of this API (public, no token needed).
#[utoipa::path(
    tag = "meta",
    operation_id = "openapi_document",
    responses((status = 200, description = "The OpenAPI document", body = Object, content_type = "application/json"))
)]
#[get("/api/openapi.json")]
pub async fn document() -> Result<HttpResponse, ApiError> {
    match &cached().1 {
        Ok(json) => Ok(HttpResponse::Ok()
            .content_type("application/json")
            .body(json.clone())),
        Err(error) => Err(ApiError::internal(error)),
    }
}

// The error answers shared by many routes; each names the codes it can
// carry. Listed with `responses(…)` beside each handler. They only describe
// responses ([`ApiError`] builds the real ones), hence `dead_code`.

/// Errors of any route that reads a JSON body.
#[allow(dead_code)]
#[derive(IntoResponses)]
pub enum JsonBodyErrors {
    /// `malformed_json`: the body is not JSON.
    #[response(status = 400)]
    MalformedJson(ErrorBody),
    /// `payload_too_large`: the body is over 64 KiB.
    #[response(status = 413)]
    PayloadTooLarge(ErrorBody),
    /// `unsupported_media_type`: the body is not `application/json`.
    #[response(status = 415)]
    UnsupportedMediaType(ErrorBody),
    /// `invalid_input`: a field is missing, unknown, of the wrong type or
    /// invalid; `fields` names each.
    #[response(status = 422)]
    InvalidInput(ErrorBody),
}

/// `unauthorized`: no API token, or an unknown or revoked one.
#[allow(dead_code)]
#[derive(IntoResponses)]
#[response(status = 401, headers(("WWW-Authenticate" = String, description = "Bearer")))]
pub struct Unauthorized(ErrorBody);

/// `not_found`: no such resource (a malformed id is not found too).
#[allow(dead_code)]
#[derive(IntoResponses)]
#[response(status = 404)]
pub struct NotFound(ErrorBody);

/// `conflict`: the request clashes with the current state;
/// `sender_not_set`: an issue would go over SMTP before `mail.from.address`
/// and `site.postal_address` are set.
#[allow(dead_code)]
#[derive(IntoResponses)]
#[response(status = 409)]
pub struct Conflict(ErrorBody);

/// `invalid_input`: a query parameter is invalid; `fields` names it.
#[allow(dead_code)]
#[derive(IntoResponses)]
#[response(status = 422)]
pub struct InvalidQuery(ErrorBody);

/// `rate_limited`: too many requests from this client or for this address.
#[allow(dead_code)]
#[derive(IntoResponses)]
#[response(status = 429, headers(("Retry-After" = u64, description = "Seconds to wait")))]
pub struct RateLimited(ErrorBody);
