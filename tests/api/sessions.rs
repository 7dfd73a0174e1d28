//! Admin sessions that can be ended: a password change, "log out
//! everywhere", an admin's "end sessions", a role change and `gazette user
//! password` each end every other session of that user, at its next
//! request, on every instance (the check is against the database).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gazette::users::Role;
use reqwest::StatusCode;

use crate::admin::{PASSWORD, csrf_of, session_cookie};
use crate::helpers::{Backend, TestApp, another_instance, spawn_app, spawn_app_with};

const NEW_PASSWORD: &str = "an even longer password";

async fn dashboard(app: &TestApp, browser: &reqwest::Client) -> StatusCode {
    browser
        .get(app.url("/admin"))
        .send()
        .await
        .unwrap()
        .status()
}

async fn post(
    app: &TestApp,
    browser: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    browser.post(app.url(path)).form(form).send().await.unwrap()
}

async fn csrf(app: &TestApp, browser: &reqwest::Client, page: &str) -> String {
    let html = browser
        .get(app.url(page))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    csrf_of(&html)
}

async fn a_password_change_ends_the_other_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("editor@example.org", Role::Editor).await;
    let (here, elsewhere) = (app.another_browser(), app.another_browser());
    for browser in [&here, &elsewhere] {
        let login = app
            .log_in_with(browser, "editor@example.org", PASSWORD)
            .await;
        assert_eq!(login.status(), StatusCode::SEE_OTHER);
    }
    let token = csrf(&app, &here, "/admin/account").await;
    // The current password is proven first; the new one typed twice.
    let wrong = post(
        &app,
        &here,
        "/admin/account/password",
        &[
            ("csrf", &token),
            ("current", "not my password at all"),
            ("new", NEW_PASSWORD),
            ("again", NEW_PASSWORD),
        ],
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("current password is wrong")
    );
    let mismatch = post(
        &app,
        &here,
        "/admin/account/password",
        &[
            ("csrf", &token),
            ("current", PASSWORD),
            ("new", NEW_PASSWORD),
            ("again", "an even longer passw0rd"),
        ],
    )
    .await;
    assert_eq!(mismatch.status(), StatusCode::BAD_REQUEST);
    assert_eq!(dashboard(&app, &elsewhere).await, StatusCode::OK);

    let changed = post(
        &app,
        &here,
        "/admin/account/password",
        &[
            ("csrf", &token),
            ("current", PASSWORD),
            ("new", NEW_PASSWORD),
            ("again", NEW_PASSWORD),
        ],
    )
    .await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    assert_eq!(dashboard(&app, &here).await, StatusCode::OK, "stays in");
    assert_eq!(
        dashboard(&app, &elsewhere).await,
        StatusCode::SEE_OTHER,
        "the other session ended"
    );
    let old = app
        .log_in_with(&app.another_browser(), "editor@example.org", PASSWORD)
        .await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    let new = app
        .log_in_with(&app.another_browser(), "editor@example.org", NEW_PASSWORD)
        .await;
    assert_eq!(new.status(), StatusCode::SEE_OTHER);
}

async fn log_out_everywhere_ends_a_copied_cookie_too(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("editor@example.org", Role::Editor).await;
    let here = app.another_browser();
    let login = app.log_in_with(&here, "editor@example.org", PASSWORD).await;
    // Someone copied the session cookie (a shared computer, malware).
    let cookie = session_cookie(&login);
    let stolen = |app: &TestApp| {
        app.another_browser()
            .get(app.url("/admin"))
            .header("cookie", cookie.clone())
            .send()
    };
    assert_eq!(stolen(&app).await.unwrap().status(), StatusCode::OK);
    let token = csrf(&app, &here, "/admin/account").await;
    let ended = post(&app, &here, "/admin/account/sessions", &[("csrf", &token)]).await;
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert_eq!(dashboard(&app, &here).await, StatusCode::OK, "stays in");
    assert_eq!(stolen(&app).await.unwrap().status(), StatusCode::SEE_OTHER);
}

async fn admins_role_changes_and_the_cli_end_a_users_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("admin@example.org", Role::Admin).await;
    app.add_user("editor@example.org", Role::Editor).await;
    let editor_id = app
        .store
        .users()
        .by_email("editor@example.org")
        .await
        .unwrap()
        .unwrap()
        .id;
    let admin = app.another_browser();
    app.log_in_with(&admin, "admin@example.org", PASSWORD).await;
    let editor = app.another_browser();
    let log_editor_in = || app.log_in_with(&editor, "editor@example.org", PASSWORD);

    // An admin's "End sessions" on the users page.
    log_editor_in().await;
    assert_eq!(dashboard(&app, &editor).await, StatusCode::OK);
    let token = csrf(&app, &admin, "/admin/users").await;
    let ended = post(
        &app,
        &admin,
        &format!("/admin/users/{editor_id}/sessions"),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert_eq!(dashboard(&app, &editor).await, StatusCode::SEE_OTHER);

    // A role change.
    log_editor_in().await;
    assert_eq!(dashboard(&app, &editor).await, StatusCode::OK);
    let promoted = post(
        &app,
        &admin,
        &format!("/admin/users/{editor_id}/role"),
        &[("csrf", &token), ("role", "admin")],
    )
    .await;
    assert_eq!(promoted.status(), StatusCode::SEE_OTHER);
    assert_eq!(dashboard(&app, &editor).await, StatusCode::SEE_OTHER);

    // `gazette user password` for a forgotten password.
    log_editor_in().await;
    assert_eq!(dashboard(&app, &editor).await, StatusCode::OK);
    let set = set_password_on_the_command_line(&app, "Editor@example.org").await;
    assert!(set.status.success(), "{set:?}");
    assert_eq!(dashboard(&app, &editor).await, StatusCode::SEE_OTHER);
    let login = app
        .log_in_with(&editor, "editor@example.org", NEW_PASSWORD)
        .await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    let unknown = set_password_on_the_command_line(&app, "nobody@example.org").await;
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no user"), "{stderr}");
}

async fn set_password_on_the_command_line(app: &TestApp, email: &str) -> std::process::Output {
    crate::cli::gazette_with_input(
        app,
        &["user", "password", email, "--password-stdin"],
        &format!("{NEW_PASSWORD}\n"),
    )
    .await
}

const OLD_SECRET: &str = "the old secret key, 32 bytes or more";
const NEW_SECRET: &str = "the new secret key, also 32 bytes or more";

/// The secret key changes: with the old one in `previous_secret_keys`,
/// links mailed before and sessions started before still work, and new
/// links are signed with the new key; without it, neither opens.
async fn a_rotated_secret_keeps_mailed_links_and_sessions(backend: Backend) {
    use gazette::links::{LinkPurpose, LinkSigner};
    let app = spawn_app_with(backend, |s| {
        s.server.secret_key = Some(OLD_SECRET.into());
    })
    .await;
    app.add_user("editor@example.org", Role::Editor).await;
    let subscriber = app.subscribe_and_confirm("reader@example.org").await;
    let browser = app.another_browser();
    let login = app
        .log_in_with(&browser, "editor@example.org", PASSWORD)
        .await;
    let cookie = session_cookie(&login);
    let mailed =
        LinkSigner::new(OLD_SECRET.as_bytes(), &app.address).token(LinkPurpose::Manage, subscriber);

    let rotated = another_instance(&app, |s| {
        s.server.secret_key = Some(NEW_SECRET.into());
        s.server.previous_secret_keys = vec![OLD_SECRET.into()];
    })
    .await;
    let dropped = another_instance(&app, |s| {
        s.server.secret_key = Some(NEW_SECRET.into());
    })
    .await;
    let client = app.another_browser();
    let dashboard_at = |url: String| client.get(url).header("cookie", cookie.clone()).send();
    assert_eq!(
        dashboard_at(rotated.url("/admin")).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        dashboard_at(dropped.url("/admin")).await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    let preferences = |base: String| {
        client
            .get(format!("{base}/preferences?token={mailed}"))
            .send()
    };
    assert_eq!(
        preferences(rotated.address.clone()).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        preferences(dropped.address.clone()).await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
}

crate::both_databases!(
    a_rotated_secret_keeps_mailed_links_and_sessions,
    a_password_change_ends_the_other_sessions,
    log_out_everywhere_ends_a_copied_cookie_too,
    admins_role_changes_and_the_cli_end_a_users_sessions,
);
