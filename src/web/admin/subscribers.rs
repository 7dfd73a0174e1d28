//! Subscribers: search by address and filter by status (keyset pages on
//! id, never OFFSET), a subscriber's page with their subscriptions, consent
//! record and delivery history, and unsubscribe or erase buttons that call
//! the same functions as the subscriber's own links.

use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;
use serde::Deserialize;

use super::auth::{Editor, see_other};
use super::csrf::{self, Checked, NoFields};
use super::error::AdminError;
use super::layout::{opt_when, page, when};
use super::queries::{self, SUBSCRIBER_STATUSES};
use crate::subscriptions::manage::{self, UnsubscribeScope};
use crate::subscriptions::store::{ConsentSource, consent_events_of};
use crate::web::AppState;
use crate::web::client_info::ClientInfo;

const SECTION: &str = "Subscribers";
const PAGE_SIZE: i64 = 50;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    after: i64,
}

pub async fn list(
    editor: Editor,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AdminError> {
    let status = SUBSCRIBER_STATUSES
        .iter()
        .find(|s| **s == query.status)
        .copied();
    let lines =
        queries::subscribers_page(&state.store, &query.q, status, query.after, PAGE_SIZE + 1)
            .await?;
    let more = lines.len() as i64 > PAGE_SIZE;
    let shown = &lines[..lines.len().min(PAGE_SIZE as usize)];
    let next_url = shown.last().filter(|_| more).map(|last| {
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("q", &query.q)
            .append_pair("status", status.unwrap_or(""))
            .append_pair("after", &last.id.to_string())
            .finish();
        format!("/admin/subscribers?{q}")
    });
    let body = html! {
        form method="get" action="/admin/subscribers" class="actions" {
            input type="search" name="q" value=(query.q) placeholder="Address contains…" aria-label="Address";
            select name="status" aria-label="Status" {
                option value="" { "Any status" }
                @for s in SUBSCRIBER_STATUSES { option value=(s) selected[Some(s) == status] { (s) } }
            }
            button type="submit" class="secondary" { "Search" }
        }
        table {
            tr { th { "Address" } th { "Status" } th { "Since" } }
            @for line in shown {
                tr {
                    td { a href={"/admin/subscribers/" (line.id)} { (line.email) } }
                    td { (line.status) }
                    td { (when(line.created_at)) }
                }
            }
        }
        @if shown.is_empty() { p class="muted" { "Nobody matches." } }
        @if let Some(next) = next_url { p { a href=(next) rel="next" { "Next page" } } }
    };
    Ok(page(&editor, SECTION, "Subscribers", body))
}

pub async fn show(
    editor: Editor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AdminError> {
    let view = manage::subscriber_view(&state.store, *id)
        .await?
        .ok_or(AdminError::NotFound)?;
    let consent = {
        let mut conn = state.store.pool().acquire().await?;
        consent_events_of(&mut conn, *id).await?
    };
    let deliveries = queries::deliveries_of(&state.store, *id, 50).await?;
    let s = &view.subscriber;
    let base = format!("/admin/subscribers/{}", s.id);
    let body = html! {
        p { "Status: " strong { (s.status) } @if s.paused { " (paused)" } " · since " (when(s.created_at)) " · confirmed " (opt_when(s.confirmed_at)) }
        @if let Some(name) = &s.name { p { "Name: " (name) } }
        div class="actions" {
            form method="post" action={(base) "/unsubscribe"} class="inline" {
                (csrf::field(&editor.csrf))
                button type="submit" class="secondary" { "Unsubscribe from everything" }
            }
            form method="post" action={(base) "/erase"} class="inline" {
                (csrf::field(&editor.csrf))
                button type="submit" class="danger" { "Erase (cannot be undone)" }
            }
        }
        h2 { "Subscriptions" }
        table {
            tr { th { "Newsletter" } th { "Status" } th { "Since" } }
            @for sub in &view.subscriptions { tr { td { (sub.name) } td { (sub.status) } td { (when(sub.created_at)) } } }
        }
        h2 { "Consent record" }
        table {
            tr { th { "When" } th { "What" } th { "Source" } th { "IP" } th { "Browser" } th { "Detail" } }
            @for e in &consent {
                tr {
                    td { (when(e.at)) } td { (e.kind) } td { (e.source) }
                    td { (e.ip.as_deref().unwrap_or("—")) }
                    td { (e.user_agent.as_deref().unwrap_or("—")) }
                    td { (e.detail.as_deref().unwrap_or("")) }
                }
            }
        }
        h2 { "Deliveries" }
        table {
            tr { th { "Created" } th { "Kind" } th { "Issue" } th { "Status" } th { "Attempts" } th { "Sent" } th { "Last error" } }
            @for d in &deliveries {
                tr {
                    td { (when(d.created_at)) } td { (d.kind) }
                    td { @if let Some(issue) = d.issue_id { a href={"/admin/issues/" (issue)} { "#" (issue) } } }
                    td { (d.status) } td { (d.attempts) } td { (opt_when(d.sent_at)) }
                    td { (d.last_error.as_deref().unwrap_or("")) }
                }
            }
        }
    };
    Ok(page(&editor, SECTION, &s.email, body))
}

pub async fn unsubscribe(
    editor: Editor,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _form: Checked<NoFields>,
) -> Result<HttpResponse, AdminError> {
    let mut client = ClientInfo::of(&req).meta();
    // The record says an editor did it, and which one.
    client.user_agent = Some(format!("admin user {}", editor.user.id));
    let found = manage::unsubscribe(
        &state.store,
        *id,
        &UnsubscribeScope::All,
        ConsentSource::Link,
        &client,
    )
    .await?;
    if !found {
        return Err(AdminError::NotFound);
    }
    Ok(see_other(&format!("/admin/subscribers/{id}")))
}

pub async fn erase(
    _editor: Editor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _form: Checked<NoFields>,
) -> Result<HttpResponse, AdminError> {
    if !manage::erase(&state.store, *id).await? {
        return Err(AdminError::NotFound);
    }
    Ok(see_other("/admin/subscribers"))
}
