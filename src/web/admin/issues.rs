//! Issues: the list, a draft's page (edit subject, preheader and intro,
//! reorder or drop stories), the preview (desktop, mobile, plain text, and
//! the size against Gmail's clipping limit), test send to yourself, send,
//! cancel, and a progress page that moves while the issue goes out (a
//! line of script polls `/progress`; without script the page refreshes).

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::{Editor, see_other};
use super::csrf::{self, Checked, NoFields};
use super::error::AdminError;
use super::layout::{opt_when, page, when};
use crate::issues::build::draft_window_start;
use crate::issues::edit::{DraftEdit, edit_draft};
use crate::issues::render::{self, GMAIL_CLIP_BYTES};
use crate::issues::send::{TestSendContext, cancel_issue, send_test};
use crate::issues::sender::SenderSetup;
use crate::issues::{Issue, IssueError, IssueStatus, timing};
use crate::web::AppState;

pub(super) const SECTION: &str = "Issues";

pub(super) async fn find(state: &AppState, id: i64) -> Result<Issue, AdminError> {
    let issue = state
        .store
        .issues()
        .by_id(id)
        .await?
        .ok_or(AdminError::NotFound)?;
    // A send whose rows are all done is marked sent on the way, as the API
    // does, so the page never shows "sending" for a finished issue.
    if issue.status == IssueStatus::Sending
        && state
            .store
            .issues()
            .mark_sent_if_done(id, crate::store::now_ms())
            .await?
    {
        return state
            .store
            .issues()
            .by_id(id)
            .await?
            .ok_or(AdminError::NotFound);
    }
    Ok(issue)
}

pub async fn list(editor: Editor, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let issues = state.store.issues().recent(100).await?;
    let newsletters = state.store.newsletters().all().await?;
    let body = html! {
        div class="actions" {
            @for n in &newsletters {
                form method="post" action={"/admin/newsletters/" (n.slug) "/build"} class="inline" {
                    (csrf::field(&editor.csrf))
                    button type="submit" { "Build " (n.name) " now" }
                }
            }
        }
        @if newsletters.is_empty() {
            p class="muted" id="no-issues" {
                "No newsletter yet: " a href="/admin/newsletters/new" { "create one" } " first."
            }
        } @else if issues.is_empty() {
            p class="muted" id="no-issues" {
                "No issue yet. An issue is built from the stories published since the previous one: "
                a href="/admin/stories#feeds" { "add the site's feed" } " or "
                a href="/admin/stories#add-story" { "a story" } ", then build one with the button above, or "
                a href="/admin/newsletters" { "give the newsletter a schedule" } " and it is built at each slot."
            }
        }
        table {
            tr { th { "Issue" } th { "Newsletter" } th { "Status" } th { "Created" } th { "Sent" } }
            @for (issue, slug) in &issues {
                tr {
                    td { a href={"/admin/issues/" (issue.id)} { "#" (issue.id) " " (issue.subject) } }
                    td { (slug) }
                    td { (issue.status) @if let Some(reason) = &issue.skip_reason { " " span class="muted" { (reason) } } }
                    td { (when(issue.created_at)) }
                    td { (opt_when(issue.sent_at)) }
                }
            }
        }
    };
    Ok(page(&editor, SECTION, "Issues", body))
}

pub async fn show(
    editor: Editor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AdminError> {
    let issue = find(&state, *id).await?;
    let stories = state.store.stories().of_issue(issue.id).await?;
    let counts = state.store.issues().delivery_counts(issue.id).await?;
    let events = state.store.mail_events().counts_of_issue(issue.id).await?;
    let base = format!("/admin/issues/{}", issue.id);
    let draft = issue.status == IssueStatus::Draft;
    let newsletter = state
        .store
        .newsletters()
        .by_id(issue.newsletter_id)
        .await?
        .ok_or(AdminError::NotFound)?;
    let timezone = newsletter.timezone.clone();
    let since = if draft {
        let window = state.settings.scheduling.first_issue_window;
        Some(draft_window_start(&state.store, &newsletter, &issue, window).await?)
    } else {
        None
    };
    let sendable = SenderSetup::of(&state.settings).allow_issue().is_ok();
    let body = html! {
        @if draft { (super::setup::sender_banner(&state)) }
        p { "Status: " strong { (issue.status) } " · " (counts.sent) " sent, " (counts.failed) " failed, " (counts.pending + counts.sending) " pending"
            " · " (events.hard_bounces) " bounced, " (events.complaints) " complaints" }
        div class="actions" {
            a href={(base) "/preview"} { "Preview" }
            @if issue.status == IssueStatus::Sending || issue.status == IssueStatus::Sent {
                a href={(base) "/sending"} { "Progress" }
            }
            form method="post" action={(base) "/test"} class="inline" {
                (csrf::field(&editor.csrf))
                button type="submit" class="secondary" { "Send a test to " (editor.user.email) }
            }
            @if draft && sendable {
                a href={(base) "/send"} class="button" { "Send now…" }
            }
            @if draft || issue.status == IssueStatus::Sending {
                form method="post" action={(base) "/cancel"} class="inline" {
                    (csrf::field(&editor.csrf))
                    button type="submit" class="danger" { "Cancel" }
                }
            }
        }
        @if let Some(since) = since {
            p class="muted" id="window" {
                "Stories published from " (when(since)) " to " (when(issue.created_at))
                @if issue.slot_at.is_some() { ", for the slot of " (opt_when(issue.slot_at)) }
                "."
            }
            (schedule_form(&editor, &issue, &base, &timezone))
        }
        @if let Some(note) = issue.skip_reason.as_ref().filter(|_| draft) {
            p class="flash error" { (note) }
        }
        @if draft {
            form method="post" action=(base) class="stack" {
                (csrf::field(&editor.csrf))
                label { "Subject" input name="subject" value=(issue.subject) required; }
                label { "Preheader (the line after the subject in the inbox)" input name="preheader" value=(issue.preheader.clone().unwrap_or_default()); }
                label { "Intro" textarea name="intro" { (issue.intro.clone().unwrap_or_default()) } }
                h2 { "Stories" }
                table {
                    tr { th { "Order" } th { "Story" } th { "Drop" } }
                    @for (i, story) in stories.iter().enumerate() {
                        tr {
                            td { input type="number" name={"pos_" (story.id)} value=(i + 1) min="1" style="width:5rem"; }
                            td { (story.title) }
                            td { input type="checkbox" name={"drop_" (story.id)} aria-label={"Drop " (story.title)}; }
                        }
                    }
                }
                button type="submit" { "Save draft" }
            }
        } @else {
            h2 { (issue.subject) }
            ol { @for story in &stories { li { a href=(story.url) { (story.title) } } } }
        }
    };
    Ok(page(
        &editor,
        SECTION,
        &format!("Issue #{}", issue.id),
        body,
    ))
}

/// "Send at": a `datetime-local` field read in the newsletter's timezone,
/// and the time already chosen with a button to take it back.
fn schedule_form(editor: &Editor, issue: &Issue, base: &str, timezone: &str) -> Markup {
    let tz: chrono_tz::Tz = timezone.parse().unwrap_or(chrono_tz::UTC);
    let local = |format: &str| {
        issue
            .send_at
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|at| at.with_timezone(&tz).format(format).to_string())
    };
    html! {
        @if let Some(at) = local("%Y-%m-%d %H:%M") {
            p class="flash" id="scheduled" {
                "Scheduled to go out on " strong { (at) } " (" (timezone) ")."
                form method="post" action={(base) "/schedule"} class="inline" {
                    (csrf::field(&editor.csrf))
                    input type="hidden" name="send_at" value="";
                    " " button type="submit" class="secondary" { "Unschedule" }
                }
            }
        }
        form method="post" action={(base) "/schedule"} class="actions" {
            (csrf::field(&editor.csrf))
            label { "Send at " input type="datetime-local" name="send_at" value=(local("%Y-%m-%dT%H:%M").unwrap_or_default()) required; }
            span class="muted" { (timezone) " time" }
            button type="submit" { "Schedule" }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ScheduleForm {
    #[serde(default)]
    send_at: String,
}

/// Schedules the draft for the time given (in its newsletter's timezone),
/// or unschedules it when the field is empty.
pub async fn schedule(
    _editor: Editor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    Checked(form): Checked<ScheduleForm>,
) -> Result<HttpResponse, AdminError> {
    let issue = find(&state, *id).await?;
    let at = if form.send_at.trim().is_empty() {
        None
    } else {
        let timezone = state
            .store
            .newsletters()
            .by_id(issue.newsletter_id)
            .await?
            .map_or_else(|| "UTC".to_string(), |n| n.timezone);
        Some(timing::parse_local(&form.send_at, &timezone)?)
    };
    timing::schedule_send(&state.store, issue.id, at, chrono::Utc::now()).await?;
    state.scheduler.schedules_changed();
    Ok(see_other(&format!("/admin/issues/{id}")))
}

/// The draft form: fixed fields plus `pos_ID` and `drop_ID` per story, so
/// it is read as pairs.
pub async fn edit(
    _editor: Editor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    Checked(pairs): Checked<Vec<(String, String)>>,
) -> Result<HttpResponse, AdminError> {
    let fields: HashMap<&str, &str> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut order: Vec<(i64, i64)> = Vec::new();
    for (name, value) in &pairs {
        if let Some(story) = name
            .strip_prefix("pos_")
            .and_then(|s| s.parse::<i64>().ok())
        {
            if fields.contains_key(format!("drop_{story}").as_str()) {
                continue;
            }
            let position = value.trim().parse::<i64>().unwrap_or(i64::MAX);
            order.push((position, story));
        }
    }
    order.sort();
    let optional = |name: &str| {
        fields
            .get(name)
            .map(|v| Some(v.to_string()).filter(|v| !v.trim().is_empty()))
    };
    let edit = DraftEdit {
        subject: fields.get("subject").map(|s| s.to_string()),
        preheader: optional("preheader"),
        intro: optional("intro"),
        story_ids: Some(order.into_iter().map(|(_, story)| story).collect()),
    };
    edit_draft(&state.store, *id, edit).await?;
    Ok(see_other(&format!("/admin/issues/{id}")))
}

pub async fn preview(
    editor: Editor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AdminError> {
    let issue = find(&state, *id).await?;
    let email = rendered(&state, issue.id).await?;
    let bytes = email.html.len();
    let base = format!("/admin/issues/{}", issue.id);
    let body = html! {
        p { a href=(base) { "Back to the issue" } }
        p id="html-size" class={ "flash" @if bytes > GMAIL_CLIP_BYTES { " error" } } {
            "HTML size: " (format!("{:.1}", bytes as f64 / 1024.0)) " KB of Gmail's "
            (GMAIL_CLIP_BYTES / 1024) " KB limit"
            @if bytes > GMAIL_CLIP_BYTES { " — Gmail will clip this email." } @else { " — fine." }
        }
        p { strong { "Subject: " } (email.subject) }
        div class="row" {
            div { h2 { "Desktop" } iframe class="preview" title="Desktop preview" sandbox="" src={(base) "/preview.html"} style="width:680px" {} }
            div { h2 { "Mobile" } iframe class="preview" title="Mobile preview" sandbox="" src={(base) "/preview.html"} style="width:375px" {} }
        }
        h2 { "Plain text" }
        pre class="text" id="text-part" { (email.text) }
    };
    Ok(page(
        &editor,
        SECTION,
        &format!("Preview of issue #{}", issue.id),
        body,
    ))
}

async fn rendered(state: &AppState, id: i64) -> Result<email_templates::RenderedEmail, AdminError> {
    let content = state
        .store
        .issue_content(id)
        .await?
        .ok_or(AdminError::NotFound)?;
    let template = render::render_digest(&state.templates, &state.settings, &content, false)
        .map_err(IssueError::from)?;
    Ok(render::editor_copy(&template, &state.links))
}

/// The email's HTML alone, for the preview frames.
pub async fn preview_html(
    _editor: Editor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AdminError> {
    let email = rendered(&state, *id).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Frame-Options", "SAMEORIGIN"))
        .body(email.html))
}

pub async fn test_send(
    editor: Editor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _form: Checked<NoFields>,
) -> Result<HttpResponse, AdminError> {
    let context = TestSendContext {
        store: &state.store,
        templates: &state.templates,
        settings: &state.settings,
        links: &state.links,
        waker: &state.mail_waker,
        recipients: &state.test_recipients,
    };
    send_test(context, *id, &editor.user.email).await?;
    let body = html! {
        p class="flash" role="status" { "A test copy is on its way to " (editor.user.email) "." }
        p { a href={"/admin/issues/" (id)} { "Back to the issue" } }
    };
    Ok(page(&editor, SECTION, "Test sent", body))
}

pub async fn cancel(
    _editor: Editor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _form: Checked<NoFields>,
) -> Result<HttpResponse, AdminError> {
    cancel_issue(&state.store, *id).await?;
    Ok(see_other(&format!("/admin/issues/{id}")))
}
