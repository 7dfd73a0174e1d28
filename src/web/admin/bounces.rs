//! The Bounces page: every bounce and complaint reported after sending,
//! newest first, with the reason in the reporter's words, and each event's
//! raw report on its own page so an editor can see why.

use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::Editor;
use super::error::AdminError;
use super::layout::{older_link, page, when};
use crate::bounces::rates::{self, Rates};
use crate::bounces::{EventFilter, MailEvent, MailEventKind};
use crate::web::AppState;

const SECTION: &str = "Bounces";
const PAGE_SIZE: i64 = 50;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    before: Option<i64>,
}

pub async fn list(
    editor: Editor,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AdminError> {
    let kind = MailEventKind::parse(&query.kind);
    let events = state
        .store
        .mail_events()
        .list(
            EventFilter {
                subscriber_id: None,
                kind,
                before_id: query.before,
            },
            PAGE_SIZE,
        )
        .await?;
    let rates = rates::last_30_days(&state.store, crate::store::now_ms()).await?;
    let body = html! {
        (rates_summary(&rates))
        form method="get" action="/admin/bounces" class="filters" {
            label { "Show "
                select name="kind" {
                    option value="" selected[kind.is_none()] { "everything" }
                    @for k in MailEventKind::ALL {
                        option value=(k.as_str()) selected[kind == Some(k)] { (label(k)) }
                    }
                }
            }
            button type="submit" class="secondary" { "Filter" }
        }
        p { a href="/admin/dmarc" { "DMARC reports →" } " what receivers say of all mail sent as your domain" }
        @if events.is_empty() {
            p class="muted" {
                "No bounce or complaint yet. Reports come in when "
                code { "mail.bounce.domain" } " and " code { "mail.bounce.listen" }
                " are set and the bounce domain's MX record points at Gazette (see the README, \"Bounces and complaints\")."
            }
        } @else {
            (event_table(&events, true))
            (older_link(&events, PAGE_SIZE, |e| e.id, |id| format!("/admin/bounces?kind={}&before={id}", query.kind), "Older events →"))
        }
    };
    Ok(page(&editor, SECTION, "Bounces and complaints", body))
}

pub async fn show(
    editor: Editor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AdminError> {
    let (event, raw) = state
        .store
        .mail_events()
        .by_id(*id)
        .await?
        .ok_or(AdminError::NotFound)?;
    let body = html! {
        (event_table(std::slice::from_ref(&event), true))
        h2 { "The report as it came" }
        pre class="raw" { (raw) }
    };
    Ok(page(
        &editor,
        SECTION,
        &format!("{} #{}", label(event.kind), event.id),
        body,
    ))
}

/// Events in a table; `with_subscriber` adds who it was about.
pub fn event_table(events: &[MailEvent], with_subscriber: bool) -> Markup {
    html! {
        table {
            tr {
                th { "Received" } th { "What" }
                @if with_subscriber { th { "Subscriber" } }
                th { "Issue" } th { "Status" } th { "Reason" } th { "Came by" }
            }
            @for e in events {
                tr {
                    td { a href={"/admin/bounces/" (e.id)} { (when(e.received_at)) } }
                    td { (label(e.kind)) }
                    @if with_subscriber {
                        td {
                            @match (e.subscriber_id, &e.email) {
                                (Some(id), Some(email)) => a href={"/admin/subscribers/" (id)} { (email) },
                                _ => span class="muted" { "—" },
                            }
                        }
                    }
                    td { @if let Some(issue) = e.issue_id { a href={"/admin/issues/" (issue)} { "#" (issue) } } }
                    td { (e.status_code.as_deref().unwrap_or("")) }
                    td { (e.reason) }
                    td { (e.source) }
                }
            }
        }
    }
}

/// The last 30 days' rates beside the lines providers draw.
pub fn rates_summary(rates: &Rates) -> Markup {
    html! {
        div class="cards" {
            div class={"card" @if rates.bounces_too_high() { " warn" }} {
                div class="n" { (percent(rates.bounce_rate())) }
                div class="muted" { "bounce rate, last " (rates::WINDOW_DAYS) " days (line: " (percent(rates::BOUNCE_RATE_LINE)) ")" }
            }
            div class={"card" @if rates.complaints_too_high() { " warn" }} {
                div class="n" { (percent(rates.complaint_rate())) }
                div class="muted" { "complaint rate (Gmail's line: " (percent(rates::COMPLAINT_RATE_LINE)) ")" }
            }
            div class="card" {
                div class="n" { (rates.sent) }
                div class="muted" { "digests sent" }
            }
        }
        @if rates.complaints_too_high() {
            p class="flash error" {
                "More than " (percent(rates::COMPLAINT_RATE_LINE)) " of readers reported the last month's digests as spam: "
                "Gmail and Yahoo send mail above this line to spam or refuse it. Make the unsubscribe link easy to find, "
                "send only to people who confirmed, and send less often."
            }
        }
        @if rates.bounces_too_high() {
            p class="flash error" {
                "More than " (percent(rates::BOUNCE_RATE_LINE)) " of the last month's digests bounced for good: "
                "check how addresses come in (imports of old lists bounce most)."
            }
        }
    }
}

fn percent(share: f64) -> String {
    format!("{:.2} %", share * 100.0)
}

fn label(kind: MailEventKind) -> &'static str {
    match kind {
        MailEventKind::HardBounce => "hard bounce",
        MailEventKind::SoftBounce => "soft bounce",
        MailEventKind::Complaint => "complaint",
    }
}
