//! The page frame shared by every public page and the friendly error pages:
//! errors on pages are pages, never a bare status or JSON.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use maud::{DOCTYPE, Markup, html};

const PAGE_CSS: &str = include_str!("page.css");

/// Wraps `body` in Gazette's page frame.
pub fn frame(lang: &str, title: &str, body: Markup) -> Markup {
    frame_with_head(lang, title, html! {}, body)
}

/// A page with more in its head (a feed's link).
pub fn frame_with_head(lang: &str, title: &str, head: Markup, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (maud::PreEscaped(PAGE_CSS)) }
                (head)
            }
            body {
                main class="card" { (body) }
            }
        }
    }
}

pub fn error_page(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    let page = frame(
        "en",
        title,
        html! {
            h1 { (title) }
            p { (message) }
        },
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(page.into_string())
}

/// The answer for a path nobody serves: JSON under `/api/` (a 405 naming
/// the allowed methods when the path exists with another method), a page
/// elsewhere.
pub async fn not_found(req: actix_web::HttpRequest) -> HttpResponse {
    use super::errors::{ApiError, ErrorCode};
    use actix_web::ResponseError;
    if req.path().starts_with("/api/") {
        let allowed = super::api::openapi::allowed_methods(req.path());
        if allowed.is_empty() {
            return ApiError::new(ErrorCode::NotFound, "no such endpoint").error_response();
        }
        let allow = allowed.join(", ");
        let mut response = ApiError::new(
            ErrorCode::MethodNotAllowed,
            format!("this endpoint takes {allow}"),
        )
        .error_response();
        if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&allow) {
            response
                .headers_mut()
                .insert(actix_web::http::header::ALLOW, value);
        }
        response
    } else {
        error_page(
            StatusCode::NOT_FOUND,
            "Page not found",
            "We could not find that page. Check the link, or go back to the site.",
        )
    }
}
