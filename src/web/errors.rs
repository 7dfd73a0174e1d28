//! Every error a client of `/api` can see, in one table: a stable snake_case
//! code and its HTTP status. Handlers return [`ApiError`]; this module turns it
//! into `{"error":{"code":…,"message":…,"fields":{…}}}`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidInput,
    MalformedJson,
    UnsupportedMediaType,
    PayloadTooLarge,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    /// An issue would go over SMTP before the sender and postal address
    /// are set.
    SenderNotSet,
    RateLimited,
    ServiceUnavailable,
    Internal,
}

impl ErrorCode {
    /// The table: code, status. Codes never change once published.
    pub const fn describe(self) -> (&'static str, StatusCode) {
        match self {
            ErrorCode::InvalidInput => ("invalid_input", StatusCode::UNPROCESSABLE_ENTITY),
            ErrorCode::MalformedJson => ("malformed_json", StatusCode::BAD_REQUEST),
            ErrorCode::UnsupportedMediaType => {
                ("unsupported_media_type", StatusCode::UNSUPPORTED_MEDIA_TYPE)
            }
            ErrorCode::PayloadTooLarge => ("payload_too_large", StatusCode::PAYLOAD_TOO_LARGE),
            ErrorCode::Unauthorized => ("unauthorized", StatusCode::UNAUTHORIZED),
            ErrorCode::Forbidden => ("forbidden", StatusCode::FORBIDDEN),
            ErrorCode::NotFound => ("not_found", StatusCode::NOT_FOUND),
            ErrorCode::MethodNotAllowed => ("method_not_allowed", StatusCode::METHOD_NOT_ALLOWED),
            ErrorCode::Conflict => ("conflict", StatusCode::CONFLICT),
            ErrorCode::SenderNotSet => ("sender_not_set", StatusCode::CONFLICT),
            ErrorCode::RateLimited => ("rate_limited", StatusCode::TOO_MANY_REQUESTS),
            ErrorCode::ServiceUnavailable => {
                ("service_unavailable", StatusCode::SERVICE_UNAVAILABLE)
            }
            ErrorCode::Internal => ("internal_error", StatusCode::INTERNAL_SERVER_ERROR),
        }
    }

    pub const fn as_str(self) -> &'static str {
        self.describe().0
    }

    pub const fn status(self) -> StatusCode {
        self.describe().1
    }

    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::InvalidInput,
        ErrorCode::MalformedJson,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::PayloadTooLarge,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::SenderNotSet,
        ErrorCode::RateLimited,
        ErrorCode::ServiceUnavailable,
        ErrorCode::Internal,
    ];
}

#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub fields: BTreeMap<String, String>,
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            fields: BTreeMap::new(),
            retry_after_secs: None,
        }
    }

    /// A 422 naming the field that is wrong and why.
    pub fn invalid_field(field: &str, problem: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::InvalidInput, "the request has invalid fields")
            .with_field(field, problem)
    }

    pub fn with_field(mut self, field: &str, problem: impl Into<String>) -> ApiError {
        self.fields.insert(field.to_string(), problem.into());
        self
    }

    pub fn rate_limited(retry_after_secs: u64) -> ApiError {
        ApiError {
            retry_after_secs: Some(retry_after_secs.max(1)),
            ..ApiError::new(ErrorCode::RateLimited, "too many requests, try again later")
        }
    }

    /// For failures the client cannot fix: the cause is logged, never sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "request failed");
        ApiError::new(ErrorCode::Internal, "something went wrong on our side")
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl utoipa::PartialSchema for ErrorCode {
    /// The codes come from [`ErrorCode::ALL`], so the description lists
    /// exactly the codes this table defines.
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(ErrorCode::ALL.iter().map(|code| code.as_str())))
            .description(Some(
                "Stable, machine-readable; never changes once published.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for ErrorCode {}

/// The body of every `/api` error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = ApiErrorBody)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// For people: may change wording between versions.
    pub message: String,
    /// The invalid fields and what is wrong with each (422 only).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let Some(secs) = self.retry_after_secs {
            response.insert_header(("Retry-After", secs.to_string()));
        }
        response.json(ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message.clone(),
                fields: self.fields.clone(),
            },
        })
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> ApiError {
        ApiError::internal(&error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let name = code.as_str();
            assert!(seen.insert(name), "duplicate code {name}");
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            assert!(code.status().is_client_error() || code.status().is_server_error());
        }
    }
}
