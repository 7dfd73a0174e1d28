//! Feeds in the admin: the list under Stories, with each feed's last poll
//! and error, and a form to add one. A feed added here is polled at once,
//! so the site's stories are there to build the first issue from; a slow
//! feed finishes its first poll in the background instead of holding the
//! editor's request.

use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::{Editor, see_other};
use super::csrf::{self, Checked};
use super::error::AdminError;
use super::layout::opt_when;
use crate::feeds::{Feed, FeedError, add_feed, poll_feed_now};
use crate::web::AppState;

/// How long adding a feed waits for its first poll.
const FIRST_POLL_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// The feeds section of the Stories page.
pub fn section(editor: &Editor, feeds: &[Feed]) -> Markup {
    html! {
        h2 id="feeds" { "Feeds" }
        @if feeds.is_empty() {
            p class="muted" id="no-feeds" {
                "No feed yet. Add the site's RSS, Atom or JSON feed: its stories come in by themselves, "
                "every 15 minutes, and each issue is built from them."
            }
        } @else {
            table {
                tr { th { "Feed" } th { "Last poll" } th { "Last error" } }
                @for feed in feeds {
                    tr {
                        td { (feed.title.as_deref().unwrap_or(&feed.url)) br; span class="muted" { (feed.url) } @if !feed.active { " (inactive)" } }
                        td {
                            @if feed.last_polled_at.is_none() && feed.active {
                                span class="muted" { "not polled yet" }
                            } @else {
                                (opt_when(feed.last_polled_at))
                            }
                        }
                        td { (feed.last_error.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
        form method="post" action="/admin/feeds" class="actions" {
            (csrf::field(&editor.csrf))
            input type="url" name="url" required placeholder="https://example.org/feed.xml" aria-label="Feed URL" size="40";
            button type="submit" { "Add feed" }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct FeedForm {
    #[serde(default)]
    url: String,
}

pub async fn add(
    _editor: Editor,
    state: web::Data<AppState>,
    Checked(form): Checked<FeedForm>,
) -> Result<HttpResponse, AdminError> {
    let feed = add_feed(&state.store, &state.feed_fetcher, form.url.trim(), None)
        .await
        .map_err(|error| match error {
            FeedError::Store(error) => error.into(),
            refused => AdminError::BadForm(refused.to_string()),
        })?;
    // The first poll now rather than in a minute: its stories (or its
    // error) are on the page the editor comes back to, unless the feed is
    // slow; then the poll goes on without the request.
    let (store, fetcher, id) = (state.store.clone(), state.feed_fetcher.clone(), feed.id);
    let first_poll = tokio::spawn(async move {
        if let Err(error) = poll_feed_now(&store, &fetcher, id).await {
            tracing::warn!(%error, feed = id, "first poll of a new feed failed");
        }
    });
    let _ = tokio::time::timeout(FIRST_POLL_WAIT, first_poll).await;
    Ok(see_other("/admin/stories#feeds"))
}
