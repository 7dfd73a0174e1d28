//! Extractor configuration: every rejected body, query or path becomes an
//! [`ApiError`] with a stable code instead of actix's plain-text default.

use actix_web::error::{JsonPayloadError, UrlencodedError};
use actix_web::web;

use super::MAX_BODY_BYTES;
use super::errors::{ApiError, ErrorCode};

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_BODY_BYTES)
        .error_handler(|error, _req| {
            let api_error = match &error {
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => too_large(),
                JsonPayloadError::ContentType => ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    "send the body as application/json",
                ),
                JsonPayloadError::Deserialize(e) if e.is_data() => ApiError::new(
                    ErrorCode::InvalidInput,
                    format!("the JSON has the wrong shape: {e}"),
                ),
                other => ApiError::new(
                    ErrorCode::MalformedJson,
                    format!("the body is not valid JSON: {other}"),
                ),
            };
            api_error.into()
        })
}

pub fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(MAX_BODY_BYTES)
        .error_handler(|error, _req| {
            let api_error = match &error {
                UrlencodedError::Overflow { .. } => too_large(),
                UrlencodedError::ContentType => ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    "send the form as application/x-www-form-urlencoded",
                ),
                other => ApiError::new(
                    ErrorCode::InvalidInput,
                    format!("the form is not valid: {other}"),
                ),
            };
            api_error.into()
        })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _req| {
        ApiError::new(
            ErrorCode::InvalidInput,
            format!("the query string is not valid: {error}"),
        )
        .into()
    })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|error, _req| {
        ApiError::new(ErrorCode::NotFound, format!("no such resource: {error}")).into()
    })
}

fn too_large() -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("the body is larger than {} KiB", MAX_BODY_BYTES / 1024),
    )
}

/// A JSON body that must be an object. serde reads a struct from an array
/// too, field by field in order (`[true]` as `{"send": true}`, `[]` as
/// "nothing to change"), which no client means; the fuzzer found it. Size,
/// media type and syntax are checked by [`json_config`] as for `web::Json`.
pub struct JsonObject<T>(pub T);

impl<T> JsonObject<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for JsonObject<T> {
    type Error = actix_web::Error;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        let body = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let web::Json(value) = body.await?;
            object_body(value).map(JsonObject).map_err(Into::into)
        })
    }
}

/// `value` read as a `T`, refused unless it is a JSON object.
pub fn object_body<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            "the body must be a JSON object",
        ));
    }
    serde_json::from_value(value).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidInput,
            format!("the JSON has the wrong shape: {e}"),
        )
    })
}
