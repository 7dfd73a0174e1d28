//! The `gazette` command line against the test database: tokens, newsletters
//! and digests, as an editor types them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Output;

use serde_json::json;

use crate::helpers::{Backend, TestApp, spawn_app};

/// Runs `gazette ARGS` on the app's database (in a blocking thread: the
/// command takes a moment and the app keeps serving meanwhile).
pub async fn gazette(app: &TestApp, args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let database = app.db.url.clone();
    let base_url = app.address.clone();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_gazette"))
            .arg("--config")
            .arg("/nonexistent")
            .args(&args)
            .env("DATABASE_URL", database)
            .env("GAZETTE__SERVER__BASE_URL", base_url)
            .env("GAZETTE__LOG__LEVEL", "warn")
            .env_remove("GAZETTE_ENV")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// Runs `gazette ARGS` on the app's database with `input` on its standard
/// input (a password for `--password-stdin`).
pub async fn gazette_with_input(app: &TestApp, args: &[&str], input: &str) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let (database, input) = (app.db.url.clone(), input.to_string());
    tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gazette"))
            .arg("--config")
            .arg("/nonexistent")
            .args(&args)
            .env("DATABASE_URL", database)
            .env("GAZETTE__LOG__LEVEL", "warn")
            .env_remove("GAZETTE_ENV")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input.as_bytes()).unwrap();
        }
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

async fn token_create_prints_a_token_that_works(backend: Backend) {
    let app = spawn_app(backend).await;
    let output = gazette(&app, &["token", "create", "cms"]).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let token = text(&output.stdout).trim().to_string();
    assert!(token.starts_with("gz_") && token.len() >= 40, "{token:?}");
    let answer = app
        .client
        .get(app.url("/api/newsletters"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let stored: String = sqlx::query_scalar("SELECT token_hash FROM api_tokens WHERE name = 'cms'")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_ne!(stored, token, "only the hash is stored");

    let revoked = gazette(&app, &["token", "revoke", "cms"]).await;
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    let refused = app
        .client
        .get(app.url("/api/newsletters"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    app.stop().await;
}

async fn newsletter_add_refuses_a_bad_timezone_in_one_line(backend: Backend) {
    let app = spawn_app(backend).await;
    let before = app.count("SELECT COUNT(*) FROM newsletters").await;
    let output = gazette(
        &app,
        &[
            "newsletter",
            "add",
            "weekly",
            "--name",
            "Weekly",
            "--schedule",
            "0 7 * * FRI",
            "--timezone",
            "Mars/Olympus",
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("timezone"), "{stderr}");
    assert_eq!(app.count("SELECT COUNT(*) FROM newsletters").await, before);

    let added = gazette(
        &app,
        &[
            "newsletter",
            "add",
            "weekly",
            "--name",
            "Weekly",
            "--schedule",
            "0 7 * * FRI",
            "--timezone",
            "Europe/Paris",
            "--locale",
            "fr",
        ],
    )
    .await;
    assert!(added.status.success(), "{}", text(&added.stderr));
    let shown = gazette(&app, &["newsletter", "show", "weekly"]).await;
    let stdout = text(&shown.stdout);
    assert!(stdout.contains("0 7 * * FRI (Europe/Paris)"), "{stdout}");
    let runs: Vec<&str> = stdout.lines().filter(|l| l.contains("UTC)")).collect();
    assert_eq!(runs.len(), 5, "{stdout}");
    assert!(
        runs.iter()
            .all(|r| r.trim_start().starts_with("Fri ") && r.contains(" 07:00 ")),
        "{stdout}"
    );
    let listed = gazette(&app, &["newsletter", "list"]).await;
    assert!(text(&listed.stdout).contains("weekly\tWeekly"));
    let missing = gazette(&app, &["newsletter", "show", "nope"]).await;
    assert_eq!(missing.status.code(), Some(2));
    app.stop().await;
}

async fn digest_preview_and_dry_run_show_what_would_go(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.editor().await;
    let newsletter = editor.newsletter("cli", json!({})).await;
    crate::editor::subscriber(
        &app,
        "reader@example.org",
        "active",
        false,
        "active",
        newsletter["id"].as_i64().unwrap(),
    )
    .await;
    editor
        .story("one", "Terminal story <b>one</b>", 10, &[])
        .await;

    let dry = gazette(&app, &["digest", "send", "cli", "--dry-run"]).await;
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    let stdout = text(&dry.stdout);
    assert!(stdout.contains("would go to 1 subscribers"), "{stdout}");
    assert!(stdout.contains("Terminal story <b>one</b>"), "{stdout}");
    // A first issue without a schedule covers scheduling.first_issue_window.
    let week_ago = chrono::Utc::now() - chrono::Duration::days(7);
    assert!(
        stdout.contains(&format!(
            "stories published since {}",
            week_ago.format("%Y-%m-%d")
        )),
        "{stdout}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM issues").await,
        0,
        "a dry run builds nothing"
    );

    let text_part = gazette(&app, &["digest", "preview", "cli", "--text"]).await;
    assert!(text_part.status.success(), "{}", text(&text_part.stderr));
    assert!(text(&text_part.stdout).contains("1. Terminal story <b>one</b>"));
    assert!(text(&text_part.stderr).contains("bytes"), "size on stderr");
    let html = gazette(&app, &["digest", "preview", "cli"]).await;
    let html = text(&html.stdout);
    assert!(
        html.contains("Terminal story &lt;b&gt;one&lt;/b&gt;"),
        "{html}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM issues").await,
        1,
        "previews reuse the draft"
    );

    let sent = gazette(&app, &["digest", "send", "cli"]).await;
    assert!(sent.status.success(), "{}", text(&sent.stderr));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM deliveries WHERE kind = 'digest'")
            .await,
        1
    );
    app.stop().await;
}

async fn newsletter_pause_and_resume_through_the_cli(backend: Backend) {
    let app = spawn_app(backend).await;
    let added = gazette(
        &app,
        &[
            "newsletter",
            "add",
            "friday",
            "--name",
            "Friday",
            "--schedule",
            "0 7 * * FRI",
            "--timezone",
            "Africa/Bamako",
        ],
    )
    .await;
    assert_eq!(added.status.code(), Some(0), "{}", text(&added.stderr));
    let paused_flag = |app: &TestApp| {
        let pool = app.store.pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT paused FROM newsletters WHERE slug = 'friday'")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let paused = gazette(&app, &["newsletter", "pause", "friday"]).await;
    assert_eq!(paused.status.code(), Some(0), "{}", text(&paused.stderr));
    assert_eq!(paused_flag(&app).await, 1);
    let resumed = gazette(&app, &["newsletter", "resume", "friday"]).await;
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed.stderr));
    assert_eq!(paused_flag(&app).await, 0);
    let unknown = gazette(&app, &["newsletter", "pause", "nope"]).await;
    assert_eq!(unknown.status.code(), Some(2));
    assert_eq!(text(&unknown.stderr).trim().lines().count(), 1);
    app.stop().await;
}

/// At the default log level a command prints its own output and nothing
/// else: no line from the database (PostgreSQL's notices) or the runtime.
async fn commands_print_only_their_own_output(backend: Backend) {
    let app = spawn_app(backend).await;
    for args in [&["migrate"][..], &["newsletter", "show", "news"][..]] {
        let database = app.db.url.clone();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_gazette"))
                .arg("--config")
                .arg("/nonexistent")
                .args(&args)
                .env("DATABASE_URL", database)
                .env_remove("GAZETTE__LOG__LEVEL")
                .env_remove("RUST_LOG")
                .env_remove("GAZETTE_ENV")
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert!(output.status.success(), "{stdout}{stderr}");
        assert_eq!(stderr, "", "nothing but the command's own output");
        assert!(
            !stdout.contains("INFO") && !stdout.contains("_sqlx_migrations"),
            "{stdout}"
        );
    }
    app.stop().await;
}

crate::both_databases!(
    commands_print_only_their_own_output,
    token_create_prints_a_token_that_works,
    newsletter_add_refuses_a_bad_timezone_in_one_line,
    digest_preview_and_dry_run_show_what_would_go,
    newsletter_pause_and_resume_through_the_cli,
);
