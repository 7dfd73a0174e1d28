//! Stories: the newest first with a search by title or URL, hide and show,
//! a form to add one by hand (the same upsert as the CMS API: a known URL
//! updates), a story's edit form (the same validation as the API), and
//! each feed's last poll and last error.

use actix_web::{HttpResponse, web};
use maud::html;
use serde::Deserialize;

use super::auth::{Editor, see_other};
use super::csrf::{self, Checked, NoFields};
use super::error::AdminError;
use super::layout::{page, when};
use crate::stories::{NewStory, StoryInput};
use crate::web::AppState;

const SECTION: &str = "Stories";
const PAGE_SIZE: i64 = 50;

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

pub async fn list(
    editor: Editor,
    state: web::Data<AppState>,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, AdminError> {
    let stories = state
        .store
        .stories()
        .search(query.q.trim(), PAGE_SIZE)
        .await?;
    let feeds = state.store.feeds().all().await?;
    let body = html! {
        form method="get" action="/admin/stories" class="actions" {
            input type="search" name="q" value=(query.q) placeholder="Title or URL";
            button type="submit" class="secondary" { "Search" }
        }
        table {
            tr { th { "Title" } th { "Published" } th { "Tags" } th { "" } }
            @for story in &stories {
                tr {
                    td { a href={"/admin/stories/" (story.id)} { (story.title) } @if story.hidden { " " span class="muted" { "(hidden)" } } br; a class="muted" href=(story.url) { (story.url) } }
                    td { (when(story.published_at)) }
                    td { (story.tags.as_slice().join(", ")) }
                    td {
                        form method="post" action={"/admin/stories/" (story.id) "/hide"} class="inline" {
                            (csrf::field(&editor.csrf))
                            button type="submit" class="secondary" { @if story.hidden { "Show" } @else { "Hide" } }
                        }
                    }
                }
            }
        }
        @if stories.is_empty() {
            p class="muted" id="no-stories" {
                @if query.q.trim().is_empty() {
                    "No stories yet. " a href="#feeds" { "Add the site's feed" }
                    " to bring them in, or " a href="#add-story" { "add one by hand" } "."
                } @else {
                    "No story matches."
                }
            }
        }
        (super::feeds::section(&editor, &feeds))
        h2 id="add-story" { "Add a story" }
        form method="post" action="/admin/stories" class="stack" {
            (csrf::field(&editor.csrf))
            label { "URL" input type="url" name="url" required; }
            label { "Title" input name="title" required; }
            label { "Summary" textarea name="summary" {} }
            label { "Image URL" input type="url" name="image_url"; }
            label { "Author" input name="author"; }
            label { "Tags (comma-separated)" input name="tags"; }
            button type="submit" { "Add story" }
        }
    };
    Ok(page(&editor, SECTION, "Stories", body))
}

#[derive(Debug, Deserialize)]
pub struct StoryForm {
    #[serde(default)]
    url: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    image_url: String,
    #[serde(default)]
    author: String,
    #[serde(default)]
    tags: String,
    /// A checkbox: present when ticked.
    hidden: Option<String>,
}

impl StoryForm {
    /// The form as the API's input, so it is checked by the same rules
    /// (`NewStory::parse`).
    fn parse(&self, published_at: Option<String>) -> Result<NewStory, AdminError> {
        let present = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        let input = StoryInput {
            url: present(&self.url),
            title: present(&self.title),
            summary: present(&self.summary),
            image_url: present(&self.image_url),
            author: present(&self.author),
            published_at,
            tags: Some(super::tag_list(&self.tags)),
            ..StoryInput::default()
        };
        NewStory::parse(input).map_err(|invalid| AdminError::BadForm(invalid.to_string()))
    }
}

pub async fn add(
    _editor: Editor,
    state: web::Data<AppState>,
    Checked(form): Checked<StoryForm>,
) -> Result<HttpResponse, AdminError> {
    let story = form.parse(None)?;
    match crate::stories::upsert_story(&state.store, &story).await {
        Ok(_) => Ok(see_other("/admin/stories")),
        Err(error) if error.is_unique_violation() => Err(AdminError::BadForm(
            "Another story already has this URL.".into(),
        )),
        Err(error) => Err(error.into()),
    }
}

/// One story's edit form.
pub async fn edit_form(
    editor: Editor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AdminError> {
    let story = state
        .store
        .stories()
        .by_id(*id)
        .await?
        .ok_or(AdminError::NotFound)?;
    let body = html! {
        p class="muted" { "Published " (when(story.published_at))
            @if story.feed_id.is_some() { " · from a feed: a later change in the feed item overwrites these fields" } }
        form method="post" action={"/admin/stories/" (story.id)} class="stack" {
            (csrf::field(&editor.csrf))
            label { "URL" input type="url" name="url" value=(story.url) required; }
            label { "Title" input name="title" value=(story.title) required; }
            label { "Summary" textarea name="summary" { (story.summary.clone().unwrap_or_default()) } }
            label { "Image URL" input type="url" name="image_url" value=(story.image_url.clone().unwrap_or_default()); }
            label { "Author" input name="author" value=(story.author.clone().unwrap_or_default()); }
            label { "Tags (comma-separated)" input name="tags" value=(story.tags.as_slice().join(", ")); }
            label { span { input type="checkbox" name="hidden" value="1" checked[story.hidden]; " Hidden (left out of future issues)" } }
            button type="submit" { "Save story" }
        }
        p { a href="/admin/stories" { "Back to the stories" } }
    };
    Ok(page(&editor, SECTION, &story.title, body))
}

/// Saves an edit, checked by the same rules as the API's.
pub async fn edit(
    _editor: Editor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    Checked(form): Checked<StoryForm>,
) -> Result<HttpResponse, AdminError> {
    let existing = state
        .store
        .stories()
        .by_id(*id)
        .await?
        .ok_or(AdminError::NotFound)?;
    let published_at =
        chrono::DateTime::from_timestamp_millis(existing.published_at).map(|at| at.to_rfc3339());
    let story = form.parse(published_at)?;
    match state
        .store
        .stories()
        .edit(
            existing.id,
            &story,
            form.hidden.is_some(),
            crate::store::now_ms(),
        )
        .await
    {
        Ok(Some(_)) => Ok(see_other(&format!("/admin/stories/{id}"))),
        Ok(None) => Err(AdminError::NotFound),
        Err(error) if error.is_unique_violation() => Err(AdminError::BadForm(
            "Another story already has this URL.".into(),
        )),
        Err(error) => Err(error.into()),
    }
}

/// Hides a story from future issues (or shows it again); issues already
/// built keep it.
pub async fn toggle_hidden(
    _editor: Editor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _form: Checked<NoFields>,
) -> Result<HttpResponse, AdminError> {
    if !state
        .store
        .stories()
        .toggle_hidden(*id, crate::store::now_ms())
        .await?
    {
        return Err(AdminError::NotFound);
    }
    Ok(see_other("/admin/stories"))
}
