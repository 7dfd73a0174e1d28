//! The `/admin` UI for editors: server-rendered maud pages that work without
//! JavaScript, behind a login ([`auth`]), a session cookie ([`session`])
//! and a CSRF token on every form ([`csrf`]). Handlers are thin: they call
//! the same domain functions as the JSON API and the CLI.

use actix_web::middleware::from_fn;
use actix_web::web;

pub mod account;
pub mod auth;
pub mod bounces;
pub mod csrf;
pub mod dashboard;
pub mod dmarc;
pub mod dns_records;
pub mod error;
pub mod feeds;
pub mod imports;
pub mod issue_progress;
pub mod issue_send;
pub mod issues;
pub mod layout;
pub mod newsletters;
pub mod schedule_preview;
pub mod session;
pub mod settings;
pub mod setup;
pub mod stories;
pub mod subscribers;
pub mod users;
pub mod welcome;

/// The `/admin` scope, wrapped in the session middleware (and nothing else
/// is).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .wrap(from_fn(session::with_session))
            .route("", web::get().to(dashboard::dashboard))
            .route("/", web::get().to(dashboard::dashboard))
            .route("/login", web::get().to(auth::login_page))
            .route("/login", web::post().to(auth::login))
            .route("/logout", web::post().to(auth::logout))
            .route("/account", web::get().to(account::show))
            .route(
                "/account/password",
                web::post().to(account::change_password),
            )
            .route(
                "/account/sessions",
                web::post().to(account::end_other_sessions),
            )
            .route("/newsletters", web::get().to(newsletters::list))
            .route("/newsletters", web::post().to(newsletters::create))
            .route("/newsletters/new", web::get().to(newsletters::new_form))
            .route("/newsletters/{slug}", web::get().to(newsletters::show))
            .route("/newsletters/{slug}", web::post().to(newsletters::update))
            .route("/newsletters/{slug}/welcome", web::get().to(welcome::show))
            .route("/newsletters/{slug}/welcome", web::post().to(welcome::save))
            .route(
                "/newsletters/{slug}/welcome/preview.html",
                web::get().to(welcome::preview_html),
            )
            .route(
                "/newsletters/{slug}/pause",
                web::post().to(newsletters::toggle_pause),
            )
            .route(
                "/newsletters/{slug}/build",
                web::post().to(newsletters::build_now),
            )
            .route("/stories", web::get().to(stories::list))
            .route("/stories", web::post().to(stories::add))
            .route("/feeds", web::post().to(feeds::add))
            .route("/stories/{id}", web::get().to(stories::edit_form))
            .route("/stories/{id}", web::post().to(stories::edit))
            .route("/stories/{id}/hide", web::post().to(stories::toggle_hidden))
            .route(
                "/schedule-preview",
                web::get().to(schedule_preview::schedule_preview),
            )
            .route("/issues", web::get().to(issues::list))
            .route("/issues/{id}", web::get().to(issues::show))
            .route("/issues/{id}", web::post().to(issues::edit))
            .route("/issues/{id}/preview", web::get().to(issues::preview))
            .route(
                "/issues/{id}/preview.html",
                web::get().to(issues::preview_html),
            )
            .route("/issues/{id}/test", web::post().to(issues::test_send))
            .route("/issues/{id}/send", web::get().to(issue_send::confirm))
            .route("/issues/{id}/send", web::post().to(issue_send::send))
            .route("/issues/{id}/schedule", web::post().to(issues::schedule))
            .route("/issues/{id}/cancel", web::post().to(issues::cancel))
            .route(
                "/issues/{id}/sending",
                web::get().to(issue_progress::sending_page),
            )
            .route(
                "/issues/{id}/progress",
                web::get().to(issue_progress::progress_json),
            )
            .route("/subscribers", web::get().to(subscribers::list))
            .route("/subscribers.csv", web::get().to(subscribers::export_csv))
            .route("/subscribers/import", web::get().to(imports::form))
            .route("/subscribers/import", web::post().to(imports::upload))
            .route("/imports/{id}", web::get().to(imports::show))
            .route(
                "/imports/{id}/progress",
                web::get().to(imports::progress_json),
            )
            .route(
                "/imports/{id}/rejected.csv",
                web::get().to(imports::rejected_csv),
            )
            .route("/subscribers/{id}", web::get().to(subscribers::show))
            .route(
                "/subscribers/{id}/unsubscribe",
                web::post().to(subscribers::unsubscribe),
            )
            .route(
                "/subscribers/{id}/erase",
                web::post().to(subscribers::erase),
            )
            .route("/bounces", web::get().to(bounces::list))
            .route("/bounces/{id}", web::get().to(bounces::show))
            .route("/dmarc", web::get().to(dmarc::list))
            .route("/dmarc/{id}", web::get().to(dmarc::show))
            .route("/users", web::get().to(users::list))
            .route("/users", web::post().to(users::add))
            .route("/users/{id}/role", web::post().to(users::change_role))
            .route("/users/{id}/sessions", web::post().to(users::end_sessions))
            .route("/users/{id}/remove", web::post().to(users::remove))
            .route("/settings", web::get().to(settings::show))
            .route("/settings/tokens", web::post().to(settings::create_token))
            .route(
                "/settings/tokens/{id}/revoke",
                web::post().to(settings::revoke_token),
            )
            .route("/settings/mail-check", web::post().to(settings::mail_check))
            .route(
                "/settings/dns-check",
                web::post().to(dns_records::dns_check),
            ),
    );
}

/// Tags typed in a form field as "a, b, c": trimmed, empty ones dropped.
fn tag_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect()
}
