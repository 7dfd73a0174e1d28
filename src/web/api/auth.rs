//! [`ApiClient`]: the extractor every `/api` editor handler takes, so none
//! can forget the check. It reads `Authorization: Bearer TOKEN`, looks the
//! token's hash up, and answers 401 `unauthorized` with
//! `WWW-Authenticate: Bearer` when it is missing, unknown or revoked.

use std::fmt;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use actix_web::web::Data;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError};
use futures_util::future::LocalBoxFuture;

use crate::web::AppState;
use crate::web::errors::{ApiError, ErrorCode};

/// A request authenticated with an API token.
#[derive(Debug, Clone)]
pub struct ApiClient {
    pub token_id: i64,
    pub token_name: String,
}

/// The 401 (or, when the database fails, the 500) of a refused request.
#[derive(Debug)]
pub enum AuthError {
    Unauthorized(&'static str),
    Internal(ApiError),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::Unauthorized(message) => f.write_str(message),
            AuthError::Internal(error) => error.fmt(f),
        }
    }
}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            AuthError::Unauthorized(_) => ErrorCode::Unauthorized.status(),
            AuthError::Internal(error) => error.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AuthError::Unauthorized(message) => {
                let mut response =
                    ApiError::new(ErrorCode::Unauthorized, *message).error_response();
                response
                    .headers_mut()
                    .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                response
            }
            AuthError::Internal(error) => error.error_response(),
        }
    }
}

/// The token of an `Authorization: Bearer …` header (scheme case-insensitive).
fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|token| !token.is_empty())
}

impl FromRequest for ApiClient {
    type Error = AuthError;
    type Future = LocalBoxFuture<'static, Result<ApiClient, AuthError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let state = req.app_data::<Data<AppState>>().cloned();
        let token = bearer_token(req);
        Box::pin(async move {
            let Some(state) = state else {
                return Err(AuthError::Internal(ApiError::internal(&"no app state")));
            };
            let Some(token) = token else {
                return Err(AuthError::Unauthorized(
                    "send an API token as Authorization: Bearer TOKEN",
                ));
            };
            let found = crate::api_tokens::token_by_secret(&state.store, &token)
                .await
                .map_err(|e| AuthError::Internal(ApiError::internal(&e)))?;
            let Some(found) = found else {
                return Err(AuthError::Unauthorized(
                    "the API token is unknown or revoked",
                ));
            };
            // A failed bookkeeping write must not refuse a valid request.
            if let Err(error) = crate::api_tokens::record_use(&state.store, &found).await {
                tracing::warn!(error = %error, "cannot record API token use");
            }
            Ok(ApiClient {
                token_id: found.id,
                token_name: found.name,
            })
        })
    }
}
