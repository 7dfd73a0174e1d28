//! "Send now": a draft goes out only from a page that says to how many
//! subscribers, so a click on the issue page cannot mail the whole list by
//! mistake (no script needed: the issue page links here, this page posts).

use actix_web::{HttpResponse, web};
use maud::html;

use super::auth::{Editor, see_other};
use super::csrf::{self, Checked, NoFields};
use super::error::AdminError;
use super::issues::{SECTION, find};
use super::layout::page;
use crate::issues::IssueStatus;
use crate::issues::send::send_issue;
use crate::issues::sender::SenderSetup;
use crate::web::AppState;

pub async fn confirm(
    editor: Editor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AdminError> {
    let issue = find(&state, *id).await?;
    let base = format!("/admin/issues/{}", issue.id);
    if issue.status != IssueStatus::Draft {
        return Ok(see_other(&base));
    }
    let newsletter = state
        .store
        .newsletters()
        .by_id(issue.newsletter_id)
        .await?
        .ok_or(AdminError::NotFound)?;
    let recipients = state
        .store
        .issues()
        .count_recipients(issue.newsletter_id)
        .await?;
    if SenderSetup::of(&state.settings).allow_issue().is_err() {
        let body = html! {
            (super::setup::sender_banner(&state))
            p { a href=(base) { "Back to the draft" } }
        };
        return Ok(page(
            &editor,
            SECTION,
            "This issue cannot be sent yet",
            body,
        ));
    }
    let body = html! {
        (super::setup::sender_banner(&state))
        p {
            "“" (issue.subject) "” of " strong { (newsletter.name) } " will go to "
            strong id="recipients" { (recipients) } " subscriber" @if recipients != 1 { "s" }
            " now. This cannot be undone once the first messages have left; a send can be cancelled while it runs."
        }
        div class="actions" {
            form method="post" action={(base) "/send"} class="inline" {
                (csrf::field(&editor.csrf))
                button type="submit" { "Send to " (recipients) " subscriber" @if recipients != 1 { "s" } }
            }
            a href=(base) { "Back to the draft" }
        }
    };
    Ok(page(&editor, SECTION, "Send this issue?", body))
}

pub async fn send(
    _editor: Editor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _form: Checked<NoFields>,
) -> Result<HttpResponse, AdminError> {
    let sender = SenderSetup::of(&state.settings);
    send_issue(&state.store, &state.mail_waker, &sender, *id).await?;
    Ok(see_other(&format!("/admin/issues/{id}/sending")))
}
