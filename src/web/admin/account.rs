//! The logged-in user's own account: change the password (the current one
//! first, so a session left open cannot take the account) and end every
//! other session ("log out everywhere"). Both bump the user's session
//! version, which ends every session started before; this one starts again
//! under the new version, so the user stays logged in here.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;
use serde::Deserialize;

use super::auth::{Editor, see_other};
use super::csrf::{self, Checked, NoFields};
use super::error::AdminError;
use super::layout::{opt_when, page};
use super::session;
use super::users::capitalised;
use crate::users::{self, Password, UserError};
use crate::web::AppState;

const SECTION: &str = "Account";

fn account_page(
    editor: &Editor,
    notice: Option<&str>,
    problem: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let user = &editor.user;
    let body = html! {
        @if let Some(notice) = notice { p class="flash" role="status" { (notice) } }
        @if let Some(problem) = problem { p class="flash error" role="alert" { (problem) } }
        p { (user.email) " · " (user.role) " · last login " (opt_when(user.last_login_at)) }
        h2 { "Change your password" }
        form method="post" action="/admin/account/password" class="stack" {
            (csrf::field(&editor.csrf))
            label { "Current password"
                input type="password" name="current" required autocomplete="current-password";
            }
            label { "New password (at least " (users::MIN_PASSWORD_CHARS) " characters)"
                input type="password" name="new" required minlength=(users::MIN_PASSWORD_CHARS) autocomplete="new-password";
            }
            label { "New password again"
                input type="password" name="again" required minlength=(users::MIN_PASSWORD_CHARS) autocomplete="new-password";
            }
            button type="submit" { "Change password" }
        }
        p class="muted" { "Changing the password ends your sessions on every other device." }
        h2 { "Log out everywhere" }
        p class="muted" { "Ends your sessions on every other browser and device, for example one you lost or left logged in. You stay logged in here." }
        form method="post" action="/admin/account/sessions" {
            (csrf::field(&editor.csrf))
            button type="submit" class="danger" { "Log out everywhere else" }
        }
    };
    let mut response = page(editor, SECTION, "Your account", body);
    *response.status_mut() = status;
    response
}

pub async fn show(editor: Editor, req: HttpRequest) -> HttpResponse {
    let notice = match super::super::public::subscribe::query_param(&req, "done").as_deref() {
        Some("password") => Some("Your password is changed. Your other sessions have ended."),
        Some("sessions") => Some("Your other sessions have ended."),
        _ => None,
    };
    account_page(&editor, notice, None, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    again: String,
}

pub async fn change_password(
    editor: Editor,
    state: web::Data<AppState>,
    session: Session,
    Checked(form): Checked<PasswordForm>,
) -> Result<HttpResponse, AdminError> {
    let refuse = |problem: &str, status| account_page(&editor, None, Some(problem), status);
    if form.new != form.again {
        return Ok(refuse(
            "The new passwords do not match.",
            StatusCode::BAD_REQUEST,
        ));
    }
    let new = match Password::parse(&form.new) {
        Ok(new) => new,
        Err(error) => {
            return Ok(refuse(
                &capitalised(&error.to_string()),
                StatusCode::BAD_REQUEST,
            ));
        }
    };
    let changed = users::change_own_password(
        &state.store,
        &state.password_checks,
        &editor.user,
        &form.current,
        &new,
    )
    .await;
    match changed {
        Ok(user) => {
            session::log_in(&session, &user)?;
            tracing::info!(user_id = user.id, "admin password changed");
            Ok(see_other("/admin/account?done=password"))
        }
        Err(UserError::WrongPassword) => Ok(refuse(
            "The current password is wrong. Nothing was changed.",
            StatusCode::FORBIDDEN,
        )),
        Err(UserError::Busy) => Ok(refuse(
            "Gazette is busy checking other passwords. Try again in a few seconds.",
            StatusCode::TOO_MANY_REQUESTS,
        )),
        Err(error) => Err(error.into()),
    }
}

pub async fn end_other_sessions(
    editor: Editor,
    state: web::Data<AppState>,
    session: Session,
    _form: Checked<NoFields>,
) -> Result<HttpResponse, AdminError> {
    let user = users::end_sessions(&state.store, editor.user.id).await?;
    session::log_in(&session, &user)?;
    tracing::info!(user_id = user.id, "admin sessions ended by their user");
    Ok(see_other("/admin/account?done=sessions"))
}
