//! A newsletter's welcome email in the admin: written in Markdown beside a
//! preview of the email as a reader gets it (desktop, mobile and plain
//! text). An empty body turns it off.

use actix_web::{HttpResponse, web};
use maud::html;
use serde::Deserialize;

use super::auth::{Editor, see_other};
use super::csrf::{self, Checked};
use super::error::AdminError;
use super::layout::page;
use crate::newsletters::welcome::{MAX_BODY_CHARS, MAX_SUBJECT_CHARS, WelcomeText};
use crate::newsletters::{Newsletter, find_newsletter};
use crate::store::now_ms;
use crate::web::AppState;

const SECTION: &str = "Newsletters";

#[derive(Debug, Deserialize)]
pub struct WelcomeForm {
    #[serde(default)]
    subject: String,
    #[serde(default)]
    markdown: String,
}

pub async fn show(
    editor: Editor,
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let newsletter = find_newsletter(&state.store, &slug).await?;
    let stored = stored_welcome(&state, &newsletter).await?;
    let form = WelcomeForm {
        subject: stored.subject,
        markdown: stored.markdown,
    };
    Ok(welcome_page(&editor, &state, &newsletter, &form, None))
}

pub async fn save(
    editor: Editor,
    state: web::Data<AppState>,
    slug: web::Path<String>,
    Checked(form): Checked<WelcomeForm>,
) -> Result<HttpResponse, AdminError> {
    let newsletter = find_newsletter(&state.store, &slug).await?;
    let welcome = match WelcomeText::parse(&form.subject, &form.markdown) {
        Ok(welcome) => welcome,
        Err(problem) => {
            let mut response = welcome_page(
                &editor,
                &state,
                &newsletter,
                &form,
                Some(&problem.to_string()),
            );
            *response.status_mut() = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(response);
        }
    };
    state
        .store
        .newsletters()
        .set_welcome(
            newsletter.id,
            &WelcomeText::to_stored(welcome.as_ref()),
            now_ms(),
        )
        .await?;
    Ok(see_other(&format!(
        "/admin/newsletters/{}/welcome",
        newsletter.slug
    )))
}

/// The saved welcome email as a reader gets it, for the preview frames.
pub async fn preview_html(
    _editor: Editor,
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let newsletter = find_newsletter(&state.store, &slug).await?;
    let stored = stored_welcome(&state, &newsletter).await?;
    let welcome = WelcomeText::from_stored(&stored).ok_or(AdminError::NotFound)?;
    let email = rendered(&state, &newsletter, &welcome);
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Frame-Options", "SAMEORIGIN"))
        .body(email.html))
}

async fn stored_welcome(
    state: &AppState,
    newsletter: &Newsletter,
) -> Result<crate::store::newsletters::StoredWelcome, AdminError> {
    let stored = state.store.newsletters().welcome(newsletter.id).await?;
    stored.ok_or(AdminError::NotFound)
}

/// The email with sample links: a preview belongs to no reader.
fn rendered(
    state: &AppState,
    newsletter: &Newsletter,
    welcome: &WelcomeText,
) -> email_templates::RenderedEmail {
    let base = state.settings.base_url();
    state.templates.welcome(&email_templates::Welcome {
        site: &crate::templates::site(&state.settings),
        locale: newsletter.locale.parse().unwrap_or_default(),
        newsletter_name: &newsletter.name,
        subject: welcome.subject(),
        body_html: &welcome.html(),
        body_text: welcome.markdown(),
        unsubscribe_url: &format!("{base}/unsubscribe"),
        preferences_url: &format!("{base}/preferences"),
    })
}

fn welcome_page(
    editor: &Editor,
    state: &AppState,
    newsletter: &Newsletter,
    form: &WelcomeForm,
    problem: Option<&str>,
) -> HttpResponse {
    let base = format!("/admin/newsletters/{}/welcome", newsletter.slug);
    let saved = WelcomeText::parse(&form.subject, &form.markdown)
        .ok()
        .flatten()
        .filter(|_| problem.is_none());
    let subject = if form.subject.trim().is_empty() {
        format!("Welcome to {}", newsletter.name)
    } else {
        form.subject.clone()
    };
    let body = html! {
        p { a href={"/admin/newsletters/" (newsletter.slug)} { "Back to " (newsletter.name) } }
        p class="muted" {
            "Sent once to each reader who confirms a subscription to this newsletter, in its language ("
            (newsletter.locale) "), with the unsubscribe link and your postal address under it. "
            "Write in Markdown; HTML is shown as text. Leave it empty to send none."
        }
        @if let Some(problem) = problem {
            p class="flash error" role="alert" id="welcome-problem" { (problem) }
        }
        form method="post" action=(base) class="stack" {
            (csrf::field(&editor.csrf))
            label { "Subject" input name="subject" value=(subject) maxlength=(MAX_SUBJECT_CHARS); }
            label { "Message (Markdown)"
                textarea name="markdown" rows="14" maxlength=(MAX_BODY_CHARS) { (form.markdown) }
            }
            button type="submit" { "Save" }
        }
        @if let Some(welcome) = saved {
            @let email = rendered(state, newsletter, &welcome);
            h2 { "Preview" }
            p { strong { "Subject: " } (email.subject) }
            div class="row" {
                div { h3 { "Desktop" } iframe class="preview" title="Desktop preview" sandbox="" src={(base) "/preview.html"} style="width:680px" {} }
                div { h3 { "Mobile" } iframe class="preview" title="Mobile preview" sandbox="" src={(base) "/preview.html"} style="width:375px" {} }
            }
            h3 { "Plain text" }
            pre class="text" id="welcome-text" { (email.text) }
        } @else if problem.is_none() {
            p class="muted" id="no-welcome" { "No welcome email: readers get none." }
        }
    };
    page(
        editor,
        SECTION,
        &format!("Welcome email of {}", newsletter.name),
        body,
    )
}
