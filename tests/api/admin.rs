//! The admin UI through HTTP: login and logout, the session guard on every
//! route, CSRF on every state change, roles, and the pages editors use.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gazette::users::{Password, Role, add_user};
use reqwest::StatusCode;

use crate::helpers::{Backend, TestApp, spawn_app};

pub const PASSWORD: &str = "a long enough password";

/// Every page of the admin (GET), and the form targets (POST) behind them.
const GET_ROUTES: &[&str] = &[
    "/admin",
    "/admin/newsletters",
    "/admin/newsletters/new",
    "/admin/newsletters/news",
    "/admin/stories",
    "/admin/issues",
    "/admin/issues/1",
    "/admin/issues/1/preview",
    "/admin/issues/1/preview.html",
    "/admin/issues/1/progress",
    "/admin/subscribers",
    "/admin/subscribers/1",
    "/admin/settings",
];

const POST_ROUTES: &[&str] = &[
    "/admin/logout",
    "/admin/newsletters",
    "/admin/newsletters/news",
    "/admin/newsletters/news/pause",
    "/admin/newsletters/news/build",
    "/admin/stories",
    "/admin/issues/1",
    "/admin/issues/1/test",
    "/admin/issues/1/send",
    "/admin/issues/1/cancel",
    "/admin/subscribers/1/unsubscribe",
    "/admin/subscribers/1/erase",
    "/admin/settings/tokens",
    "/admin/settings/tokens/1/revoke",
    "/admin/settings/mail-check",
];

/// The value of the hidden `csrf` field on a page.
pub fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a csrf field on the page");
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

impl TestApp {
    pub async fn add_user(&self, email: &str, role: Role) {
        add_user(
            &self.store,
            email,
            role,
            &Password::parse(PASSWORD).unwrap(),
        )
        .await
        .expect("user added");
    }

    /// Logs in with the app's cookie jar; returns the login response.
    pub async fn log_in(&self, email: &str, password: &str) -> reqwest::Response {
        let page = self.get("/admin/login").await.text().await.unwrap();
        let csrf = csrf_of(&page);
        self.client
            .post(self.url("/admin/login"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("email", email),
                ("password", password),
                ("next", "/admin"),
            ])
            .send()
            .await
            .expect("POST /admin/login")
    }

    /// The CSRF token of the logged-in session.
    pub async fn admin_csrf(&self) -> String {
        csrf_of(&self.get("/admin").await.text().await.unwrap())
    }

    pub async fn admin_post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("POST")
    }
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

async fn every_admin_route_redirects_to_login_without_a_session(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in GET_ROUTES {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "GET {path}");
        assert!(
            location(&response).starts_with("/admin/login?next="),
            "GET {path} went to {}",
            location(&response)
        );
    }
    for path in POST_ROUTES {
        let response = app.admin_post(path, &[("csrf", "x")]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "POST {path}");
        assert!(
            location(&response).starts_with("/admin/login"),
            "POST {path}"
        );
    }
    let response = app.get("/admin/subscribers?status=active").await;
    assert_eq!(
        location(&response),
        "/admin/login?next=%2Fadmin%2Fsubscribers%3Fstatus%3Dactive"
    );
}

async fn wrong_password_gets_the_generic_message_and_right_one_the_dashboard(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("editor@example.org", Role::Editor).await;

    let wrong = app
        .log_in("editor@example.org", "not the password at all")
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let page = wrong.text().await.unwrap();
    assert!(page.contains("The email or password is wrong."), "{page}");
    let unknown = app.log_in("nobody@example.org", PASSWORD).await;
    assert!(
        unknown
            .text()
            .await
            .unwrap()
            .contains("The email or password is wrong.")
    );
    assert_eq!(app.get("/admin").await.status(), StatusCode::SEE_OTHER);

    let right = app.log_in("Editor@Example.org", PASSWORD).await;
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&right), "/admin");
    let cookie = right
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("gazette_admin="))
        .expect("a session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/admin"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http test server: {cookie}"
    );

    let dashboard = app.get("/admin").await;
    assert_eq!(dashboard.status(), StatusCode::OK);
    let html = dashboard.text().await.unwrap();
    assert!(html.contains("Dashboard") && html.contains("editor@example.org"));
    assert!(html.contains("<svg class=\"chart\""), "the growth chart");

    // Logging out ends the session.
    let csrf = csrf_of(&html);
    let out = app.admin_post("/admin/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/admin").await.status(), StatusCode::SEE_OTHER);
}

async fn logins_are_rate_limited_per_address(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("editor@example.org", Role::Editor).await;
    for _ in 0..5 {
        let response = app
            .log_in("editor@example.org", "wrong password here")
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // Even the right password waits now.
    let response = app.log_in("editor@example.org", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.get("/admin").await.status(), StatusCode::SEE_OTHER);
}

async fn forged_posts_without_the_csrf_token_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("editor@example.org", Role::Editor).await;
    app.log_in("editor@example.org", PASSWORD).await;
    let form = [
        ("slug", "forged"),
        ("name", "Forged"),
        ("timezone", "UTC"),
        ("locale", "en"),
        ("max_stories", "10"),
    ];
    let missing = app.admin_post("/admin/newsletters", &form).await;
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    let mut wrong = form.to_vec();
    wrong.push(("csrf", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    let wrong = app.admin_post("/admin/newsletters", &wrong).await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert!(
        app.store
            .newsletter_by_slug("forged")
            .await
            .unwrap()
            .is_none()
    );
    // Logout without the token does not log out either.
    assert_eq!(
        app.admin_post("/admin/logout", &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.get("/admin").await.status(), StatusCode::OK);

    // The same form with the session's token works.
    let csrf = app.admin_csrf().await;
    let mut good = form.to_vec();
    good.push(("csrf", &csrf));
    let created = app.admin_post("/admin/newsletters", &good).await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    assert!(
        app.store
            .newsletter_by_slug("forged")
            .await
            .unwrap()
            .is_some()
    );
}

async fn editors_get_403_on_admin_only_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("editor@example.org", Role::Editor).await;
    app.log_in("editor@example.org", PASSWORD).await;
    let settings = app.get("/admin/settings").await;
    assert_eq!(settings.status(), StatusCode::FORBIDDEN);
    assert!(settings.text().await.unwrap().contains("Admins only"));
    let csrf = app.admin_csrf().await;
    let token = app
        .admin_post(
            "/admin/settings/tokens",
            &[("csrf", &csrf), ("name", "cms")],
        )
        .await;
    assert_eq!(token.status(), StatusCode::FORBIDDEN);
    assert!(app.store.api_tokens().await.unwrap().is_empty());
    // Content pages are theirs.
    assert_eq!(app.get("/admin/newsletters").await.status(), StatusCode::OK);

    let admin = spawn_app(backend).await;
    admin.add_user("admin@example.org", Role::Admin).await;
    admin.log_in("admin@example.org", PASSWORD).await;
    assert_eq!(admin.get("/admin/settings").await.status(), StatusCode::OK);
}

async fn user_added_on_the_command_line_can_log_in(backend: Backend) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let app = spawn_app(backend).await;
    let run = |email: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gazette"))
            .args(["user", "add", email, "--role", "admin", "--password-stdin"])
            .env("DATABASE_URL", &app.db.url)
            .env("GAZETTE__LOG__LEVEL", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("gazette runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{PASSWORD}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let added = run("chief@example.org");
    assert!(added.status.success(), "{added:?}");
    let again = run("Chief@example.org");
    assert_eq!(again.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("already exists"), "{stderr}");

    let login = app.log_in("chief@example.org", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/admin/settings").await.status(), StatusCode::OK);
}

crate::both_databases!(
    every_admin_route_redirects_to_login_without_a_session,
    wrong_password_gets_the_generic_message_and_right_one_the_dashboard,
    logins_are_rate_limited_per_address,
    forged_posts_without_the_csrf_token_change_nothing,
    editors_get_403_on_admin_only_pages,
    user_added_on_the_command_line_can_log_in,
);
