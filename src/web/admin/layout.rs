//! The admin's page frame: a nav (Dashboard, Newsletters, Stories, Issues,
//! Subscribers, Bounces, Settings), the user and a logout button, and the admin CSS
//! inline. No script or font from anywhere else: pages work offline and
//! without JavaScript.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::auth::Editor;
use super::csrf;

const ADMIN_CSS: &str = include_str!("admin.css");

/// The sections in the nav, with their paths.
const NAV: [(&str, &str); 7] = [
    ("Dashboard", "/admin"),
    ("Newsletters", "/admin/newsletters"),
    ("Stories", "/admin/stories"),
    ("Issues", "/admin/issues"),
    ("Subscribers", "/admin/subscribers"),
    ("Bounces", "/admin/bounces"),
    ("Settings", "/admin/settings"),
];

fn document(title: &str, head_extra: Markup, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (title) " · Gazette admin" }
                style { (PreEscaped(ADMIN_CSS)) }
                (head_extra)
            }
            body { (body) }
        }
    }
}

fn respond(status: StatusCode, page: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Frame-Options", "SAMEORIGIN"))
        .body(page.into_string())
}

/// A page outside the nav (the login).
pub fn bare_page(status: StatusCode, title: &str, body: Markup) -> HttpResponse {
    respond(
        status,
        document(title, html! {}, html! { main class="narrow" { (body) } }),
    )
}

/// A page in the admin, `section` being the nav entry to highlight.
pub fn page(editor: &Editor, section: &str, title: &str, body: Markup) -> HttpResponse {
    page_with_head(editor, section, title, html! {}, body)
}

/// The same with something extra in `<head>` (a refresh while sending).
pub fn page_with_head(
    editor: &Editor,
    section: &str,
    title: &str,
    head_extra: Markup,
    body: Markup,
) -> HttpResponse {
    let body = html! {
        header class="top" {
            strong class="brand" { "Gazette" }
            nav {
                @for (name, path) in NAV {
                    @if name == section {
                        a href=(path) aria-current="page" { (name) }
                    } @else {
                        a href=(path) { (name) }
                    }
                }
            }
            form method="post" action="/admin/logout" class="logout" {
                (csrf::field(&editor.csrf))
                a class="who" href="/admin/account" title="Your account" { (editor.user.email) " · " (editor.user.role) }
                button type="submit" class="link" { "Log out" }
            }
        }
        main { h1 { (title) } (body) }
    };
    respond(StatusCode::OK, document(title, head_extra, body))
}

/// The link to the next page of a list paged by id, newest first: shown
/// when `rows` filled the page, pointing past its last row (`href` makes
/// the address from that id).
pub fn older_link<T>(
    rows: &[T],
    page_size: i64,
    id: impl Fn(&T) -> i64,
    href: impl Fn(i64) -> String,
    label: &str,
) -> Markup {
    let full = i64::try_from(rows.len()).is_ok_and(|n| n == page_size);
    match rows.last().filter(|_| full) {
        Some(last) => html! { p { a href=(href(id(last))) { (label) } } },
        None => html! {},
    }
}

/// Unix ms as a UTC time for tables.
pub fn when(ms: i64) -> String {
    crate::console::format_ms(ms)
}

pub fn opt_when(ms: Option<i64>) -> String {
    ms.map(when).unwrap_or_else(|| "—".to_string())
}
