//! Stories: the newest first with a search by title or URL, hide and show,
//! a form to add one by hand (the same upsert as the CMS API: a known URL
//! updates), and each feed's last poll and last error.

use actix_web::{HttpResponse, web};
use maud::html;
use serde::Deserialize;

use super::auth::{Editor, see_other};
use super::csrf::{self, Checked, NoFields};
use super::error::AdminError;
use super::layout::{opt_when, page, when};
use super::queries;
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
    let stories = queries::search_stories(&state.store, query.q.trim(), PAGE_SIZE).await?;
    let feeds = queries::feeds(&state.store).await?;
    let body = html! {
        form method="get" action="/admin/stories" class="actions" {
            input type="search" name="q" value=(query.q) placeholder="Title or URL";
            button type="submit" class="secondary" { "Search" }
        }
        table {
            tr { th { "Title" } th { "Published" } th { "Tags" } th { "" } }
            @for story in &stories {
                tr {
                    td { a href=(story.url) { (story.title) } @if story.hidden { " " span class="muted" { "(hidden)" } } }
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
        @if stories.is_empty() { p class="muted" { "No stories yet." } }
        h2 { "Feeds" }
        @if feeds.is_empty() {
            p class="muted" { "No feeds. Add one with " code { "gazette feed add URL" } "." }
        } @else {
            table {
                tr { th { "Feed" } th { "Last poll" } th { "Last error" } }
                @for feed in &feeds {
                    tr {
                        td { (feed.title.as_deref().unwrap_or(&feed.url)) br; span class="muted" { (feed.url) } @if !feed.active { " (inactive)" } }
                        td { (opt_when(feed.last_polled_at)) }
                        td { (feed.last_error.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
        h2 { "Add a story" }
        form method="post" action="/admin/stories" class="stack" {
            (csrf::field(&editor.csrf))
            label { "URL" input type="url" name="url" required; }
            label { "Title" input name="title" required; }
            label { "Summary" textarea name="summary" {} }
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
    author: String,
    #[serde(default)]
    tags: String,
}

pub async fn add(
    _editor: Editor,
    state: web::Data<AppState>,
    Checked(form): Checked<StoryForm>,
) -> Result<HttpResponse, AdminError> {
    let present = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let input = StoryInput {
        url: present(&form.url),
        title: present(&form.title),
        summary: present(&form.summary),
        author: present(&form.author),
        tags: Some(
            form.tags
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(String::from)
                .collect(),
        ),
        ..StoryInput::default()
    };
    let story =
        NewStory::parse(input).map_err(|invalid| AdminError::BadForm(invalid.to_string()))?;
    match state.store.upsert_story(&story).await {
        Ok(_) => Ok(see_other("/admin/stories")),
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
    if !queries::toggle_story_hidden(&state.store, *id).await? {
        return Err(AdminError::NotFound);
    }
    Ok(see_other("/admin/stories"))
}
