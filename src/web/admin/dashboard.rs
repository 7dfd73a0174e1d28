//! The dashboard: subscribers by status, the list's growth over 90 days (an
//! SVG drawn here, no script), the last issues with their counts, the queue
//! the bounce and complaint rates of the last 30 days, and the next
//! scheduled sends; above them, while Gazette is not set up, what is left
//! ([`super::setup`]).

use actix_web::{HttpResponse, web};
use chrono::Utc;
use maud::{Markup, html};

use super::auth::Editor;
use super::error::AdminError;
use super::layout::page;
use crate::newsletters::next_runs;
use crate::store::subscribers::{DAY_MS, SubscriberStatus};
use crate::web::AppState;

pub const GROWTH_DAYS: i64 = 90;

pub async fn dashboard(
    editor: Editor,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let store = &state.store;
    let by_status = store.subscribers().count_by_status().await?;
    let today = Utc::now().timestamp_millis() / DAY_MS;
    let first_day = today - (GROWTH_DAYS - 1);
    let per_day = store.subscribers().new_per_day(first_day * DAY_MS).await?;
    let mut series = vec![0i64; GROWTH_DAYS as usize];
    for (day, n) in per_day {
        if let Some(slot) = usize::try_from(day - first_day)
            .ok()
            .and_then(|i| series.get_mut(i))
        {
            *slot = n;
        }
    }
    let mut issues = Vec::new();
    for (issue, slug) in store.issues().recent(10).await? {
        let counts = store.issues().delivery_counts(issue.id).await?;
        let events = store.mail_events().counts_of_issue(issue.id).await?;
        issues.push((issue, slug, counts, events));
    }
    let queue = store.deliveries().depth().await?;
    let rates = crate::bounces::rates::last_30_days(store, Utc::now().timestamp_millis()).await?;
    let now = Utc::now();
    let mut upcoming: Vec<_> = store
        .newsletters()
        .all()
        .await?
        .into_iter()
        .filter(|n| !n.paused)
        .filter_map(|n| {
            next_runs(&n, now, 1)
                .into_iter()
                .next()
                .map(|run| (run, n.name))
        })
        .collect();
    upcoming.sort_by_key(|(run, _)| run.utc);
    let count_of = |status: SubscriberStatus| {
        by_status
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n)
    };
    let setup = super::setup::checklist(&state).await?;
    let body = html! {
        (super::setup::sender_banner(&state))
        (setup)
        div class="cards" {
            @for status in SubscriberStatus::ALL {
                div class="card" { div class="n" { (count_of(status)) } div class="muted" { (status) } }
            }
            div class="card" { div class="n" id="queue" { (queue) } div class="muted" { "emails in the queue" } }
        }
        h2 { a href="/admin/bounces" { "Bounces and complaints" } }
        (super::bounces::rates_summary(&rates))
        h2 { "New subscribers, last " (GROWTH_DAYS) " days" }
        (growth_chart(&series))
        h2 { "Next scheduled sends" }
        @if upcoming.is_empty() {
            p class="muted" { "No newsletter is scheduled." }
        } @else {
            table { tr { th { "Newsletter" } th { "Local time" } th { "UTC" } }
                @for (run, name) in &upcoming {
                    tr { td { (name) } td { (run.local.format("%a %Y-%m-%d %H:%M %Z")) } td { (run.utc.format("%Y-%m-%d %H:%M")) } }
                }
            }
        }
        h2 { "Last issues" }
        table {
            tr { th { "Issue" } th { "Newsletter" } th { "Status" } th { "Sent" } th { "Failed" } th { "Pending" } th { "Bounced" } th { "Complaints" } }
            @for (issue, slug, counts, events) in &issues {
                tr {
                    td { a href={"/admin/issues/" (issue.id)} { "#" (issue.id) " " (issue.subject) } }
                    td { (slug) }
                    td { (issue.status) }
                    td { (counts.sent) }
                    td { (counts.failed) }
                    td { (counts.pending + counts.sending) }
                    td { (events.hard_bounces) }
                    td { (events.complaints) }
                }
            }
        }
    };
    Ok(page(&editor, "Dashboard", "Dashboard", body))
}

/// A bar per day, scaled to the busiest day; the numbers are in titles for
/// a hover and in an accessible description.
pub fn growth_chart(series: &[i64]) -> Markup {
    const WIDTH: i64 = 720;
    const HEIGHT: i64 = 160;
    let max = series.iter().copied().max().unwrap_or(0).max(1);
    let total: i64 = series.iter().sum();
    let n = i64::try_from(series.len()).unwrap_or(1).max(1);
    let bar = WIDTH / n;
    html! {
        svg class="chart" viewBox={"0 0 " (WIDTH) " " (HEIGHT + 20)} width=(WIDTH) height=(HEIGHT + 20)
            role="img" aria-label={(total) " new subscribers in " (n) " days"} {
            line x1="0" y1=(HEIGHT) x2=(WIDTH) y2=(HEIGHT) stroke="#c5cad3" {}
            @for (i, count) in series.iter().enumerate() {
                @let h = count * (HEIGHT - 10) / max;
                @let x = i64::try_from(i).unwrap_or(0) * bar;
                rect x=(x + 1) y=(HEIGHT - h) width=((bar - 2).max(1)) height=(h) fill="#1f5fbf" {
                    title { (count) }
                }
            }
            text x="0" y=(HEIGHT + 16) font-size="11" fill="#667085" { (n) " days ago" }
            text x=(WIDTH) y=(HEIGHT + 16) font-size="11" fill="#667085" text-anchor="end" { "today · max " (max) "/day" }
        }
    }
}
