//! `GET /unsubscribe?token=` shows one button; `POST` to the same URL
//! unsubscribes, from every newsletter or from `newsletter=SLUG`. The POST
//! is also the RFC 8058 one-click target (`List-Unsubscribe=One-Click`):
//! no cookie, no CSRF token, no redirect, 200 at once. The token is the
//! signed manage link ([`crate::links`]), valid forever, so the link in a
//! years-old email still works.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use email_templates::Locale;
use maud::html;

use super::subscribe::{form_pairs, invalid_link, locale_of, query_param, token_page, unavailable};
use crate::links::LinkPurpose;
use crate::subscriptions::ConsentSource;
use crate::subscriptions::manage::{self, UnsubscribeScope};
use crate::web::AppState;
use crate::web::client_info::ClientInfo;

pub async fn page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let token = query_param(&req, "token").unwrap_or_default();
    let Some(subscriber_id) = state.links.verify(LinkPurpose::Manage, &token) else {
        return invalid_link(&state, Locale::En);
    };
    let locale = subscriber_locale(&state, subscriber_id).await;
    let w = &state.templates.words(locale).pages.unsubscribe;
    let mut action = format!("/unsubscribe?token={}", encode(&token));
    if let Some(slug) = query_param(&req, "newsletter") {
        action.push_str(&format!("&newsletter={}", encode(&slug)));
    }
    token_page(
        StatusCode::OK,
        locale,
        &w.title,
        html! {
            h1 { (w.title) }
            p { (w.body) }
            form method="post" action=(action) {
                button type="submit" { (w.button) }
            }
        },
    )
}

pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    client: ClientInfo,
    body: web::Bytes,
) -> HttpResponse {
    let token = query_param(&req, "token").unwrap_or_default();
    let Some(subscriber_id) = state.links.verify(LinkPurpose::Manage, &token) else {
        return invalid_link(&state, Locale::En);
    };
    let pairs = form_pairs(&body);
    let one_click = pairs
        .iter()
        .any(|(k, v)| k == "List-Unsubscribe" && v == "One-Click");
    let newsletter = query_param(&req, "newsletter").or_else(|| {
        pairs
            .iter()
            .find(|(k, v)| k == "newsletter" && !v.is_empty())
            .map(|(_, v)| v.clone())
    });
    let scope = newsletter.map_or(UnsubscribeScope::All, UnsubscribeScope::Newsletter);
    let source = if one_click {
        ConsentSource::OneClick
    } else {
        ConsentSource::Link
    };
    let locale = subscriber_locale(&state, subscriber_id).await;
    // A subscriber erased since the email was sent is unsubscribed already.
    if let Err(error) =
        manage::unsubscribe(&state.store, subscriber_id, &scope, source, &client.meta()).await
    {
        tracing::error!(%error, "unsubscribe failed");
        return unavailable(&state, locale);
    }
    let w = &state.templates.words(locale).pages.unsubscribe;
    token_page(
        StatusCode::OK,
        locale,
        &w.done_title,
        html! {
            h1 #unsubscribed { (w.done_title) }
            p { (w.done_body) }
        },
    )
}

pub async fn subscriber_locale(state: &AppState, subscriber_id: i64) -> Locale {
    match manage::subscriber_view(&state.store, subscriber_id).await {
        Ok(Some(view)) => locale_of(&view.subscriber.locale),
        _ => Locale::En,
    }
}

pub fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
