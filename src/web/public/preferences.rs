//! `GET /preferences?token=`: choose newsletters, pause or resume, download
//! my data, delete me. The signed token in the URL is the capability (it
//! reaches only the mailbox it was sent to); every change is still a POST,
//! so a link preview or a scanner changes nothing.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_DISPOSITION, ContentDisposition};
use actix_web::{HttpRequest, HttpResponse, web};
use email_templates::Locale;
use maud::html;

use super::subscribe::{form_pairs, invalid_link, locale_of, query_param, token_page, unavailable};
use super::unsubscribe::encode;
use crate::links::LinkPurpose;
use crate::subscriptions::manage::{self, SubscriberView};
use crate::web::AppState;
use crate::web::client_info::ClientInfo;

/// What the page says above the forms after a change.
enum Notice {
    None,
    Saved,
}

pub async fn page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let Some((token, id)) = verified(&state, &req) else {
        return invalid_link(&state, Locale::En);
    };
    show(&state, &token, id, Notice::None).await
}

pub async fn save(
    state: web::Data<AppState>,
    req: HttpRequest,
    client: ClientInfo,
    body: web::Bytes,
) -> HttpResponse {
    let Some((token, id)) = verified(&state, &req) else {
        return invalid_link(&state, Locale::En);
    };
    let chosen: Vec<String> = form_pairs(&body)
        .into_iter()
        .filter(|(k, _)| k == "newsletter")
        .map(|(_, v)| v)
        .collect();
    match manage::choose_newsletters(&state.store, id, &chosen, &client.meta()).await {
        Ok(_) => show(&state, &token, id, Notice::Saved).await,
        Err(error) => failed(&state, &error),
    }
}

pub async fn pause(
    state: web::Data<AppState>,
    req: HttpRequest,
    client: ClientInfo,
) -> HttpResponse {
    set_paused(state, req, client, true).await
}

pub async fn resume(
    state: web::Data<AppState>,
    req: HttpRequest,
    client: ClientInfo,
) -> HttpResponse {
    set_paused(state, req, client, false).await
}

async fn set_paused(
    state: web::Data<AppState>,
    req: HttpRequest,
    client: ClientInfo,
    paused: bool,
) -> HttpResponse {
    let Some((token, id)) = verified(&state, &req) else {
        return invalid_link(&state, Locale::En);
    };
    match manage::set_paused(&state.store, id, paused, &client.meta()).await {
        Ok(_) => show(&state, &token, id, Notice::Saved).await,
        Err(error) => failed(&state, &error),
    }
}

/// The subscriber's data as a JSON download.
pub async fn export(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let Some((_, id)) = verified(&state, &req) else {
        return invalid_link(&state, Locale::En);
    };
    match manage::export_data(&state.store, id).await {
        Ok(Some(data)) => HttpResponse::Ok()
            .insert_header((
                CONTENT_DISPOSITION,
                ContentDisposition::attachment("gazette-my-data.json"),
            ))
            .insert_header(("Referrer-Policy", "no-referrer"))
            .insert_header(("Cache-Control", "no-store"))
            .json(data),
        Ok(None) => invalid_link(&state, Locale::En),
        Err(error) => failed(&state, &error),
    }
}

pub async fn delete(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let Some((_, id)) = verified(&state, &req) else {
        return invalid_link(&state, Locale::En);
    };
    let locale = super::unsubscribe::subscriber_locale(&state, id).await;
    match manage::erase(&state.store, &state.erased_addresses, id).await {
        Ok(_) => {
            let w = &state.templates.words(locale).pages.preferences;
            token_page(
                StatusCode::OK,
                locale,
                &w.deleted_title,
                html! {
                    h1 #deleted { (w.deleted_title) }
                    p { (w.deleted_body) }
                },
            )
        }
        Err(error) => failed(&state, &error),
    }
}

fn verified(state: &AppState, req: &HttpRequest) -> Option<(String, i64)> {
    let token = query_param(req, "token")?;
    let id = state.links.verify(LinkPurpose::Manage, &token)?;
    Some((token, id))
}

fn failed(state: &AppState, error: &dyn std::fmt::Display) -> HttpResponse {
    tracing::error!(%error, "preferences change failed");
    unavailable(state, Locale::En)
}

async fn show(state: &AppState, token: &str, id: i64, notice: Notice) -> HttpResponse {
    let (view, newsletters) = match (
        manage::subscriber_view(&state.store, id).await,
        state.store.newsletters().all().await,
    ) {
        (Ok(Some(view)), Ok(newsletters)) => (view, newsletters),
        // Erased: the link has nothing left to manage.
        (Ok(None), _) => return invalid_link(state, Locale::En),
        _ => return unavailable(state, Locale::En),
    };
    let SubscriberView {
        subscriber,
        subscriptions,
    } = view;
    let locale = locale_of(&subscriber.locale);
    let w = &state.templates.words(locale).pages.preferences;
    let query = format!("token={}", encode(token));
    let receives = |newsletter_id: i64| {
        subscriptions.iter().any(|s| {
            s.newsletter_id == newsletter_id
                && s.status != crate::subscriptions::SubscriptionStatus::Unsubscribed
        })
    };
    token_page(
        StatusCode::OK,
        locale,
        &w.title,
        html! {
            h1 { (w.title) }
            @if matches!(notice, Notice::Saved) {
                p #saved role="status" { (w.saved) }
            }
            @if subscriber.paused {
                p #paused-notice .muted { (w.paused_notice) }
            }
            form method="post" action={ "/preferences?" (query) } id="choose-form" {
                fieldset {
                    legend { (w.intro) }
                    @for newsletter in &newsletters {
                        label .check {
                            input type="checkbox" name="newsletter" value=(newsletter.slug)
                                checked[receives(newsletter.id)];
                            span { (newsletter.name) }
                        }
                    }
                }
                button type="submit" { (w.save) }
            }
            @if subscriber.paused {
                form method="post" action={ "/preferences/resume?" (query) } {
                    button type="submit" { (w.resume) }
                }
            } @else {
                form method="post" action={ "/preferences/pause?" (query) } {
                    button type="submit" { (w.pause) }
                }
            }
            p { a .button href={ "/preferences/export?" (query) } download { (w.export) } }
            form method="post" action={ "/preferences/delete?" (query) } id="delete-form" {
                p .muted { (w.delete_warning) }
                button type="submit" { (w.delete) }
            }
        },
    )
}
