//! The public archive: `/archive/SLUG` lists a newsletter's published
//! issues, newest first, and `/archive/SLUG/ID` shows one as a web page (the
//! "view in browser" link of every email). Drafts, skipped and cancelled
//! issues are not there. An issue is published from the moment it starts
//! sending, because the first recipients click "view in browser" while the
//! rest are still being sent. Everything from outside is escaped by maud.
//! The same issues are an Atom feed ([`super::archive_feed`]).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono_tz::Tz;
use email_templates::Locale;
use maud::html;
use serde::Deserialize;

use crate::issues::render;
use crate::newsletters::Newsletter;
use crate::web::AppState;
use crate::web::pages::{error_page, frame_with_head};

pub fn routes(cfg: &mut web::ServiceConfig) {
    // before the issue route, which would take "feed.xml" for an id
    cfg.route("/archive/{slug}", web::get().to(list))
        .route(
            "/archive/{slug}/feed.xml",
            web::get().to(super::archive_feed::feed),
        )
        .route("/archive/{slug}/{id}", web::get().to(show));
}

const PER_PAGE: i64 = 20;

struct ArchiveWords {
    title: &'static str,
    follow: &'static str,
    empty: &'static str,
    newer: &'static str,
    older: &'static str,
}

fn words(locale: Locale) -> ArchiveWords {
    match locale {
        Locale::En => ArchiveWords {
            title: "Archive",
            follow: "Follow in a feed reader (Atom)",
            empty: "No issue has been published yet.",
            newer: "Newer issues",
            older: "Older issues",
        },
        Locale::Fr => ArchiveWords {
            title: "Archives",
            follow: "Suivre dans un lecteur de flux (Atom)",
            empty: "Aucun numéro n'a encore été publié.",
            newer: "Numéros plus récents",
            older: "Numéros plus anciens",
        },
    }
}

fn not_found() -> HttpResponse {
    error_page(
        StatusCode::NOT_FOUND,
        "Issue not found",
        "We could not find that newsletter issue. It may not have been published yet; check the link.",
    )
}

fn unavailable(error: &dyn std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %error, "archive page failed");
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "The archive cannot be shown right now. Please try again in a moment.",
    )
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    page: Option<String>,
}

async fn published_newsletter(
    state: &AppState,
    slug: &str,
) -> Result<Option<Newsletter>, HttpResponse> {
    state
        .store
        .newsletters()
        .by_slug(slug)
        .await
        .map_err(|e| unavailable(&e))
}

async fn list(
    state: web::Data<AppState>,
    slug: web::Path<String>,
    query: web::Query<PageQuery>,
) -> HttpResponse {
    let newsletter = match published_newsletter(&state, &slug).await {
        Ok(Some(newsletter)) => newsletter,
        Ok(None) => return not_found(),
        Err(page) => return page,
    };
    // A bad page number shows the first page rather than an error.
    let page = query
        .page
        .as_deref()
        .and_then(|p| p.parse::<i64>().ok())
        .filter(|p| (1..=100_000).contains(p))
        .unwrap_or(1);
    let offset = (page - 1) * PER_PAGE;
    let (mut listed, mut counted) = (state.store.issues(), state.store.issues());
    let (issues, total) = match tokio::try_join!(
        listed.published(newsletter.id, PER_PAGE, offset),
        counted.count_published(newsletter.id)
    ) {
        Ok(found) => found,
        Err(error) => return unavailable(&error),
    };
    let locale: Locale = newsletter.locale.parse().unwrap_or_default();
    let tz: Tz = newsletter.timezone.parse().unwrap_or(Tz::UTC);
    let words = words(locale);
    let title = format!("{} · {}", newsletter.name, words.title);
    let feed_url = format!("/archive/{}/feed.xml", newsletter.slug);
    let head = html! {
        link rel="alternate" type="application/atom+xml" title=(newsletter.name) href=(feed_url);
    };
    let body = html! {
        h1 { (newsletter.name) }
        @if !newsletter.description.is_empty() {
            p { (newsletter.description) }
        }
        h2 { (words.title) }
        @if issues.is_empty() {
            p { (words.empty) }
        } @else {
            ul.archive {
                @for issue in &issues {
                    li {
                        a href=(format!("/archive/{}/{}", newsletter.slug, issue.id)) { (issue.subject) }
                        " · "
                        time { (render::format_date(locale, issue.send_at.unwrap_or(issue.created_at), tz)) }
                    }
                }
            }
        }
        p.feed {
            a href=(feed_url) type="application/atom+xml" { (words.follow) }
        }
        p.pages {
            @if page > 1 {
                a href=(format!("/archive/{}?page={}", newsletter.slug, page - 1)) { "← " (words.newer) }
                " "
            }
            @if offset + PER_PAGE < total {
                a href=(format!("/archive/{}?page={}", newsletter.slug, page + 1)) { (words.older) " →" }
            }
        }
    };
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(frame_with_head(locale.as_str(), &title, head, body).into_string())
}

async fn show(state: web::Data<AppState>, path: web::Path<(String, String)>) -> HttpResponse {
    let (slug, id) = path.into_inner();
    let Ok(id) = id.parse::<i64>() else {
        return not_found();
    };
    let content = match state.store.issue_content(id).await {
        Ok(Some(content)) => content,
        Ok(None) => return not_found(),
        Err(error) => return unavailable(&error),
    };
    if content.newsletter.slug != slug || !content.issue.status.is_published() {
        return not_found();
    }
    match render::render_web_view(&state.templates, &state.settings, &content) {
        Ok(page) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(page),
        Err(error) => unavailable(&error),
    }
}
