//! What a hostile visitor must not learn or reach: `/metrics` (whose
//! signup counters would tell who is subscribed) is closed without its
//! token, and served openly only on its own address.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::StatusCode;

use crate::helpers::{Backend, TEST_METRICS_TOKEN, spawn_app, spawn_app_with};

async fn metrics_need_the_token_on_the_public_listener(backend: Backend) {
    let app = spawn_app(backend).await;
    // Without the token a signup's outcome cannot be read off the counters.
    let anonymous = app.get("/metrics").await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    assert!(
        !anonymous
            .text()
            .await
            .unwrap()
            .contains("gazette_signups_total")
    );
    let wrong = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("metrics-token-for-the-test")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(TEST_METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::OK);
    assert!(right.text().await.unwrap().contains("http_requests_total"));
    app.stop().await;

    // No token configured: there is no /metrics on the public listener.
    let app = spawn_app_with(backend, |s| s.metrics.token = None).await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(
        !response
            .text()
            .await
            .unwrap()
            .contains("http_requests_total")
    );
    app.stop().await;
}

async fn metrics_listen_serves_them_without_a_token(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.metrics.token = None;
        s.metrics.listen = Some("127.0.0.1:0".into());
    })
    .await;
    let port = app.metrics_port.expect("metrics.listen is bound");
    app.get("/health").await;
    let response = app
        .client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(text.contains(r#"route="/health""#), "{text}");
    // Only /metrics there: the site is not served on that address.
    let other = app
        .client
        .get(format!("http://127.0.0.1:{port}/subscribe"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn invented_methods_are_counted_as_other(backend: Backend) {
    let app = spawn_app(backend).await;
    let invented = reqwest::Method::from_bytes(b"GAZETTEPROBE").unwrap();
    app.client
        .request(invented, app.url("/health"))
        .send()
        .await
        .unwrap();
    let text = app.metrics().await;
    assert!(
        !text.contains("GAZETTEPROBE"),
        "a series per invented method"
    );
    assert!(text.contains(r#"method="other""#), "{text}");
    app.stop().await;
}

crate::both_databases!(
    metrics_need_the_token_on_the_public_listener,
    metrics_listen_serves_them_without_a_token,
    invented_methods_are_counted_as_other,
);
