//! What a hostile visitor must not learn or reach: `/metrics` (whose
//! signup counters would tell who is subscribed) is closed without its
//! token, and served openly only on its own address; the secrets in token
//! links never reach the logs; a confirmation link confirms only what its
//! email named, and a made-up token never waits for the database's writer.
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

/// A `gazette serve` logging JSON at info on `app`'s database; its port is
/// read off its "serving" line.
struct LoggingServer {
    child: Option<std::process::Child>,
    log: std::path::PathBuf,
    port: u16,
}

impl LoggingServer {
    async fn start(app: &crate::helpers::TestApp, env: &[(&str, &str)]) -> LoggingServer {
        let log = app.db.dir().join("serve-json.log");
        let file = std::fs::File::create(&log).unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gazette"))
            .args(["--config", "/nonexistent", "serve"])
            .env("DATABASE_URL", &app.db.url)
            .env("GAZETTE__SERVER__PORT", "0")
            .env("GAZETTE__LOG__LEVEL", "info")
            .env("GAZETTE__LOG__FORMAT", "json")
            .env("GAZETTE__SCHEDULING__ENABLED", "false")
            .env(
                "GAZETTE__MAIL__OUTBOX_DIR",
                app.db.dir().join("outbox-json").display().to_string(),
            )
            .envs(env.iter().copied())
            .env_remove("GAZETTE_ENV")
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::from(file))
            .spawn()
            .unwrap();
        for _ in 0..300 {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(port) = text
                .lines()
                .filter(|line| line.contains("Gazette is serving"))
                .find_map(|line| {
                    let value: serde_json::Value = serde_json::from_str(line).ok()?;
                    value["fields"]["port"].as_u64()
                })
            {
                return LoggingServer {
                    child: Some(child),
                    log,
                    port: port as u16,
                };
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "gazette serve did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn stop(mut self) -> String {
        self.kill();
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for LoggingServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The token of an unsubscribe link lets its holder act for a subscriber:
/// the request span logs the path, never the query.
async fn token_links_never_reach_the_logs(backend: Backend) {
    let app = spawn_app(backend).await;
    let subscriber = app.subscribe_and_confirm("reader@example.org").await;
    let token = app.manage_token(subscriber).await;
    let server = LoggingServer::start(&app, &[]).await;
    let answer = app
        .client
        .post(server.url(&format!("/unsubscribe?token={token}")))
        .form(&[("List-Unsubscribe", "One-Click")])
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    let log = server.stop();
    let unsubscribed = log
        .lines()
        .find(|line| line.contains("\"unsubscribed\""))
        .unwrap_or_else(|| panic!("no unsubscribe logged: {log}"));
    assert!(unsubscribed.contains("\"/unsubscribe\""), "{unsubscribed}");
    assert!(
        !log.contains(&token),
        "the token is in the log: {unsubscribed}"
    );
}

/// Someone who knows an address adds a newsletter to its pending signup
/// (no new email goes out within ten minutes): the first email's link
/// confirms what that email named, not the newsletter added behind it.
async fn a_confirmation_confirms_only_what_its_email_named(backend: Backend) {
    let app = spawn_app(backend).await;
    app.store
        .newsletters()
        .create(
            &gazette::newsletters::NewNewsletter {
                slug: "evening",
                name: "Evening",
                locale: "en",
            },
            gazette::store::now_ms(),
        )
        .await
        .unwrap();
    let signup = |slug: &'static str| {
        let app = &app;
        async move {
            let answer = app
                .post_subscription(
                    &serde_json::json!({"email": "amina@example.org", "newsletters": [slug]}),
                )
                .await;
            assert_eq!(answer.status(), 202);
        }
    };
    signup("news").await;
    let link = app.confirmation_link("amina@example.org").await;
    signup("evening").await;
    assert_eq!(app.confirmation_mails("amina@example.org").await, 1);
    let token = link.split("token=").nth(1).unwrap().to_string();
    let confirmed = app.post_form("/confirm", &[("token", &token)]).await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let id = app.subscriber_id("amina@example.org").await;
    let statuses = app.subscription_statuses(id).await;
    assert_eq!(
        statuses,
        vec![
            ("evening".to_string(), "pending".to_string()),
            ("news".to_string(), "active".to_string())
        ]
    );
    app.stop().await;
}

/// A made-up token is answered from a read: it does not queue behind the
/// database's writer, whoever holds it.
async fn a_made_up_token_never_waits_for_the_writer(backend: Backend) {
    use sqlx::Connection;
    let app = spawn_app(backend).await;
    // Another process holds the write lock (SQLite) or the table's write
    // lock (PostgreSQL) for as long as the request takes.
    let mut holder = sqlx::AnyConnection::connect(&app.db.url).await.unwrap();
    let lock = match backend {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN; LOCK TABLE confirmation_tokens IN EXCLUSIVE MODE",
    };
    sqlx::raw_sql(lock).execute(&mut holder).await.unwrap();
    let answer = app
        .client
        .post(app.url("/confirm"))
        .form(&[("token", "0000000000aa.made-up-token-that-matches-nothing")])
        .timeout(std::time::Duration::from_secs(30))
        .send()
        .await
        .expect("an answer while the writer is busy");
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .unwrap();
    app.stop().await;
}

/// Public pages tell browsers to run nothing but their own line of script,
/// load nothing from elsewhere and let no other site frame them; the embed
/// form alone may be framed; nothing is sniffed; https sites ask for https.
async fn public_pages_carry_the_security_headers(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in [
        "/subscribe",
        "/preferences?token=nothing",
        "/confirm?token=x",
        "/archive/news",
    ] {
        let response = app.get(path).await;
        let policy = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        assert!(policy.contains("default-src 'none'"), "{path}: {policy}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        assert!(!response.headers().contains_key("strict-transport-security"));
    }
    let embed = app.get("/embed").await;
    let policy = embed.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("frame-ancestors *"), "{policy}");
    let api = app.get("/api/nothing-here").await;
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
    app.stop().await;

    let app = spawn_app_with(backend, |s| {
        s.server.base_url = "https://news.example.org".into()
    })
    .await;
    let response = app.get("/subscribe").await;
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    app.stop().await;
}

/// Token pages are limited per client, with a page titled for what it is;
/// the one-click unsubscribe of mail providers never is.
async fn token_pages_are_rate_limited_but_one_click_unsubscribe_is_not(backend: Backend) {
    // Four: the confirmation below is the first.
    let app = spawn_app_with(backend, |s| s.server.token_pages_per_ip_per_minute = 4).await;
    let subscriber = app.subscribe_and_confirm("reader@example.org").await;
    let token = app.manage_token(subscriber).await;
    for _ in 0..3 {
        let page = app.get("/preferences?token=made-up").await;
        assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    }
    let limited = app.get(&format!("/preferences?token={token}")).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key("retry-after"));
    let page = limited.text().await.unwrap();
    assert!(page.contains("<title>Too many attempts</title>"), "{page}");
    assert!(!page.contains("Something went wrong"), "{page}");
    let confirm = app.post_form("/confirm", &[("token", "made-up")]).await;
    assert_eq!(confirm.status(), StatusCode::TOO_MANY_REQUESTS);
    // The provider's one-click POST goes through.
    let one_click = app
        .post_form(
            &format!("/unsubscribe?token={token}"),
            &[("List-Unsubscribe", "One-Click")],
        )
        .await;
    assert!(one_click.status().is_success(), "{}", one_click.status());
    let status: String =
        sqlx::query_scalar("SELECT status FROM subscriptions WHERE subscriber_id = $1")
            .bind(subscriber)
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    assert_eq!(status, "unsubscribed");
    app.stop().await;
}

/// Erased addresses are kept as an HMAC keyed from the server secret; rows
/// from before (a plain SHA-256) still keep their address from coming back.
async fn erased_addresses_from_before_the_hmac_still_match(backend: Backend) {
    let app = spawn_app(backend).await;
    sqlx::query("INSERT INTO erased_addresses (email_hash, erased_at) VALUES ($1, 0)")
        .bind(gazette::subscriptions::token::sha256_hex(
            b"old@example.org",
        ))
        .execute(app.store.pool())
        .await
        .unwrap();
    let erased = app.erased_addresses().await;
    assert!(
        erased
            .is_erased(&app.store, "old@example.org")
            .await
            .unwrap()
    );
    assert!(
        !erased
            .is_erased(&app.store, "new@example.org")
            .await
            .unwrap()
    );
    app.stop().await;
}

/// A short configured secret is warned about at start, without the key.
async fn a_short_secret_key_is_warned_about(backend: Backend) {
    let app = spawn_app(backend).await;
    let server =
        LoggingServer::start(&app, &[("GAZETTE__SERVER__SECRET_KEY", "hunter2-short")]).await;
    let log = server.stop();
    let warning = log
        .lines()
        .find(|line| line.contains("server.secret_key is 13 bytes long"))
        .unwrap_or_else(|| panic!("no warning: {log}"));
    assert!(warning.contains("\"WARN\""), "{warning}");
    assert!(!log.contains("hunter2-short"), "the key is in the log");
    let quiet = LoggingServer::start(
        &app,
        &[(
            "GAZETTE__SERVER__SECRET_KEY",
            "a secret key of thirty-two bytes or more",
        )],
    )
    .await
    .stop();
    assert!(!quiet.contains("server.secret_key is"), "{quiet}");
}

crate::both_databases!(
    a_short_secret_key_is_warned_about,
    erased_addresses_from_before_the_hmac_still_match,
    public_pages_carry_the_security_headers,
    token_pages_are_rate_limited_but_one_click_unsubscribe_is_not,
    a_confirmation_confirms_only_what_its_email_named,
    a_made_up_token_never_waits_for_the_writer,
    token_links_never_reach_the_logs,
    metrics_need_the_token_on_the_public_listener,
    metrics_listen_serves_them_without_a_token,
    invented_methods_are_counted_as_other,
);
