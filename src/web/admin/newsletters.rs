//! Newsletters: the list, create and edit (schedule with a timezone picker
//! and the next five fire times), pause and resume, and "build an issue
//! now". Every change goes through `crate::newsletters` and tells the
//! scheduler, so a new schedule takes effect without a restart.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;

use super::auth::{Editor, see_other};
use super::csrf::{self, Checked, NoFields};
use super::error::AdminError;
use super::layout::page;
use super::schedule_preview::LIVE_RUNS_SCRIPT;
use crate::issues::{BuildOutcome, build_issue};
use crate::newsletters::{
    InvalidSettings, Newsletter, NewsletterError, NewsletterInput, create_newsletter,
    find_newsletter, next_runs, update_newsletter,
};
use crate::web::AppState;

const SECTION: &str = "Newsletters";

impl From<NewsletterError> for AdminError {
    fn from(error: NewsletterError) -> AdminError {
        match error {
            NewsletterError::NotFound(_) => AdminError::NotFound,
            NewsletterError::Store(e) => e.into(),
            other => AdminError::BadForm(other.to_string()),
        }
    }
}

impl From<crate::issues::IssueError> for AdminError {
    fn from(error: crate::issues::IssueError) -> AdminError {
        use crate::issues::IssueError;
        match error {
            IssueError::NotFound(_) => AdminError::NotFound,
            IssueError::Store(e) => e.into(),
            IssueError::Render(e) => AdminError::internal(&e),
            other => AdminError::BadForm(other.to_string()),
        }
    }
}

pub async fn list(editor: Editor, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let newsletters = state.store.newsletters().all().await?;
    let now = Utc::now();
    let body = html! {
        p { a href="/admin/newsletters/new" { "New newsletter" } }
        @if newsletters.is_empty() {
            p class="muted" id="no-newsletters" {
                "No newsletter yet. " a href="/admin/newsletters/new" { "Create one" }
                ": visitors choose among them on the signup form."
            }
        }
        table {
            tr { th { "Name" } th { "Slug" } th { "Schedule" } th { "Next send" } th { "State" } }
            @for n in &newsletters {
                tr {
                    td { a href={"/admin/newsletters/" (n.slug)} { (n.name) } }
                    td { code { (n.slug) } }
                    td { (n.schedule.as_deref().unwrap_or("—")) " " span class="muted" { (n.timezone) } }
                    td { @if let Some(run) = next_runs(n, now, 1).first() { (run.local.format("%a %Y-%m-%d %H:%M %Z")) } @else { "—" } }
                    td { @if n.paused { "paused" } @else { "active" } }
                }
            }
        }
    };
    Ok(page(&editor, SECTION, "Newsletters", body))
}

/// The form's fields as typed, so a refused form comes back filled in.
#[derive(Debug, Default, Deserialize)]
pub struct NewsletterForm {
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    locale: String,
    #[serde(default)]
    max_stories: String,
    #[serde(default)]
    tags: String,
    review_before_send: Option<String>,
    skip_when_empty: Option<String>,
    #[serde(default)]
    schedule: String,
    #[serde(default)]
    timezone: String,
}

impl NewsletterForm {
    fn of(n: &Newsletter) -> NewsletterForm {
        NewsletterForm {
            slug: n.slug.clone(),
            name: n.name.clone(),
            description: n.description.clone(),
            locale: n.locale.clone(),
            max_stories: n.max_stories.to_string(),
            tags: n.tags.replace(',', ", "),
            review_before_send: n.review_before_send.then(|| "on".into()),
            skip_when_empty: n.skip_when_empty.then(|| "on".into()),
            schedule: n.schedule.clone().unwrap_or_default(),
            timezone: n.timezone.clone(),
        }
    }

    /// The domain input; a number that is not one is reported like the
    /// domain's own problems.
    fn input(&self, with_slug: bool) -> Result<NewsletterInput, InvalidSettings> {
        let max_stories = match self.max_stories.trim() {
            "" => None,
            raw => match raw.parse::<i64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    let mut invalid = InvalidSettings::default();
                    invalid
                        .fields
                        .insert("max_stories", "must be a whole number".into());
                    return Err(invalid);
                }
            },
        };
        let schedule = self.schedule.trim();
        Ok(NewsletterInput {
            slug: with_slug.then(|| self.slug.clone()),
            name: Some(self.name.clone()),
            description: Some(self.description.clone()),
            locale: Some(self.locale.clone()).filter(|l| !l.is_empty()),
            max_stories,
            tags: Some(super::tag_list(&self.tags)),
            review_before_send: Some(self.review_before_send.is_some()),
            skip_when_empty: Some(self.skip_when_empty.is_some()),
            schedule: Some((!schedule.is_empty()).then(|| schedule.to_string())),
            timezone: Some(self.timezone.clone()).filter(|t| !t.is_empty()),
            ..NewsletterInput::default()
        })
    }
}

fn form(
    csrf: &str,
    action: &str,
    values: &NewsletterForm,
    creating: bool,
    problems: Option<&InvalidSettings>,
) -> Markup {
    let problem = |field: &str| problems.and_then(|p| p.fields.get(field)).cloned();
    let tz = if values.timezone.is_empty() {
        "UTC"
    } else {
        values.timezone.as_str()
    };
    html! {
        @if let Some(p) = problems {
            p class="flash error" role="alert" { "Please fix: " (p) }
        }
        form method="post" action=(action) class="stack" {
            (csrf::field(csrf))
            @if creating {
                label { "Slug (in URLs, cannot change later)" input name="slug" value=(values.slug) required pattern="[a-z0-9-]+"; }
            }
            label { "Name" input name="name" value=(values.name) required; }
            label { "Description" textarea name="description" { (values.description) } }
            label { "Language"
                select name="locale" {
                    @for (code, label) in [("en", "English"), ("fr", "Français")] {
                        option value=(code) selected[values.locale == code] { (label) }
                    }
                }
            }
            label { "Stories per issue (at most)" input name="max_stories" type="number" min="1" max="100" value=(if values.max_stories.is_empty() { "10" } else { values.max_stories.as_str() }); }
            label { "Only stories tagged (comma-separated, empty for all)" input name="tags" value=(values.tags); }
            label { "Schedule (cron, 5 fields, e.g. 0 7 * * FRI; empty for none)" input name="schedule" value=(values.schedule) placeholder="0 7 * * FRI"; }
            @if let Some(p) = problem("schedule") { span class="flash error" { (p) } }
            p class="muted" id="live-runs" aria-live="polite" {}
            label { "Timezone"
                select name="timezone" {
                    @for zone in chrono_tz::TZ_VARIANTS {
                        option value=(zone.name()) selected[zone.name() == tz] { (zone.name()) }
                    }
                }
            }
            label { input type="checkbox" name="review_before_send" checked[values.review_before_send.is_some()]; " Leave each scheduled issue as a draft for review" }
            label { input type="checkbox" name="skip_when_empty" checked[values.skip_when_empty.is_some() || creating && values.name.is_empty()]; " Skip a slot with no new stories" }
            button type="submit" { @if creating { "Create newsletter" } @else { "Save" } }
        }
        script { (PreEscaped(LIVE_RUNS_SCRIPT)) }
    }
}

pub async fn new_form(editor: Editor) -> Result<HttpResponse, AdminError> {
    let body = form(
        &editor.csrf,
        "/admin/newsletters",
        &NewsletterForm::default(),
        true,
        None,
    );
    Ok(page(&editor, SECTION, "New newsletter", body))
}

pub async fn create(
    editor: Editor,
    state: web::Data<AppState>,
    Checked(values): Checked<NewsletterForm>,
) -> Result<HttpResponse, AdminError> {
    let result = match values.input(true) {
        Ok(input) => create_newsletter(&state.store, input).await,
        Err(invalid) => Err(NewsletterError::Invalid(invalid)),
    };
    match result {
        Ok(newsletter) => {
            state.newsletters_changed();
            Ok(see_other(&format!(
                "/admin/newsletters/{}",
                newsletter.slug
            )))
        }
        Err(NewsletterError::Invalid(invalid)) => {
            let body = form(
                &editor.csrf,
                "/admin/newsletters",
                &values,
                true,
                Some(&invalid),
            );
            Ok(unprocessable(page(
                &editor,
                SECTION,
                "New newsletter",
                body,
            )))
        }
        Err(NewsletterError::SlugTaken(slug)) => {
            let mut invalid = InvalidSettings::default();
            invalid
                .fields
                .insert("slug", format!("{slug} is taken by another newsletter"));
            let body = form(
                &editor.csrf,
                "/admin/newsletters",
                &values,
                true,
                Some(&invalid),
            );
            Ok(unprocessable(page(
                &editor,
                SECTION,
                "New newsletter",
                body,
            )))
        }
        Err(other) => Err(other.into()),
    }
}

fn unprocessable(mut response: HttpResponse) -> HttpResponse {
    *response.status_mut() = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
    response
}

fn runs_list(newsletter: &Newsletter) -> Markup {
    let runs = next_runs(newsletter, Utc::now(), 5);
    html! {
        h2 { "Next five sends" }
        @if newsletter.schedule.is_none() {
            p class="muted" { "No schedule: issues are built and sent by hand." }
        } @else {
            @if newsletter.paused { p class="flash error" { "Paused: these slots will not fire until you resume." } }
            ol id="next-runs" {
                @for run in &runs {
                    li { (run.local.format("%a %Y-%m-%d %H:%M %Z")) " " span class="muted" { "(" (run.utc.format("%Y-%m-%d %H:%M UTC")) ")" } }
                }
            }
        }
    }
}

fn edit_page(
    editor: &Editor,
    newsletter: &Newsletter,
    values: &NewsletterForm,
    problems: Option<&InvalidSettings>,
) -> HttpResponse {
    let base = format!("/admin/newsletters/{}", newsletter.slug);
    let body = html! {
        div class="actions" {
            form method="post" action={(base) "/build"} class="inline" {
                (csrf::field(&editor.csrf))
                button type="submit" { "Build an issue now" }
            }
            form method="post" action={(base) "/pause"} class="inline" {
                (csrf::field(&editor.csrf))
                @if newsletter.paused {
                    button type="submit" class="secondary" { "Resume" }
                } @else {
                    button type="submit" class="secondary" { "Pause" }
                }
            }
            a href={(base) "/welcome"} { "Welcome email" }
            a href={"/archive/" (newsletter.slug)} { "Public archive" }
        }
        div class="row" {
            div { (form(&editor.csrf, &base, values, false, problems)) }
            div { (runs_list(newsletter)) }
        }
    };
    page(editor, SECTION, &newsletter.name, body)
}

pub async fn show(
    editor: Editor,
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let newsletter = find_newsletter(&state.store, &slug).await?;
    let values = NewsletterForm::of(&newsletter);
    Ok(edit_page(&editor, &newsletter, &values, None))
}

pub async fn update(
    editor: Editor,
    state: web::Data<AppState>,
    slug: web::Path<String>,
    Checked(values): Checked<NewsletterForm>,
) -> Result<HttpResponse, AdminError> {
    let result = match values.input(false) {
        Ok(input) => update_newsletter(&state.store, &slug, input).await,
        Err(invalid) => Err(NewsletterError::Invalid(invalid)),
    };
    match result {
        Ok(newsletter) => {
            state.newsletters_changed();
            Ok(see_other(&format!(
                "/admin/newsletters/{}",
                newsletter.slug
            )))
        }
        Err(NewsletterError::Invalid(invalid)) => {
            let newsletter = find_newsletter(&state.store, &slug).await?;
            Ok(unprocessable(edit_page(
                &editor,
                &newsletter,
                &values,
                Some(&invalid),
            )))
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn toggle_pause(
    _editor: Editor,
    state: web::Data<AppState>,
    slug: web::Path<String>,
    _form: Checked<NoFields>,
) -> Result<HttpResponse, AdminError> {
    let current = find_newsletter(&state.store, &slug).await?;
    let input = NewsletterInput {
        paused: Some(!current.paused),
        ..NewsletterInput::default()
    };
    update_newsletter(&state.store, &slug, input).await?;
    state.newsletters_changed();
    Ok(see_other(&format!("/admin/newsletters/{slug}")))
}

/// Builds a draft now and opens it (or the existing draft when the build
/// found nothing new to add).
pub async fn build_now(
    _editor: Editor,
    state: web::Data<AppState>,
    slug: web::Path<String>,
    _form: Checked<NoFields>,
) -> Result<HttpResponse, AdminError> {
    let newsletter = find_newsletter(&state.store, &slug).await?;
    let id = match build_issue(
        &state.store,
        &newsletter,
        None,
        state.settings.scheduling.first_issue_window,
    )
    .await?
    {
        BuildOutcome::Built(issue) | BuildOutcome::Skipped(issue) => issue.id,
        BuildOutcome::AlreadyExists(id) => id,
    };
    Ok(see_other(&format!("/admin/issues/{id}")))
}
