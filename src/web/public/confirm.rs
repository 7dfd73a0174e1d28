//! `GET /confirm?token=` shows a page whose one form POSTs the token, sent
//! at once by a line of script: a person sees "You're subscribed" with no
//! extra click, while a mail scanner that only fetches the link confirms
//! nothing. Without script the button does it. `POST /confirm` confirms and
//! is idempotent. Expired and unknown tokens get a form to ask for a new
//! link, which runs an ordinary signup (same answers, same limits).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use email_templates::Locale;
use maud::{PreEscaped, html};

use super::subscribe::{form_pairs, honeypot, locale_of, query_param, token_page, unavailable};
use crate::subscriptions::confirm::{self, ConfirmOutcome};
use crate::web::AppState;
use crate::web::client_info::ClientInfo;

/// The page's one line of script; the security headers allow it by its
/// hash, and nothing else.
pub const CONFIRM_SCRIPT: &str = "document.getElementById('confirm-form').submit();";

pub async fn page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let Some(token) = query_param(&req, "token") else {
        return expired(&state, Locale::En, &[], StatusCode::NOT_FOUND);
    };
    match confirm::inspect_token(&state.store, &token).await {
        Ok(ConfirmOutcome::Confirmed { locale }) => {
            // A welcome email may have been queued.
            state.mail_waker.wake();
            let locale = locale_of(&locale);
            let w = &state.templates.words(locale).pages.confirm;
            token_page(
                StatusCode::OK,
                locale,
                &w.title,
                html! {
                    h1 { (w.title) }
                    form #confirm-form method="post" action="/confirm" {
                        input type="hidden" name="token" value=(token);
                        button type="submit" { (w.button) }
                    }
                    script { (PreEscaped(CONFIRM_SCRIPT)) }
                },
            )
        }
        Ok(ConfirmOutcome::Expired {
            locale,
            newsletters,
        }) => expired(&state, locale_of(&locale), &newsletters, StatusCode::GONE),
        Ok(ConfirmOutcome::Unknown) => expired(&state, Locale::En, &[], StatusCode::NOT_FOUND),
        Err(error) => {
            tracing::error!(%error, "confirmation page failed");
            unavailable(&state, Locale::En)
        }
    }
}

pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    client: ClientInfo,
    body: web::Bytes,
) -> HttpResponse {
    let token = form_pairs(&body)
        .into_iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
        .or_else(|| query_param(&req, "token"));
    let Some(token) = token else {
        return expired(&state, Locale::En, &[], StatusCode::NOT_FOUND);
    };
    match confirm::confirm_subscription(&state.store, &token, &client.meta()).await {
        Ok(ConfirmOutcome::Confirmed { locale }) => {
            // A welcome email may have been queued.
            state.mail_waker.wake();
            let locale = locale_of(&locale);
            let w = &state.templates.words(locale).pages.confirm;
            token_page(
                StatusCode::OK,
                locale,
                &w.done_title,
                html! {
                    h1 #confirmed { (w.done_title) }
                    p { (w.done_body) }
                },
            )
        }
        Ok(ConfirmOutcome::Expired {
            locale,
            newsletters,
        }) => expired(&state, locale_of(&locale), &newsletters, StatusCode::GONE),
        Ok(ConfirmOutcome::Unknown) => expired(&state, Locale::En, &[], StatusCode::NOT_FOUND),
        Err(error) => {
            tracing::error!(%error, "confirmation failed");
            unavailable(&state, Locale::En)
        }
    }
}

/// The page for a link that cannot confirm: a form asking for the address
/// (never showing it: whoever holds an old link must not learn it).
fn expired(
    state: &AppState,
    locale: Locale,
    newsletters: &[String],
    status: StatusCode,
) -> HttpResponse {
    let pages = &state.templates.words(locale).pages;
    let w = &pages.expired;
    token_page(
        status,
        locale,
        &w.title,
        html! {
            h1 { (w.title) }
            p { (w.body) }
            form method="post" action="/subscribe" id="new-link-form" {
                label for="email" { (pages.subscribe.email_label) }
                input #email type="email" name="email" autocomplete="email" required
                    maxlength="254";
                @for slug in newsletters {
                    input type="hidden" name="newsletter" value=(slug);
                }
                (honeypot())
                button type="submit" { (w.button) }
            }
        },
    )
}
