//! What an admin handler answers when it cannot do what was asked: always
//! a page (or a redirect to the login), never JSON and never a bare 500.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, ResponseError};

use crate::web::pages::error_page;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No session: go and log in, then come back to `next`.
    #[error("login required")]
    LoginRequired { next: String },
    #[error("this page is for admins only")]
    AdminsOnly,
    #[error("the form's security token is missing or wrong")]
    BadCsrf,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    BadForm(String),
    /// An upload over its limit.
    #[error("{0}")]
    TooLarge(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AdminError {
    pub fn internal(error: &dyn std::fmt::Display) -> AdminError {
        AdminError::Internal(error.to_string())
    }
}

impl From<crate::store::StoreError> for AdminError {
    fn from(error: crate::store::StoreError) -> AdminError {
        AdminError::internal(&error)
    }
}

impl From<actix_session::SessionGetError> for AdminError {
    fn from(error: actix_session::SessionGetError) -> AdminError {
        AdminError::internal(&error)
    }
}

impl From<actix_session::SessionInsertError> for AdminError {
    fn from(error: actix_session::SessionInsertError) -> AdminError {
        AdminError::internal(&error)
    }
}

/// `/admin/login?next=…` for `next`, a path inside the admin.
pub fn login_url(next: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    format!("/admin/login?next={encoded}")
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            AdminError::LoginRequired { .. } => StatusCode::SEE_OTHER,
            AdminError::AdminsOnly | AdminError::BadCsrf => StatusCode::FORBIDDEN,
            AdminError::NotFound => StatusCode::NOT_FOUND,
            AdminError::BadForm(_) => StatusCode::BAD_REQUEST,
            AdminError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AdminError::Internal(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AdminError::LoginRequired { next } => HttpResponse::SeeOther()
                .insert_header((LOCATION, login_url(next)))
                .finish(),
            AdminError::AdminsOnly => error_page(
                StatusCode::FORBIDDEN,
                "Admins only",
                "This page is for admins. Ask an admin if you need something changed here.",
            ),
            AdminError::BadCsrf => error_page(
                StatusCode::FORBIDDEN,
                "This form has expired",
                "Nothing was changed. Go back, reload the page and try again.",
            ),
            AdminError::NotFound => error_page(
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing here. It may have been deleted.",
            ),
            AdminError::BadForm(problem) => {
                error_page(StatusCode::BAD_REQUEST, "Please check the form", problem)
            }
            AdminError::TooLarge(problem) => error_page(
                StatusCode::PAYLOAD_TOO_LARGE,
                "That file is too large",
                problem,
            ),
            AdminError::Internal(detail) => {
                tracing::error!(error = %detail, "admin page failed");
                error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Something went wrong",
                    "Gazette could not finish this. Nothing was lost; try again in a moment.",
                )
            }
        }
    }
}
