//! Prometheus metrics: a recorder installed once per process, a middleware
//! that counts requests and times them by route pattern (not by raw path, so
//! tokens in URLs never become label values; any method outside HTTP's own
//! is `other`, so invented methods make no new series), and `GET /metrics`.
//!
//! `/metrics` is closed to the public: the signup counters move by one per
//! signup and outcome, so reading them before and after submitting someone's
//! address would tell whether that address is subscribed. On the public
//! listener it answers only with `Authorization: Bearer <metrics.token>`
//! (and is not there at all without a token); `metrics.listen` serves it
//! without a token on an address of its own, for a Prometheus on the
//! machine ([`metrics_only`]).

use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Error, HttpRequest, HttpResponse, web};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use super::AppState;

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The process-wide Prometheus recorder. Several apps in one process (tests)
/// share it, which is what Prometheus expects of a process anyway.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            // only fails on an empty bucket list, which LATENCY_BUCKETS is not
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Fails only when a recorder is already installed, in which case
        // this handle still renders what it records (nothing).
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

pub async fn record_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    let response = next.call(req).await?;
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = response.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    Ok(response)
}

/// The method as a label: HTTP's own methods by name, anything else
/// `other`.
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::HEAD, "HEAD"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::DELETE, "DELETE"),
        (Method::PATCH, "PATCH"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    KNOWN
        .iter()
        .find(|(known, _)| known == method)
        .map_or("other", |(_, label)| label)
}

/// `GET /metrics` on the public listener: only with the bearer token.
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(token) = &state.settings.metrics.token else {
        return super::pages::not_found(req).await;
    };
    let presented = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or("");
    let expected = token.expose_secret().trim().as_bytes();
    if !bool::from(presented.trim().as_bytes().ct_eq(expected)) {
        return HttpResponse::Unauthorized()
            .insert_header((actix_web::http::header::WWW_AUTHENTICATE, "Bearer"))
            .content_type("text/plain; charset=utf-8")
            .body("metrics need the bearer token (metrics.token)\n");
    }
    render()
}

/// `GET /metrics` on the `metrics.listen` address: open to whoever can
/// reach that address.
pub async fn metrics_only() -> HttpResponse {
    render()
}

fn render() -> HttpResponse {
    let handle = prometheus();
    handle.run_upkeep();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        let invented = Method::from_bytes(b"BREW").unwrap_or(Method::GET);
        assert_eq!(method_label(&invented), "other");
    }
}
