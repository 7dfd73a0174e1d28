//! Subscribers: search by address and filter by status and newsletter
//! (keyset pages on id, never OFFSET), a CSV export of the same filter, a
//! subscriber's page with their subscriptions, consent record and delivery
//! history, and unsubscribe or erase buttons that call the same functions
//! as the subscriber's own links.

use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;
use serde::Deserialize;

use super::auth::{Editor, see_other};
use super::csrf::{self, Checked, NoFields};
use super::error::AdminError;
use super::layout::{opt_when, page, when};
use futures_util::StreamExt;

use crate::bounces::EventFilter;
use crate::store::subscribers::SubscriberStatus;
use crate::store::subscribers::search::{SCAN_WINDOW, SubscriberFilter};
use crate::subscriptions::ConsentSource;
use crate::subscriptions::export::{self, EXPORT_BATCH};
use crate::subscriptions::manage::{self, UnsubscribeScope};
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
    newsletter: String,
    #[serde(default)]
    after: i64,
}

impl ListQuery {
    fn filter(&self, newsletters: &[crate::newsletters::Newsletter]) -> SubscriberFilter {
        SubscriberFilter {
            search: self.q.clone(),
            status: SubscriberStatus::parse(&self.status),
            newsletter_id: newsletters
                .iter()
                .find(|n| n.slug == self.newsletter)
                .map(|n| n.id),
        }
    }

    /// The same filter as a query string, for "next page" and the export.
    fn query_string(&self, filter: &SubscriberFilter, after: Option<i64>) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("q", &self.q)
            .append_pair("status", filter.status.map_or("", SubscriberStatus::as_str))
            .append_pair(
                "newsletter",
                if filter.newsletter_id.is_some() {
                    &self.newsletter
                } else {
                    ""
                },
            );
        if let Some(after) = after {
            q.append_pair("after", &after.to_string());
        }
        q.finish()
    }
}

pub async fn list(
    editor: Editor,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AdminError> {
    let newsletters = state.store.newsletters().all().await?;
    let filter = query.filter(&newsletters);
    let found = state
        .store
        .search_subscribers(&filter, query.after, PAGE_SIZE + 1)
        .await?;
    let lines = &found.lines;
    let full = lines.len() as i64 > PAGE_SIZE;
    let shown = &lines[..lines.len().min(PAGE_SIZE as usize)];
    // A full page continues after its last row; a short one only when the
    // search of a short fragment stopped at the end of its window.
    let next_after = if full {
        shown.last().map(|last| last.id)
    } else {
        found.next_after
    };
    let next_url = next_after.map(|after| {
        format!(
            "/admin/subscribers?{}",
            query.query_string(&filter, Some(after))
        )
    });
    let export_url = format!(
        "/admin/subscribers.csv?{}",
        query.query_string(&filter, None)
    );
    let body = html! {
        form method="get" action="/admin/subscribers" class="actions" {
            input type="search" name="q" value=(query.q) placeholder="Address contains…" aria-label="Address";
            select name="status" aria-label="Status" {
                option value="" { "Any status" }
                @for s in SubscriberStatus::ALL { option value=(s.as_str()) selected[Some(s) == filter.status] { (s) } }
            }
            select name="newsletter" aria-label="Newsletter" {
                option value="" { "Any newsletter" }
                @for n in &newsletters { option value=(n.slug) selected[Some(n.id) == filter.newsletter_id] { (n.name) } }
            }
            button type="submit" class="secondary" { "Search" }
            a href=(export_url) { "Export these as CSV" }
            (super::imports::link())
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
        @if shown.is_empty() && next_url.is_none() {
            p class="muted" id="no-subscribers" {
                @if query.q.trim().is_empty() && filter.status.is_none() && filter.newsletter_id.is_none() {
                    "No subscribers yet. Visitors sign up at "
                    a href="/subscribe" { "the signup form" }
                    " (link it from the site, or embed it: see the README), or "
                    a href="/admin/subscribers/import" { "import a list" } " of people who asked for it."
                } @else {
                    "Nobody matches."
                }
            }
        }
        @if !full && next_url.is_some() {
            p class="muted" {
                "A fragment this short is searched "
                (SCAN_WINDOW) " subscribers a page; the next page goes on from there."
            }
        }
        @if let Some(next) = next_url { p { a href=(next) rel="next" { "Next page" } } }
    };
    Ok(page(&editor, SECTION, "Subscribers", body))
}

/// The filtered subscribers as CSV, streamed in keyset batches so a
/// million rows never sit in memory at once.
pub async fn export_csv(
    _editor: Editor,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AdminError> {
    let newsletters = state.store.newsletters().all().await?;
    let filter = query.filter(&newsletters);
    let store = state.store.clone();
    let header = web::Bytes::from_static(export::CSV_HEADER.as_bytes());
    let batches = futures_util::stream::unfold(Some(0i64), move |after| {
        let store = store.clone();
        let filter = filter.clone();
        async move {
            let after = after?;
            match store.search_subscribers(&filter, after, EXPORT_BATCH).await {
                Ok(batch) => {
                    let mut chunk = String::new();
                    for line in &batch.lines {
                        export::csv_line(&mut chunk, line);
                    }
                    // A batch may be empty when a short fragment's window
                    // held nobody; the stream goes on to the next window.
                    Some((
                        Ok::<_, actix_web::Error>(web::Bytes::from(chunk)),
                        batch.next_after,
                    ))
                }
                Err(error) => {
                    // The status line has gone out: end the body short, and
                    // say so in the log.
                    tracing::error!(%error, "subscriber export stopped");
                    None
                }
            }
        }
    });
    let body = futures_util::stream::once(async move { Ok(header) }).chain(batches);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"subscribers.csv\"",
        ))
        .insert_header(("Cache-Control", "no-store"))
        .streaming(body))
}

pub async fn show(
    editor: Editor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AdminError> {
    let view = manage::subscriber_view(&state.store, *id)
        .await?
        .ok_or(AdminError::NotFound)?;
    let consent = state.store.subscribers().consent_events_of(*id).await?;
    let deliveries = state.store.deliveries().history_of(*id, 50).await?;
    let events = state
        .store
        .mail_events()
        .list(
            EventFilter {
                subscriber_id: Some(*id),
                ..EventFilter::default()
            },
            50,
        )
        .await?;
    let s = &view.subscriber;
    let base = format!("/admin/subscribers/{}", s.id);
    let body = html! {
        p { "Status: " strong { (s.status) } @if s.paused { " (paused)" } " · since " (when(s.created_at)) " · confirmed " (opt_when(s.confirmed_at))
            @if let Some(at) = s.reminded_at { span id="reminded" { " · reminded to confirm " (when(at)) } } }
        @if let Some(name) = &s.name { p { "Name: " (name) } }
        @if let Some(at) = s.suppressed_at {
            p class="flash error" { "Suppressed since " (when(at)) " after a spam complaint: no newsletter reaches this address until they sign up again and confirm." }
        }
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
        @if !events.is_empty() {
            h2 { "Bounces and complaints" }
            (super::bounces::event_table(&events, false))
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
    if !manage::erase(&state.store, &state.erased_addresses, *id).await? {
        return Err(AdminError::NotFound);
    }
    Ok(see_other("/admin/subscribers"))
}
