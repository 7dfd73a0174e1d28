//! `POST /api/subscriptions`: `{"email", "name"?, "newsletters"?: [slug]}`
//! → `202 {"status":"pending_confirmation"}` for every well-formed address,
//! whatever its past (new, pending, confirmed, unsubscribed): the answer,
//! body and headers, is the same, so the API cannot be used to learn who is
//! subscribed. The body is read as JSON and then field by field, so a value
//! of the wrong type is a 422 naming that field.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::openapi::{JsonBodyErrors, RateLimited};

use crate::subscriptions::signup::{self, SignupError};
use crate::subscriptions::{
    ConsentSource, FieldError, NewsletterSlug, SignupRequest, SubscriberEmail, SubscriberName,
};
use crate::web::AppState;
use crate::web::client_info::ClientInfo;
use crate::web::errors::{ApiError, ErrorCode};
use crate::web::rate_limit::SignupLimits;

const FIELDS: [&str; 3] = ["email", "name", "newsletters"];

/// The body, as the description shows it. The handler reads the JSON field
/// by field instead (see [`parse`]), to name every wrong field at once.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct SubscriptionRequest {
    /// An address that can receive mail from the internet.
    #[schema(format = Email, max_length = 254)]
    email: String,
    #[schema(max_length = 100)]
    name: Option<String>,
    /// Slugs; the default newsletter when absent or empty.
    newsletters: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum SignupStatus {
    PendingConfirmation,
}

#[derive(Serialize, ToSchema)]
struct SignupAccepted {
    status: SignupStatus,
}

/// Subscribe an address (double opt-in).
///
/// The same answer for every well-formed address, new or known, so the API
/// cannot tell who is subscribed. A confirmation mail goes out unless the
/// address is already confirmed.
#[utoipa::path(
    tag = "subscriptions",
    operation_id = "subscribe",
    request_body = SubscriptionRequest,
    responses(
        (status = 202, description = "Accepted; confirm by email", body = SignupAccepted),
        JsonBodyErrors,
        RateLimited,
    )
)]
#[post("/api/subscriptions")]
pub async fn create(
    state: web::Data<AppState>,
    limits: web::Data<SignupLimits>,
    client: ClientInfo,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    limits
        .check_ip(client.ip)
        .map_err(|limited| ApiError::rate_limited(limited.retry_after_secs()))?;
    let (email, name, newsletters) = parse(body.into_inner())?;
    limits
        .check_address(&email.key())
        .map_err(|limited| ApiError::rate_limited(limited.retry_after_secs()))?;
    let request = SignupRequest {
        email,
        name,
        newsletters,
        source: ConsentSource::Api,
        client: client.meta(),
    };
    match signup::request_signup(&state.signups, request).await {
        Ok(_) => Ok(
            HttpResponse::build(StatusCode::ACCEPTED).json(SignupAccepted {
                status: SignupStatus::PendingConfirmation,
            }),
        ),
        Err(SignupError::Invalid(error)) => Err(invalid(&[error])),
        Err(SignupError::Store(error)) => Err(ApiError::internal(&error)),
        Err(SignupError::Stopped) => Err(ApiError::new(
            ErrorCode::ServiceUnavailable,
            "the server is shutting down, try again",
        )),
    }
}

type Parsed = (SubscriberEmail, Option<SubscriberName>, Vec<NewsletterSlug>);

/// Every field is checked, so one answer lists every problem.
fn parse(body: Value) -> Result<Parsed, ApiError> {
    let Value::Object(object) = body else {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            "the body must be a JSON object",
        ));
    };
    let mut errors: Vec<FieldError> = Vec::new();
    for key in object.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
        errors.push(FieldError {
            field: "body",
            problem: format!("unknown field {key:?}; expected email, name, newsletters"),
        });
    }
    let email = match object.get("email") {
        Some(Value::String(raw)) => SubscriberEmail::parse(raw).map_err(|e| errors.push(e)).ok(),
        None | Some(Value::Null) => {
            errors.push(field_error("email", "is required"));
            None
        }
        Some(_) => {
            errors.push(field_error("email", "must be a string"));
            None
        }
    };
    let name = optional_string(&object, "name", &mut errors)
        .and_then(|raw| SubscriberName::parse(&raw).map_err(|e| errors.push(e)).ok())
        .flatten();
    let newsletters = match object.get("newsletters") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| match item {
                Value::String(raw) => NewsletterSlug::parse(raw).map_err(|e| errors.push(e)).ok(),
                _ => {
                    errors.push(field_error("newsletters", "must be a list of slugs"));
                    None
                }
            })
            .collect(),
        Some(_) => {
            errors.push(field_error("newsletters", "must be a list of slugs"));
            Vec::new()
        }
    };
    match (email, errors.is_empty()) {
        (Some(email), true) => Ok((email, name, newsletters)),
        _ => Err(invalid(&errors)),
    }
}

fn optional_string(
    object: &Map<String, Value>,
    key: &'static str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match object.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(raw)) => Some(raw.clone()),
        Some(_) => {
            errors.push(field_error(key, "must be a string"));
            None
        }
    }
}

fn field_error(field: &'static str, problem: &str) -> FieldError {
    FieldError {
        field,
        problem: problem.to_string(),
    }
}

fn invalid(errors: &[FieldError]) -> ApiError {
    errors.iter().fold(
        ApiError::new(ErrorCode::InvalidInput, "the request has invalid fields"),
        |api, error| {
            // the first problem of a field is the one to fix first
            if api.fields.contains_key(error.field) {
                api
            } else {
                api.with_field(error.field, error.problem.clone())
            }
        },
    )
}
