//! The admin UI through HTTP: login and logout, the session guard on every
//! route, CSRF on every state change, roles, and the pages editors use.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gazette::users::{Password, Role, add_user};
use reqwest::StatusCode;

use std::time::Duration;

use gazette::config::{MailTransportKind, Settings, SmtpTls};

use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};
use crate::smtp_server::SmtpServer;

pub const PASSWORD: &str = "a long enough password";

/// Every page of the admin (GET), and the form targets (POST) behind them.
const GET_ROUTES: &[&str] = &[
    "/admin",
    "/admin/newsletters",
    "/admin/newsletters/new",
    "/admin/account",
    "/admin/newsletters/news",
    "/admin/newsletters/news/welcome",
    "/admin/newsletters/news/welcome/preview.html",
    "/admin/stories",
    "/admin/schedule-preview?schedule=0+7+*+*+FRI",
    "/admin/issues",
    "/admin/issues/1",
    "/admin/issues/1/preview",
    "/admin/issues/1/preview.html",
    "/admin/issues/1/progress",
    "/admin/issues/1/sending",
    "/admin/issues/1/send",
    "/admin/subscribers",
    "/admin/subscribers.csv",
    "/admin/subscribers/1",
    "/admin/subscribers/import",
    "/admin/imports/1",
    "/admin/imports/1/progress",
    "/admin/imports/1/rejected.csv",
    "/admin/stories/1",
    "/admin/users",
    "/admin/bounces",
    "/admin/bounces/1",
    "/admin/dmarc",
    "/admin/dmarc/1",
    "/admin/settings",
];

const POST_ROUTES: &[&str] = &[
    "/admin/logout",
    "/admin/feeds",
    "/admin/settings/dns-check",
    "/admin/account/password",
    "/admin/account/sessions",
    "/admin/users/1/sessions",
    "/admin/newsletters",
    "/admin/newsletters/news",
    "/admin/newsletters/news/pause",
    "/admin/newsletters/news/build",
    "/admin/newsletters/news/welcome",
    "/admin/stories",
    "/admin/stories/1",
    "/admin/stories/1/hide",
    "/admin/users",
    "/admin/users/1/role",
    "/admin/users/1/remove",
    "/admin/issues/1",
    "/admin/issues/1/test",
    "/admin/issues/1/send",
    "/admin/issues/1/schedule",
    "/admin/issues/1/cancel",
    "/admin/subscribers/1/unsubscribe",
    "/admin/subscribers/1/erase",
    "/admin/subscribers/import",
    "/admin/settings/tokens",
    "/admin/settings/tokens/1/revoke",
    "/admin/settings/mail-check",
];

/// The `gazette_admin=…` pair a login answer sets.
pub fn session_cookie(login: &reqwest::Response) -> String {
    login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("gazette_admin="))
        .map(|v| v.split(';').next().unwrap().to_string())
        .expect("a session cookie")
}

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
        self.log_in_with(&self.client, email, password).await
    }

    /// A client with cookies of its own: another browser.
    pub fn another_browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .unwrap()
    }

    /// Logs in with `client`'s cookie jar.
    pub async fn log_in_with(
        &self,
        client: &reqwest::Client,
        email: &str,
        password: &str,
    ) -> reqwest::Response {
        let page = client
            .get(self.url("/admin/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = csrf_of(&page);
        client
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

    /// Opens a subscriber's page and presses one of its buttons
    /// (`unsubscribe`, `erase`); returns the page as it was and the answer.
    pub async fn subscriber_action(&self, id: i64, action: &str) -> (String, reqwest::Response) {
        let detail = self
            .get(&format!("/admin/subscribers/{id}"))
            .await
            .text()
            .await
            .unwrap();
        let csrf = csrf_of(&detail);
        let answer = self
            .admin_post(
                &format!("/admin/subscribers/{id}/{action}"),
                &[("csrf", &csrf)],
            )
            .await;
        (detail, answer)
    }

    /// The body of a page the logged-in user GETs.
    pub async fn page_text(&self, path: &str) -> String {
        self.get(path).await.text().await.unwrap()
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

/// Links to subscribers' pages on a list page.
fn subscriber_links(html: &str) -> usize {
    html.split("href=\"/admin/subscribers/")
        .skip(1)
        .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        .count()
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// Every route of the admin's router is in one of the lists above, so a
/// new page cannot slip past the session and CSRF tests.
#[test]
fn the_route_lists_cover_the_router() {
    let router = include_str!("../../src/web/admin/mod.rs");
    let mut checked = 0;
    for call in router.split(".route(").skip(1) {
        let path = call.split('"').nth(1).unwrap();
        if ["", "/", "/login"].contains(&path) {
            continue;
        }
        let path = format!(
            "/admin{}",
            path.replace("{id}", "1").replace("{slug}", "news")
        );
        let listed = if call.contains("web::get()") {
            GET_ROUTES
                .iter()
                .any(|r| r.split('?').next() == Some(path.as_str()))
        } else {
            assert!(call.contains("web::post()"), "{call}");
            POST_ROUTES.contains(&path.as_str())
        };
        assert!(listed, "{path} is not in the route lists");
        checked += 1;
    }
    assert!(checked > 40, "{checked} routes");
}

/// The admin's pages carry their script and style inline: nothing is
/// fetched from another host (no CDN), so they work offline. The email
/// preview frame is the email itself, whose images live on the site.
async fn admin_pages_load_nothing_from_elsewhere(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("admin@example.org", Role::Admin).await;
    app.log_in("admin@example.org", PASSWORD).await;
    let (mut pages, mut resources) = (0, 0);
    for path in GET_ROUTES.iter().chain(&["/admin/login"]) {
        if path.ends_with("/preview.html") {
            continue;
        }
        let html = app.get(path).await.text().await.unwrap();
        for tag in html.split('<').skip(1) {
            let name = tag.split([' ', '>']).next().unwrap_or("");
            if ["script", "link", "img", "iframe", "style"].contains(&name) {
                resources += 1;
                assert!(
                    !tag.contains("src=\"http")
                        && !tag.contains("href=\"http")
                        && !tag.contains("src=\"//")
                        && !tag.contains("href=\"//")
                        && !tag.contains("@import"),
                    "{path} loads from elsewhere: <{tag}"
                );
            }
        }
        pages += 1;
    }
    assert!(pages > 20);
    assert!(
        resources >= 10,
        "the HTML pages have their style: {resources}"
    );
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
            .newsletters()
            .by_slug("forged")
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
            .newsletters()
            .by_slug("forged")
            .await
            .unwrap()
            .is_some()
    );
}

/// Every form target refuses a POST without the session's CSRF token, even
/// from an admin who may do everything, and no table changes.
async fn every_post_route_refuses_a_missing_csrf_token(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("admin@example.org", Role::Admin).await;
    app.log_in("admin@example.org", PASSWORD).await;
    let newsletter = app.store.newsletters().all().await.unwrap().remove(0);
    crate::editor::subscriber(
        &app,
        "reader@example.net",
        "active",
        false,
        "active",
        newsletter.id,
    )
    .await;
    // What a forged form could change: rows added, and the states the
    // forms set (pause, roles, revocations, statuses, subjects, hiding).
    let fingerprint = || async {
        let mut all = Vec::new();
        for sql in [
            "SELECT slug || ':' || paused || ':' || name FROM newsletters ORDER BY id",
            "SELECT email || ':' || role FROM users ORDER BY id",
            "SELECT name || ':' || COALESCE(revoked_at, 0) FROM api_tokens ORDER BY id",
            "SELECT email || ':' || status FROM subscribers ORDER BY id",
            "SELECT subscriber_id || ':' || status FROM subscriptions ORDER BY subscriber_id",
            "SELECT title || ':' || hidden FROM stories ORDER BY id",
            "SELECT status || ':' || subject FROM issues ORDER BY id",
            "SELECT CAST(COUNT(*) AS TEXT) FROM imports",
            "SELECT CAST(COUNT(*) AS TEXT) FROM deliveries",
        ] {
            let rows: Vec<String> = sqlx::query_scalar(sql)
                .fetch_all(app.store.pool())
                .await
                .unwrap();
            all.push(rows);
        }
        all
    };
    let before = fingerprint().await;
    for path in POST_ROUTES {
        let response = if *path == "/admin/subscribers/import" {
            // The upload is a multipart form; its token is a field too.
            let file = reqwest::multipart::Part::bytes(b"email\nforged@example.net\n".to_vec())
                .file_name("forged.csv");
            let form = reqwest::multipart::Form::new()
                .text("newsletter", "news")
                .part("file", file);
            app.client
                .post(app.url(path))
                .multipart(form)
                .send()
                .await
                .unwrap()
        } else {
            app.admin_post(path, &[("name", "forged"), ("role", "admin")])
                .await
        };
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "POST {path}");
    }
    assert_eq!(fingerprint().await, before);
    assert_eq!(
        app.get("/admin").await.status(),
        StatusCode::OK,
        "still logged in"
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
    assert!(app.store.api_tokens().all().await.unwrap().is_empty());
    // Content pages are theirs.
    assert_eq!(app.get("/admin/newsletters").await.status(), StatusCode::OK);

    let admin = spawn_app(backend).await;
    admin.add_user("admin@example.org", Role::Admin).await;
    admin.log_in("admin@example.org", PASSWORD).await;
    assert_eq!(admin.get("/admin/settings").await.status(), StatusCode::OK);
}

async fn user_added_on_the_command_line_can_log_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let run = |email: &'static str| {
        let app = &app;
        async move {
            crate::cli::gazette_with_input(
                app,
                &["user", "add", email, "--role", "admin", "--password-stdin"],
                &format!("{PASSWORD}\n"),
            )
            .await
        }
    };
    let added = run("chief@example.org").await;
    assert!(added.status.success(), "{added:?}");
    let again = run("Chief@example.org").await;
    assert_eq!(again.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("already exists"), "{stderr}");

    let login = app.log_in("chief@example.org", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/admin/settings").await.status(), StatusCode::OK);
}

/// The app's mail goes to the loopback SMTP server `port`.
pub fn smtp_at(port: u16) -> impl FnOnce(&mut Settings) {
    move |s: &mut Settings| {
        s.mail.transport = MailTransportKind::Smtp;
        s.mail.smtp.host = "127.0.0.1".into();
        s.mail.smtp.port = port;
        s.mail.smtp.tls = SmtpTls::None;
        s.mail.retry_base_ms = 100;
    }
}

async fn editor_schedules_builds_edits_previews_tests_and_sends(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = spawn_app_with(backend, smtp_at(smtp.port)).await;
    app.add_user("editor@example.org", Role::Editor).await;
    app.log_in("editor@example.org", PASSWORD).await;
    let csrf = app.admin_csrf().await;

    // A bad schedule is refused with the reason and nothing stored.
    let bad = app
        .admin_post(
            "/admin/newsletters",
            &[
                ("csrf", &csrf),
                ("slug", "friday"),
                ("name", "Friday digest"),
                ("schedule", "0 7 * *"),
                ("timezone", "Africa/Bamako"),
            ],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().await.unwrap().contains("schedule"));
    assert!(
        app.store
            .newsletters()
            .by_slug("friday")
            .await
            .unwrap()
            .is_none()
    );

    let created = app
        .admin_post(
            "/admin/newsletters",
            &[
                ("csrf", &csrf),
                ("slug", "friday"),
                ("name", "Friday digest"),
                ("locale", "en"),
                ("max_stories", "5"),
                ("schedule", "0 7 * * FRI"),
                ("timezone", "Africa/Bamako"),
                ("skip_when_empty", "on"),
            ],
        )
        .await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&created), "/admin/newsletters/friday");
    let page = app
        .get("/admin/newsletters/friday")
        .await
        .text()
        .await
        .unwrap();
    let runs = page.split("<ol id=\"next-runs\">").nth(1).unwrap();
    let runs = &runs[..runs.find("</ol>").unwrap()];
    assert_eq!(runs.matches("<li>").count(), 5, "{runs}");
    assert_eq!(runs.matches("Fri ").count(), 5, "{runs}");
    assert!(page.contains("<option value=\"Africa/Bamako\" selected>"));

    // Pause and resume.
    app.admin_post("/admin/newsletters/friday/pause", &[("csrf", &csrf)])
        .await;
    assert!(
        app.store
            .newsletters()
            .by_slug("friday")
            .await
            .unwrap()
            .unwrap()
            .paused
    );
    app.admin_post("/admin/newsletters/friday/pause", &[("csrf", &csrf)])
        .await;
    let newsletter = app
        .store
        .newsletters()
        .by_slug("friday")
        .await
        .unwrap()
        .unwrap();
    assert!(!newsletter.paused);

    for (url, title) in [
        ("https://news.example.org/a", "Bridge reopens"),
        ("https://news.example.org/b", "Market day moves"),
    ] {
        let added = app
            .admin_post(
                "/admin/stories",
                &[
                    ("csrf", &csrf),
                    ("url", url),
                    ("title", title),
                    ("tags", ""),
                ],
            )
            .await;
        assert_eq!(added.status(), StatusCode::SEE_OTHER);
    }
    let stories = app
        .get("/admin/stories?q=bridge")
        .await
        .text()
        .await
        .unwrap();
    assert!(stories.contains("Bridge reopens") && !stories.contains("Market day moves"));

    crate::editor::subscriber(
        &app,
        "reader@example.net",
        "active",
        false,
        "active",
        newsletter.id,
    )
    .await;
    let built = app
        .admin_post("/admin/newsletters/friday/build", &[("csrf", &csrf)])
        .await;
    assert_eq!(built.status(), StatusCode::SEE_OTHER);
    let issue_path = location(&built);
    let issue_id: i64 = issue_path.rsplit('/').next().unwrap().parse().unwrap();
    let stories = app.store.stories().of_issue(issue_id).await.unwrap();
    assert_eq!(stories.len(), 2);

    // Edit: new subject, the second story first, the first dropped.
    let (first, second) = (stories[0].id, stories[1].id);
    let kept_title = stories[1].title.clone();
    let edited = app
        .admin_post(
            &issue_path,
            &[
                ("csrf", &csrf),
                ("subject", "This week in town"),
                ("preheader", "Two things"),
                ("intro", "Hello"),
                (&format!("pos_{first}"), "1"),
                (&format!("drop_{first}"), "on"),
                (&format!("pos_{second}"), "2"),
            ],
        )
        .await;
    assert_eq!(edited.status(), StatusCode::SEE_OTHER);
    let issue = app.store.issues().by_id(issue_id).await.unwrap().unwrap();
    assert_eq!(issue.subject, "This week in town");
    let kept: Vec<i64> = app
        .store
        .stories()
        .of_issue(issue_id)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(kept, vec![second]);

    let preview = app.get(&format!("{issue_path}/preview")).await;
    assert_eq!(preview.status(), StatusCode::OK);
    let preview = preview.text().await.unwrap();
    assert!(preview.contains("KB of Gmail's 102 KB limit"), "{preview}");
    assert!(preview.contains("preview.html"));
    assert!(
        preview.contains("title=\"Desktop preview\"")
            && preview.contains("title=\"Mobile preview\""),
        "desktop and mobile frames: {preview}"
    );
    let text = preview.split("id=\"text-part\"").nth(1).unwrap();
    assert!(text.contains(&kept_title), "the text part: {text}");
    assert!(!text.contains(&stories[0].title), "dropped: {text}");
    let frame = app.get(&format!("{issue_path}/preview.html")).await;
    assert_eq!(frame.status(), StatusCode::OK);
    assert!(frame.text().await.unwrap().contains(&kept_title));

    let test = app
        .admin_post(&format!("{issue_path}/test"), &[("csrf", &csrf)])
        .await;
    assert_eq!(test.status(), StatusCode::OK);
    let mail = smtp.wait_for(1, Duration::from_secs(15)).await.remove(0);
    assert_eq!(mail.to, vec!["editor@example.org".to_string()]);

    // "Send now" asks first, naming how many will receive it.
    let draft_page = app.get(&issue_path).await.text().await.unwrap();
    assert!(
        draft_page.contains(&format!("href=\"{issue_path}/send\"")),
        "{draft_page}"
    );
    let confirm = app
        .get(&format!("{issue_path}/send"))
        .await
        .text()
        .await
        .unwrap();
    assert!(confirm.contains("id=\"recipients\">1<"), "{confirm}");
    assert!(confirm.contains(&format!("action=\"{issue_path}/send\"")));
    let sent = app
        .admin_post(&format!("{issue_path}/send"), &[("csrf", &csrf)])
        .await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&sent), format!("{issue_path}/sending"));
    let sending = app.get(&location(&sent)).await.text().await.unwrap();
    assert!(sending.contains("role=\"progressbar\""));
    let mut progress = serde_json::Value::Null;
    for _ in 0..150 {
        progress = app
            .get(&format!("{issue_path}/progress"))
            .await
            .json()
            .await
            .unwrap();
        if progress["done"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(progress["percent"], 100, "{progress}");
    assert_eq!(progress["sent"], 1, "{progress}");
    assert_eq!(progress["status"], "sent", "{progress}");
    let received = smtp.wait_for(2, Duration::from_secs(15)).await;
    assert!(
        received
            .iter()
            .any(|m| m.to == vec!["reader@example.net".to_string()])
    );

    let dashboard = app.get("/admin").await.text().await.unwrap();
    assert!(dashboard.contains("This week in town"));
    assert!(dashboard.contains("Friday digest"), "next scheduled send");
    // The issue's row: sent, failed, pending; and nothing left in the queue.
    let row = dashboard.split("This week in town").nth(1).unwrap();
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains("<td>sent</td><td>1</td><td>0</td><td>0</td>"),
        "{row}"
    );
    assert!(dashboard.contains("id=\"queue\">0<"), "{dashboard}");

    // The subscriber's page lists the delivery, linked to its issue.
    let reader: i64 = sqlx::query_scalar("SELECT id FROM subscribers WHERE email_key = $1")
        .bind("reader@example.net")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    let detail = app
        .get(&format!("/admin/subscribers/{reader}"))
        .await
        .text()
        .await
        .unwrap();
    let deliveries = detail.split("<h2>Deliveries</h2>").nth(1).unwrap();
    assert!(
        deliveries.contains(&format!("href=\"/admin/issues/{issue_id}\""))
            && deliveries.contains("<td>sent</td>"),
        "{deliveries}"
    );
}

async fn subscribers_are_searched_paged_unsubscribed_and_erased(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("editor@example.org", Role::Editor).await;
    app.log_in("editor@example.org", PASSWORD).await;
    let newsletter = app.store.newsletters().all().await.unwrap().remove(0);
    let mut ids = Vec::new();
    for n in 0..55 {
        let status = if n % 5 == 0 { "pending" } else { "active" };
        ids.push(
            crate::editor::subscriber(
                &app,
                &format!("reader{n:02}@example.net"),
                status,
                false,
                status,
                newsletter.id,
            )
            .await,
        );
    }
    let first = app.get("/admin/subscribers").await.text().await.unwrap();
    assert_eq!(subscriber_links(&first), 50);
    let next = first.split("rel=\"next\"").next().unwrap();
    let next = &next[next.rfind("href=\"").unwrap() + 6..];
    let next = next[..next.find('"').unwrap()].replace("&amp;", "&");
    assert!(next.contains(&format!("after={}", ids[49])), "{next}");
    let second = app.get(&next).await.text().await.unwrap();
    assert_eq!(subscriber_links(&second), 5);

    let pending = app
        .get("/admin/subscribers?status=pending&q=reader1")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(subscriber_links(&pending), 2, "10 and 15");

    // The export has the same filter, every matching row, and a header.
    let other = app
        .store
        .newsletters()
        .create(
            &gazette::newsletters::NewNewsletter {
                slug: "other",
                name: "Other",
                locale: "en",
            },
            gazette::store::now_ms(),
        )
        .await
        .unwrap();
    crate::editor::subscriber(
        &app,
        "=cmd@example.net",
        "active",
        false,
        "active",
        other.id,
    )
    .await;
    let csv = app.get("/admin/subscribers.csv?status=active").await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = csv.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "email,name,status,created_at,confirmed_at");
    assert_eq!(
        lines.len(),
        1 + 44 + 1,
        "44 active readers and one elsewhere"
    );
    assert!(
        csv.contains("\n'=cmd@example.net,"),
        "formula defused: {csv}"
    );
    let only_other = app
        .get("/admin/subscribers.csv?newsletter=other")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(only_other.lines().count(), 2, "{only_other}");
    let filtered = app
        .get("/admin/subscribers?newsletter=other")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(subscriber_links(&filtered), 1);

    let id = ids[1];
    let (detail, left) = app.subscriber_action(id, "unsubscribe").await;
    assert!(detail.contains("reader01@example.net") && detail.contains("Consent record"));
    assert_eq!(left.status(), StatusCode::SEE_OTHER);
    let status: String = sqlx::query_scalar("SELECT status FROM subscribers WHERE id = $1")
        .bind(id)
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(status, "unsubscribed");

    let (_, erased) = app.subscriber_action(id, "erase").await;
    assert_eq!(erased.status(), StatusCode::SEE_OTHER);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM subscribers WHERE id = $1")
        .bind(id)
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(left, 0);
    assert!(
        app.erased_addresses()
            .await
            .is_erased(&app.store, "reader01@example.net")
            .await
            .unwrap()
    );
    assert_eq!(
        app.get(&format!("/admin/subscribers/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
}

async fn admins_create_and_revoke_tokens_and_check_mail(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let app = spawn_app_with(backend, smtp_at(smtp.port)).await;
    app.add_user("admin@example.org", Role::Admin).await;
    app.log_in("admin@example.org", PASSWORD).await;
    let csrf = app.admin_csrf().await;
    let created = app
        .admin_post(
            "/admin/settings/tokens",
            &[("csrf", &csrf), ("name", "cms")],
        )
        .await
        .text()
        .await
        .unwrap();
    let secret = created
        .split("<pre class=\"text\" id=\"new-token\">")
        .nth(1)
        .unwrap();
    let secret = &secret[..secret.find('<').unwrap()];
    let api = app
        .client
        .get(app.url("/api/newsletters"))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::OK);
    let token = app.store.api_tokens().all().await.unwrap().remove(0);
    let revoked = app
        .admin_post(
            &format!("/admin/settings/tokens/{}/revoke", token.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    let api = app
        .client
        .get(app.url("/api/newsletters"))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);

    let check = app
        .admin_post("/admin/settings/mail-check", &[("csrf", &csrf)])
        .await
        .text()
        .await
        .unwrap();
    assert!(check.contains("the server answered"), "{check}");
    smtp.stop();
    let check = app
        .admin_post("/admin/settings/mail-check", &[("csrf", &csrf)])
        .await
        .text()
        .await
        .unwrap();
    assert!(check.contains("Cannot use 127.0.0.1"), "{check}");
}

async fn schedule_preview_and_hidden_stories(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("editor@example.org", Role::Editor).await;
    app.log_in("editor@example.org", PASSWORD).await;
    let runs: serde_json::Value = app
        .get("/admin/schedule-preview?schedule=0+7+*+*+FRI&timezone=Europe%2FParis")
        .await
        .json()
        .await
        .unwrap();
    let runs = runs["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 5);
    assert!(runs.iter().all(|r| r.as_str().unwrap().starts_with("Fri ")));
    let bad: serde_json::Value = app
        .get("/admin/schedule-preview?schedule=61+*+*+*+*&timezone=UTC")
        .await
        .json()
        .await
        .unwrap();
    assert!(bad["error"].as_str().unwrap().contains("schedule"), "{bad}");

    let csrf = app.admin_csrf().await;
    app.admin_post(
        "/admin/stories",
        &[
            ("csrf", &csrf),
            ("url", "https://news.example.org/x"),
            ("title", "Hide me"),
        ],
    )
    .await;
    let story: i64 = sqlx::query_scalar("SELECT id FROM stories")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    let hidden = app
        .admin_post(&format!("/admin/stories/{story}/hide"), &[("csrf", &csrf)])
        .await;
    assert_eq!(hidden.status(), StatusCode::SEE_OTHER);
    assert!(
        app.store
            .stories()
            .by_id(story)
            .await
            .unwrap()
            .unwrap()
            .hidden
    );
    let page = app.get("/admin/stories").await.text().await.unwrap();
    assert!(page.contains("(hidden)") && page.contains(">Show<"));
    app.admin_post(&format!("/admin/stories/{story}/hide"), &[("csrf", &csrf)])
        .await;
    assert!(
        !app.store
            .stories()
            .by_id(story)
            .await
            .unwrap()
            .unwrap()
            .hidden
    );
}

async fn session_cookie_is_secure_on_https_sites(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.server.base_url = "https://news.example.org".into();
    })
    .await;
    let login = app.get("/admin/login").await;
    let cookie = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("gazette_admin="))
        .expect("a session cookie with the login form's token");
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
}

async fn a_draft_is_cancelled_and_editing_it_then_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_user("editor@example.org", Role::Editor).await;
    app.log_in("editor@example.org", PASSWORD).await;
    let csrf = app.admin_csrf().await;
    app.admin_post(
        "/admin/stories",
        &[
            ("csrf", &csrf),
            ("url", "https://news.example.org/c"),
            ("title", "Council votes"),
        ],
    )
    .await;
    let slug = app.store.newsletters().all().await.unwrap().remove(0).slug;
    let built = app
        .admin_post(
            &format!("/admin/newsletters/{slug}/build"),
            &[("csrf", &csrf)],
        )
        .await;
    let issue_path = location(&built);
    let issues = app.get("/admin/issues").await.text().await.unwrap();
    assert!(
        issues.contains(&format!("href=\"{issue_path}\"")),
        "{issues}"
    );
    let cancelled = app
        .admin_post(&format!("{issue_path}/cancel"), &[("csrf", &csrf)])
        .await;
    assert_eq!(cancelled.status(), StatusCode::SEE_OTHER);
    let id: i64 = issue_path.rsplit('/').next().unwrap().parse().unwrap();
    let issue = app.store.issues().by_id(id).await.unwrap().unwrap();
    assert_eq!(issue.status.as_str(), "cancelled");
    // A cancelled issue is not a draft: the edit is refused with a page.
    let edit = app
        .admin_post(&issue_path, &[("csrf", &csrf), ("subject", "Too late")])
        .await;
    assert_eq!(edit.status(), StatusCode::BAD_REQUEST);
    assert!(
        edit.text()
            .await
            .unwrap()
            .contains("only a draft can be edited")
    );
    assert_ne!(
        app.store.issues().by_id(id).await.unwrap().unwrap().subject,
        "Too late"
    );
}

/// A DNS server on loopback (Debian's dnsmasq) answering with the records
/// given, stopped when dropped.
struct Dnsmasq {
    port: u16,
    child: std::process::Child,
}

impl Dnsmasq {
    /// Starts dnsmasq and returns once it answers a query: on a busy CI
    /// machine it can take well over a fixed pause, and the port picked
    /// free for UDP may be taken for TCP, in which case it exits and is
    /// started again on another.
    async fn start(records: &[String]) -> Dnsmasq {
        for _ in 0..5 {
            let port = std::net::UdpSocket::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let child = std::process::Command::new("dnsmasq")
                .args([
                    "--keep-in-foreground",
                    "--no-resolv",
                    "--no-hosts",
                    "--conf-file=/dev/null",
                    "--pid-file=",
                    "--bind-interfaces",
                    "--listen-address=127.0.0.1",
                ])
                .arg(format!("--port={port}"))
                .args(records)
                .spawn()
                .expect("dnsmasq runs (Debian's dnsmasq-base; .ci/run installs it)");
            let mut server = Dnsmasq { port, child };
            if server.answers().await {
                return server;
            }
        }
        panic!("dnsmasq never answered on loopback");
    }

    /// Waits up to 20 s for an answer from the server, false if it exited.
    async fn answers(&mut self) -> bool {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        // a query for the A record of "a." with id 0x4721
        let query = [
            0x47, 0x21, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0, 0, 1, 0, 1,
        ];
        let mut buf = [0u8; 512];
        for _ in 0..200 {
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            let _ = socket.send_to(&query, ("127.0.0.1", self.port)).await;
            let reply = tokio::time::timeout(
                std::time::Duration::from_millis(100),
                socket.recv_from(&mut buf),
            )
            .await;
            if let Ok(Ok((n, _))) = reply
                && n >= 2
                && buf[..2] == query[..2]
            {
                return true;
            }
        }
        false
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the DNS check said of a record on the settings page.
fn finding_of<'a>(page: &'a str, record: &str) -> &'a str {
    let row = &page[page
        .find(&format!("data-record=\"{record}\""))
        .unwrap_or_else(|| panic!("no {record} row"))..];
    let at = row.find("data-finding=\"").expect("a finding") + "data-finding=\"".len();
    &row[at..at + row[at..].find('"').unwrap()]
}

/// Settings show every DNS record a bulk sender publishes, filled from the
/// configuration, and check each against a DNS server holding right and
/// wrong ones.
async fn settings_show_and_check_the_dns_records(backend: Backend) {
    let dkim = gazette::config::DkimSettings {
        domain: "example.org".into(),
        selector: "gazette".into(),
        private_key_path: std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/api/fixtures/dkim-rsa-pkcs1.pem"),
    };
    let record = gazette::delivery::dkim::DkimSigner::load(&dkim)
        .unwrap()
        .dns_txt_record();
    // TXT strings are at most 255 bytes: the key record comes in pieces.
    let pieces: Vec<String> = record
        .as_bytes()
        .chunks(200)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    let dns = Dnsmasq::start(&[
        format!(
            "--txt-record=gazette._domainkey.example.org,{}",
            pieces.join(",")
        ),
        "--txt-record=_dmarc.example.org,v=DMARC1; p=none".into(),
        "--txt-record=bounces.example.org,v=spf1 a:relay.example.net ~all".into(),
        "--txt-record=bounces.example.org,v=spf1 include:other.example ~all".into(),
        "--mx-host=bounces.example.org,elsewhere.example.net,10".into(),
    ])
    .await;
    let dns_port = dns.port;
    let app = spawn_app_with(backend, move |s| {
        s.mail.dkim = Some(dkim);
        s.mail.from.address = "news@example.org".into();
        s.mail.bounce.domain = Some("bounces.example.org".into());
        s.mail.bounce.complaints_address = Some("fbl@bounces.example.org".into());
        s.server.base_url = "https://gazette.example.org".into();
        s.dns.servers = vec![format!("127.0.0.1:{dns_port}")];
    })
    .await;
    app.add_user("admin@example.org", Role::Admin).await;
    app.log_in("admin@example.org", PASSWORD).await;
    let settings = app.get("/admin/settings").await.text().await.unwrap();
    for shown in [
        "<code>gazette._domainkey.example.org</code>",
        record.as_str(),
        "<code>_dmarc.example.org</code>",
        "v=DMARC1; p=none; rua=mailto:fbl@bounces.example.org",
        "<code>bounces.example.org</code>",
        "10 gazette.example.org.",
    ] {
        assert!(settings.contains(shown), "{shown} in {settings}");
    }
    assert!(!settings.contains("data-finding"), "no check until asked");

    let checked = app
        .admin_post(
            "/admin/settings/dns-check",
            &[("csrf", &csrf_of(&settings))],
        )
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(finding_of(&checked, "DKIM"), "right", "{checked}");
    assert_eq!(finding_of(&checked, "DMARC"), "right");
    assert_eq!(finding_of(&checked, "SPF"), "wrong", "two SPF records");
    assert!(checked.contains("2 SPF records"));
    assert_eq!(finding_of(&checked, "MX (bounces)"), "wrong");
    assert!(checked.contains("points at elsewhere.example.net"));
    drop(dns);
}

crate::both_databases!(
    every_post_route_refuses_a_missing_csrf_token,
    admin_pages_load_nothing_from_elsewhere,
    settings_show_and_check_the_dns_records,
    a_draft_is_cancelled_and_editing_it_then_is_refused,
    schedule_preview_and_hidden_stories,
    session_cookie_is_secure_on_https_sites,
    editor_schedules_builds_edits_previews_tests_and_sends,
    subscribers_are_searched_paged_unsubscribed_and_erased,
    admins_create_and_revoke_tokens_and_check_mail,
    every_admin_route_redirects_to_login_without_a_session,
    wrong_password_gets_the_generic_message_and_right_one_the_dashboard,
    logins_are_rate_limited_per_address,
    forged_posts_without_the_csrf_token_change_nothing,
    editors_get_403_on_admin_only_pages,
    user_added_on_the_command_line_can_log_in,
);
