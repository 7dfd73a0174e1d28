//! The service skeleton: health, metrics, error shapes, body limit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::helpers::{Backend, spawn_app};

async fn health_reports_database_ok(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.get("/health").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ok", "database": "ok"}));
    app.stop().await;
}

async fn metrics_count_requests_by_route(backend: Backend) {
    let app = spawn_app(backend).await;
    app.get("/health").await;
    let text = app.metrics().await;
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/health",status="200"}"#),
        "{text}"
    );
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "{text}"
    );
    app.stop().await;
}

/// The value of a counter line of `/metrics` (0 when not there yet).
fn counter(metrics: &str, line_start: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(line_start))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn metrics_count_signups_by_outcome(backend: Backend) {
    let app = spawn_app(backend).await;
    let queued = r#"gazette_signups_total{outcome="confirmation_queued"} "#;
    let again = r#"gazette_signups_total{outcome="confirmation_recently_sent"} "#;
    let before = app.metrics().await;
    let body = serde_json::json!({"email": "counted@example.org"});
    for _ in 0..2 {
        let response = app.post_json("/api/subscriptions", &body).await;
        assert_eq!(response.status(), 202);
    }
    let after = app.metrics().await;
    // other tests of this process may sign up at the same time: at least
    assert!(
        counter(&after, queued) >= counter(&before, queued) + 1.0,
        "{after}"
    );
    assert!(
        counter(&after, again) >= counter(&before, again) + 1.0,
        "{after}"
    );
    app.stop().await;
}

async fn unknown_api_path_is_json_404(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.get("/api/nothing-here").await;
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    let page = app.get("/nothing-here").await;
    assert_eq!(page.status(), 404);
    assert!(page.text().await.unwrap().contains("<html"));
    app.stop().await;
}

async fn oversized_body_is_refused_with_413(backend: Backend) {
    let app = spawn_app(backend).await;
    let big = "x".repeat(65 * 1024);
    let response = app
        .client
        .post(app.url("/api/subscriptions"))
        .header("content-type", "application/json")
        .body(format!("{{\"email\":\"{big}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");
    app.stop().await;
}

async fn migrations_are_idempotent_across_restarts(backend: Backend) {
    let app = spawn_app(backend).await;
    // A second instance on the same database migrates again without error.
    let store = gazette::store::Store::connect(&app.settings.database)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let secret_a = store.secret("test").await.unwrap();
    let secret_b = app.store.secret("test").await.unwrap();
    assert_eq!(
        secret_a, secret_b,
        "instances must share one generated secret"
    );
    assert_eq!(secret_a.len(), 64);
    store.close().await;
    app.stop().await;
}

crate::both_databases!(
    health_reports_database_ok,
    metrics_count_requests_by_route,
    metrics_count_signups_by_outcome,
    unknown_api_path_is_json_404,
    oversized_body_is_refused_with_413,
    migrations_are_idempotent_across_restarts,
);

/// A PostgreSQL outage turns /health into 503 and its end back into 200,
/// without a restart. (SQLite is a file inside the process: it has no
/// server to lose, so this is a PostgreSQL test.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_a_postgres_outage() {
    if crate::helpers::skip_postgres() {
        return;
    }
    use sqlx::{Connection, Executor};
    let app = spawn_app(Backend::Postgres).await;
    let name = app.db.pg_name.clone().unwrap();
    let mut admin = sqlx::postgres::PgConnection::connect(&crate::helpers::postgres_admin_url())
        .await
        .unwrap();
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {name} ALLOW_CONNECTIONS false"
        )))
        .await
        .unwrap();
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        )))
        .await
        .unwrap();
    let mut saw_503 = false;
    for _ in 0..20 {
        if app.get("/health").await.status() == 503 {
            saw_503 = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(saw_503, "health never reported the outage");
    let body: serde_json::Value = app.get("/health").await.json().await.unwrap();
    assert_eq!(body["database"], "unavailable");
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {name} ALLOW_CONNECTIONS true"
        )))
        .await
        .unwrap();
    let mut back = false;
    for _ in 0..40 {
        if app.get("/health").await.status() == 200 {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(back, "health did not recover after the outage");
    app.stop().await;
}

/// Start-up with a bad configuration value prints one line naming the key
/// and exits with code 2.
#[test]
fn bad_config_value_is_one_line_and_exit_2() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_gazette"))
        .env("GAZETTE__SERVER__PORT", "abc")
        .arg("--config")
        .arg("/nonexistent")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("server.port"), "{stderr}");
}

/// An unwritable SQLite location stops the start with one clear line.
#[test]
fn unwritable_sqlite_location_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "not a folder").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_gazette"))
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/sub/gazette.db", blocker.display()),
        )
        .arg("--config")
        .arg("/nonexistent")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("SQLite"), "{stderr}");
}
