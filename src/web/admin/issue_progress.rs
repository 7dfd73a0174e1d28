//! An issue going out: its counts as JSON for the page's line of script,
//! and the page that shows them (refreshing itself without script).

use actix_web::{HttpResponse, web};
use maud::{PreEscaped, html};
use serde::Serialize;

use super::auth::Editor;
use super::error::AdminError;
use super::issues::{SECTION, find};
use super::layout::page_with_head;
use crate::issues::{DeliveryCounts, Issue, IssueStatus};
use crate::web::AppState;

/// What the progress page shows, and what `/progress` answers as JSON.
#[derive(Debug, Serialize)]
pub struct Progress {
    pub status: String,
    pub total: i64,
    pub sent: i64,
    pub failed: i64,
    pub pending: i64,
    pub cancelled: i64,
    pub percent: i64,
    pub done: bool,
}

impl Progress {
    fn of(issue: &Issue, p: &DeliveryCounts) -> Progress {
        let finished = p.sent + p.failed + p.cancelled;
        let total = p.total();
        let done = !matches!(issue.status, IssueStatus::Sending | IssueStatus::Draft);
        let percent = if done && total == finished {
            100
        } else if total > 0 {
            // 100 % means finished: rows still in a worker's hands keep it
            // at 99.
            (finished * 100 / total).min(99)
        } else if done {
            100
        } else {
            0
        };
        Progress {
            status: issue.status.to_string(),
            total,
            sent: p.sent,
            failed: p.failed,
            pending: p.pending + p.sending,
            cancelled: p.cancelled,
            percent,
            done,
        }
    }
}

async fn progress_of(state: &AppState, id: i64) -> Result<Progress, AdminError> {
    // The issue first, then its counters: an issue is marked sent only
    // after its last row's outcome (and counter) is committed, so a "sent"
    // issue is always read with final counts.
    let issue = find(state, id).await?;
    let rows = state.store.issues().delivery_counts(id).await?;
    Ok(Progress::of(&issue, &rows))
}

pub async fn progress_json(
    _editor: Editor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AdminError> {
    let progress = progress_of(&state, *id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(progress))
}

/// Polls `/progress` every second and moves the bar; stops when done.
const PROGRESS_SCRIPT: &str = r#"(function(){
var root=document.getElementById('progress');if(!root)return;
var url=root.getAttribute('data-url');
function tick(){fetch(url,{credentials:'same-origin',headers:{'Accept':'application/json'}})
.then(function(r){return r.json();}).then(function(p){
document.getElementById('bar').style.width=p.percent+'%';
document.getElementById('percent').textContent=p.percent+' %';
['sent','failed','pending','total'].forEach(function(k){document.getElementById(k).textContent=p[k];});
document.getElementById('status').textContent=p.status;
if(!p.done){setTimeout(tick,1000);}}).catch(function(){setTimeout(tick,1000);});}
setTimeout(tick,1000);})();"#;

pub async fn sending_page(
    editor: Editor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AdminError> {
    let p = progress_of(&state, *id).await?;
    let head = html! {
        @if !p.done { noscript { meta http-equiv="refresh" content="2"; } }
    };
    let body = html! {
        div id="progress" data-url={"/admin/issues/" (id) "/progress"} {
            p { "Status: " strong id="status" { (p.status) } }
            div class="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=(p.percent) {
                div id="bar" style={"width:" (p.percent) "%"} {}
            }
            p { strong id="percent" { (p.percent) " %" } }
            table {
                tr { th { "Sent" } th { "Failed" } th { "Pending" } th { "Total" } }
                tr { td id="sent" { (p.sent) } td id="failed" { (p.failed) } td id="pending" { (p.pending) } td id="total" { (p.total) } }
            }
        }
        p { a href={"/admin/issues/" (id)} { "Back to the issue" } }
        @if !p.done { script { (PreEscaped(PROGRESS_SCRIPT)) } }
    };
    Ok(page_with_head(
        &editor,
        SECTION,
        &format!("Sending issue #{id}"),
        head,
        body,
    ))
}
