//! Importing subscribers from CSV in the browser: an upload form (multipart,
//! up to [`MAX_IMPORT_BYTES`], the only admin route allowed past the 64 KiB
//! body limit), a page whose bar moves while the rows are written (a line
//! of script polls `/progress`; without script the page refreshes itself),
//! and the report of rejected rows at the end, also as CSV. The import
//! itself is `subscriptions::import`, shared with the CLI.

use actix_multipart::Multipart;
use actix_session::SessionExt;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use maud::{Markup, PreEscaped, html};
use serde::Serialize;

use super::auth::{Editor, see_other};
use super::csrf;
use super::error::AdminError;
use super::layout::{opt_when, page, page_with_head, when};
use crate::store::now_ms;
use crate::subscriptions::export::csv_cell;
use crate::subscriptions::import::parse::EXPECTED_HEADER;
use crate::subscriptions::import::{
    self, ImportJob, ImportJobStatus, ImportRefused, MAX_IMPORT_BYTES, jobs,
};
use crate::web::AppState;

const SECTION: &str = "Subscribers";
/// The path of the upload, which the body limit lets through up to
/// [`MAX_IMPORT_BYTES`].
pub const UPLOAD_PATH: &str = "/admin/subscribers/import";
/// Rejected rows listed on the page; all of them are in the CSV.
const REPORT_SHOWN: usize = 1000;

pub async fn form(editor: Editor, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    form_page(&editor, &state, None, StatusCode::OK).await
}

async fn form_page(
    editor: &Editor,
    state: &AppState,
    problem: Option<&str>,
    status: StatusCode,
) -> Result<HttpResponse, AdminError> {
    let newsletters = state.store.newsletters().all().await?;
    let recent = state.store.imports().recent(20).await?;
    let names = |id: i64| {
        newsletters
            .iter()
            .find(|n| n.id == id)
            .map_or_else(String::new, |n| n.name.clone())
    };
    let body = html! {
        @if let Some(problem) = problem { p class="flash error" role="alert" id="import-error" { (problem) } }
        p { "The first line names the columns: " code { (EXPECTED_HEADER) } ". "
            "Rows whose " code { "opted_in" } " is yes (or true, 1) are imported as confirmed; "
            "the others get a confirmation email and stay pending until they click it. "
            "People who were erased, unsubscribed from the newsletter or bounced are not added again. "
            "Importing the same file twice adds nobody twice." }
        form method="post" action=(UPLOAD_PATH) enctype="multipart/form-data" class="stack" {
            (csrf::field(&editor.csrf))
            label { "Newsletter"
                select name="newsletter" required {
                    @for n in &newsletters { option value=(n.slug) { (n.name) } }
                }
            }
            label { "CSV file (up to " (MAX_IMPORT_BYTES >> 20) " MB)" input type="file" name="file" accept=".csv,text/csv" required; }
            button type="submit" { "Import" }
        }
        h2 { "Recent imports" }
        table {
            tr { th { "Import" } th { "Newsletter" } th { "Status" } th { "Rows" } th { "Confirmed" } th { "Pending" } th { "Unchanged" } th { "Rejected" } th { "Started" } }
            @for job in &recent {
                tr {
                    td { a href={"/admin/imports/" (job.id)} { "#" (job.id) " " (job.file_name) } }
                    td { (names(job.newsletter_id)) }
                    td { (status_word(job)) }
                    td { (job.total_rows) } td { (job.added_active) } td { (job.added_pending) }
                    td { (job.unchanged) } td { (job.rejected) } td { (when(job.created_at)) }
                }
            }
        }
        @if recent.is_empty() { p class="muted" { "No imports yet." } }
    };
    let mut response = page(editor, SECTION, "Import subscribers", body);
    *response.status_mut() = status;
    Ok(response)
}

fn status_word(job: &ImportJob) -> &'static str {
    if job.stalled(now_ms()) {
        "stopped"
    } else {
        job.status.as_str()
    }
}

/// The fields of the upload form.
#[derive(Default)]
struct Upload {
    csrf: Option<String>,
    newsletter: Option<String>,
    file_name: Option<String>,
    file: Vec<u8>,
}

/// Reads the multipart body, never more than [`MAX_IMPORT_BYTES`] in all
/// (a body sent without a length is cut here, not by the middleware).
async fn read_upload(mut multipart: Multipart) -> Result<Upload, AdminError> {
    let unreadable = |_| AdminError::BadForm("The upload could not be read. Try again.".into());
    let mut upload = Upload::default();
    let mut read = 0usize;
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(unreadable)?;
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            upload.file_name = field
                .content_disposition()
                .and_then(|d| d.get_filename())
                .map(str::to_string);
        }
        let mut value = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(unreadable)?;
            read += chunk.len();
            if read > MAX_IMPORT_BYTES {
                return Err(AdminError::TooLarge(
                    ImportRefused::TooLarge(MAX_IMPORT_BYTES >> 20).to_string(),
                ));
            }
            value.extend_from_slice(&chunk);
        }
        let text = || String::from_utf8_lossy(&value).into_owned();
        match name.as_str() {
            "csrf" => upload.csrf = Some(text()),
            "newsletter" => upload.newsletter = Some(text()),
            "file" => upload.file = value,
            _ => {}
        }
    }
    Ok(upload)
}

pub async fn upload(
    editor: Editor,
    req: HttpRequest,
    state: web::Data<AppState>,
    multipart: Multipart,
) -> Result<HttpResponse, AdminError> {
    let upload = read_upload(multipart).await?;
    csrf::verify(&req.get_session(), upload.csrf.as_deref())?;
    let refuse = |problem: String| {
        let (editor, state) = (&editor, &state);
        async move { form_page(editor, state, Some(&problem), StatusCode::BAD_REQUEST).await }
    };
    let slug = upload.newsletter.unwrap_or_default();
    let Some(newsletter) = state.store.newsletters().by_slug(slug.trim()).await? else {
        return refuse("Choose a newsletter to import into.".to_string()).await;
    };
    if upload.file.is_empty() {
        return refuse("Choose a CSV file to import.".to_string()).await;
    }
    let bytes = upload.file;
    let parsed = web::block(move || import::parse_import(&bytes, now_ms()))
        .await
        .map_err(|e| AdminError::internal(&e))?;
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(refused) => return refuse(format!("{refused}")).await,
    };
    let file_name = upload.file_name.unwrap_or_else(|| "upload.csv".to_string());
    let job_id = jobs::start_job(
        &state.store,
        newsletter.id,
        &file_name,
        "admin",
        parsed.total_rows,
        Some(editor.user.id),
    )
    .await?;
    tracing::info!(
        job_id,
        rows = parsed.total_rows,
        user_id = editor.user.id,
        "subscriber import started"
    );
    // The rows are written after the answer, so the editor watches the bar
    // instead of a page that loads for minutes.
    let state = state.into_inner();
    tokio::spawn(async move {
        let waker = state.mail_waker.clone();
        let outcome = import::run_import(
            &state.store,
            &state.erased_addresses,
            &newsletter,
            parsed,
            job_id,
            |_| waker.wake(),
        )
        .await;
        if let Ok(report) = outcome {
            tracing::info!(
                job_id,
                added_active = report.added_active,
                added_pending = report.added_pending,
                rejected = report.rejected.len(),
                "subscriber import finished"
            );
        }
    });
    Ok(see_other(&format!("/admin/imports/{job_id}")))
}

/// What the progress page shows, and what `/progress` answers as JSON.
#[derive(Debug, Serialize)]
pub struct ImportProgressView {
    pub status: &'static str,
    pub total: i64,
    pub processed: i64,
    pub percent: i64,
    pub added_active: i64,
    pub added_pending: i64,
    pub unchanged: i64,
    pub rejected: i64,
    pub done: bool,
}

impl ImportProgressView {
    fn of(job: &ImportJob) -> ImportProgressView {
        let stalled = job.stalled(now_ms());
        ImportProgressView {
            status: status_word(job),
            total: job.total_rows,
            processed: job.processed_rows,
            percent: job.percent(),
            added_active: job.added_active,
            added_pending: job.added_pending,
            unchanged: job.unchanged,
            rejected: job.rejected,
            done: job.status != ImportJobStatus::Running || stalled,
        }
    }
}

async fn find(state: &AppState, id: i64) -> Result<ImportJob, AdminError> {
    state
        .store
        .imports()
        .by_id(id)
        .await?
        .ok_or(AdminError::NotFound)
}

pub async fn progress_json(
    _editor: Editor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AdminError> {
    let job = find(&state, *id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(ImportProgressView::of(&job)))
}

/// Polls `/progress` every second and moves the bar; reloads the page for
/// the report when the import ends.
const PROGRESS_SCRIPT: &str = r#"(function(){
var root=document.getElementById('import-progress');if(!root)return;
var url=root.getAttribute('data-url');
function tick(){fetch(url,{credentials:'same-origin',headers:{'Accept':'application/json'}})
.then(function(r){return r.json();}).then(function(p){
document.getElementById('bar').style.width=p.percent+'%';
document.getElementById('percent').textContent=p.percent+' %';
['processed','total','added_active','added_pending','unchanged','rejected'].forEach(function(k){document.getElementById(k).textContent=p[k];});
if(p.done){location.reload();}else{setTimeout(tick,1000);}}).catch(function(){setTimeout(tick,1000);});}
setTimeout(tick,1000);})();"#;

pub async fn show(
    editor: Editor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AdminError> {
    let job = find(&state, *id).await?;
    let p = ImportProgressView::of(&job);
    let newsletter = state.store.newsletters().by_id(job.newsletter_id).await?;
    let report = if p.done {
        state.store.imports().report(job.id).await?
    } else {
        Vec::new()
    };
    let head = html! {
        @if !p.done { noscript { meta http-equiv="refresh" content="2"; } }
    };
    let body = html! {
        p { "File " strong { (job.file_name) } " into " strong { (newsletter.map(|n| n.name).unwrap_or_default()) }
            " · started " (when(job.created_at)) " · finished " (opt_when(job.finished_at)) }
        div id="import-progress" data-url={"/admin/imports/" (job.id) "/progress"} {
            p { "Status: " strong id="import-status" { (p.status) } }
            div class="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=(p.percent) {
                div id="bar" style={"width:" (p.percent) "%"} {}
            }
            p { strong id="percent" { (p.percent) " %" } " · " span id="processed" { (p.processed) } " of " span id="total" { (p.total) } " rows" }
            table {
                tr { th { "Added as confirmed" } th { "Added pending (confirmation sent)" } th { "Already subscribed" } th { "Rejected" } }
                tr { td id="added_active" { (p.added_active) } td id="added_pending" { (p.added_pending) } td id="unchanged" { (p.unchanged) } td id="rejected" { (p.rejected) } }
            }
        }
        @if job.stalled(now_ms()) {
            p class="flash error" { "This import stopped with the Gazette instance that ran it. The rows written so far are complete; import the same file again to finish (nobody is added twice)." }
        }
        @if let Some(error) = &job.error { p class="flash error" { "The import stopped: " (error) ". Import the same file again to finish." } }
        @if p.done && !report.is_empty() {
            h2 { "Rejected rows" }
            p { a href={"/admin/imports/" (job.id) "/rejected.csv"} { "Download every rejected row as CSV" } }
            (report_table(&report))
        }
        p { a href="/admin/subscribers/import" { "Import another file" } " · " a href="/admin/subscribers" { "Subscribers" } }
        @if !p.done { script { (PreEscaped(PROGRESS_SCRIPT)) } }
    };
    Ok(page_with_head(
        &editor,
        SECTION,
        &format!("Import #{}", job.id),
        head,
        body,
    ))
}

fn report_table(report: &[jobs::ReportLine]) -> Markup {
    html! {
        table id="rejected-rows" {
            tr { th { "Line" } th { "Address" } th { "Why" } }
            @for line in report.iter().take(REPORT_SHOWN) {
                tr { td { (line.line) } td { (line.email) } td data-code=(line.code) { (line.reason) } }
            }
        }
        @if report.len() > REPORT_SHOWN {
            p class="muted" { "The first " (REPORT_SHOWN) " of " (report.len()) " are shown; the CSV has them all." }
        }
    }
}

pub async fn rejected_csv(
    _editor: Editor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AdminError> {
    let job = find(&state, *id).await?;
    let report = state.store.imports().report(job.id).await?;
    let mut out = String::from("line,email,code,reason\r\n");
    for line in &report {
        let cells = [
            line.line.to_string(),
            csv_cell(&line.email),
            csv_cell(&line.code),
            csv_cell(&line.reason),
        ];
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"import-{}-rejected.csv\"", job.id),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .body(out))
}

/// The subscribers page links here.
pub fn link() -> Markup {
    html! { a href="/admin/subscribers/import" { "Import from CSV" } }
}
