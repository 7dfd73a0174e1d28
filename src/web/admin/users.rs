//! Users, for admins only: the list, a form to add one (address, role,
//! initial password: the same rules as `gazette user add`), a role change,
//! ending a user's sessions everywhere, and removal. Nobody changes or removes themselves, and the last admin
//! stays, so the admin can never be left without one.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::html;
use serde::Deserialize;

use super::auth::{Admin, see_other};
use super::csrf::{self, Checked, NoFields};
use super::error::AdminError;
use super::layout::{opt_when, page, when};
use crate::users::{self, Password, Role, UserError};
use crate::web::AppState;

const SECTION: &str = "Settings";

impl From<UserError> for AdminError {
    fn from(error: UserError) -> AdminError {
        match error {
            UserError::NotFound => AdminError::NotFound,
            UserError::Store(e) => e.into(),
            UserError::Hash(e) => AdminError::Internal(e),
            other => AdminError::BadForm(other.to_string()),
        }
    }
}

async fn users_page(
    admin: &Admin,
    state: &AppState,
    problem: Option<&str>,
    status: StatusCode,
) -> Result<HttpResponse, AdminError> {
    let editor = &admin.0;
    let users = state.store.users().all().await?;
    let body = html! {
        @if let Some(problem) = problem { p class="flash error" role="alert" { (problem) } }
        p class="muted" { "Editors manage newsletters, stories, issues and subscribers; admins also manage settings, API tokens and users." }
        table id="users" {
            tr { th { "Address" } th { "Role" } th { "Added" } th { "Last login" } th { "" } }
            @for u in &users {
                tr {
                    td { (u.email) @if u.id == editor.user.id { " " span class="muted" { "(you)" } } }
                    td { (u.role) }
                    td { (when(u.created_at)) }
                    td { (opt_when(u.last_login_at)) }
                    td {
                        @if u.id != editor.user.id {
                            @let other = if u.role == Role::Admin { Role::Editor } else { Role::Admin };
                            form method="post" action={"/admin/users/" (u.id) "/role"} class="inline" {
                                (csrf::field(&editor.csrf))
                                input type="hidden" name="role" value=(other.as_str());
                                button type="submit" class="secondary" { "Make " (other.as_str()) }
                            }
                            " "
                            form method="post" action={"/admin/users/" (u.id) "/sessions"} class="inline" {
                                (csrf::field(&editor.csrf))
                                button type="submit" class="secondary" title="Log this user out on every device" { "End sessions" }
                            }
                            " "
                            form method="post" action={"/admin/users/" (u.id) "/remove"} class="inline" {
                                (csrf::field(&editor.csrf))
                                button type="submit" class="danger" { "Remove" }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Add a user" }
        form method="post" action="/admin/users" class="stack" {
            (csrf::field(&editor.csrf))
            label { "Email" input type="email" name="email" required autocomplete="off"; }
            label { "Role"
                select name="role" {
                    option value="editor" { "editor" }
                    option value="admin" { "admin" }
                }
            }
            label { "Initial password (at least " (users::MIN_PASSWORD_CHARS) " characters; tell them to keep it secret)"
                input type="password" name="password" required minlength=(users::MIN_PASSWORD_CHARS) autocomplete="new-password";
            }
            button type="submit" { "Add user" }
        }
    };
    let mut response = page(editor, SECTION, "Users", body);
    *response.status_mut() = status;
    Ok(response)
}

pub async fn list(admin: Admin, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    users_page(&admin, &state, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

pub async fn add(
    admin: Admin,
    state: web::Data<AppState>,
    Checked(form): Checked<NewUserForm>,
) -> Result<HttpResponse, AdminError> {
    let refuse = |problem: String| {
        let (admin, state) = (&admin, &state);
        async move { users_page(admin, state, Some(&problem), StatusCode::BAD_REQUEST).await }
    };
    let Some(role) = Role::parse(&form.role) else {
        return refuse("The role must be admin or editor.".to_string()).await;
    };
    let password = match Password::parse(&form.password) {
        Ok(password) => password,
        Err(error) => return refuse(capitalised(&error.to_string())).await,
    };
    match users::add_user(&state.store, &form.email, role, &password).await {
        Ok(user) => {
            tracing::info!(user_id = user.id, by = admin.0.user.id, "admin user added");
            Ok(see_other("/admin/users"))
        }
        Err(error @ (UserError::InvalidEmail(_) | UserError::EmailTaken(_))) => {
            refuse(capitalised(&error.to_string())).await
        }
        Err(error) => Err(error.into()),
    }
}

pub(super) fn capitalised(sentence: &str) -> String {
    let mut chars = sentence.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect::<String>() + ".")
        .unwrap_or_default()
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
}

pub async fn change_role(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    Checked(form): Checked<RoleForm>,
) -> Result<HttpResponse, AdminError> {
    let role = Role::parse(&form.role)
        .ok_or_else(|| AdminError::BadForm("The role must be admin or editor.".into()))?;
    match users::change_role(&state.store, admin.0.user.id, *id, role).await {
        Ok(_) => Ok(see_other("/admin/users")),
        Err(error @ (UserError::LastAdmin | UserError::Yourself)) => {
            refused(&admin, &state, &error).await
        }
        Err(error) => Err(error.into()),
    }
}

pub async fn remove(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _form: Checked<NoFields>,
) -> Result<HttpResponse, AdminError> {
    match users::remove_user(&state.store, admin.0.user.id, *id).await {
        Ok(()) => {
            tracing::info!(user_id = *id, by = admin.0.user.id, "admin user removed");
            Ok(see_other("/admin/users"))
        }
        Err(error @ (UserError::LastAdmin | UserError::Yourself)) => {
            refused(&admin, &state, &error).await
        }
        Err(error) => Err(error.into()),
    }
}

/// Logs another user out everywhere (a lost laptop, someone who left).
pub async fn end_sessions(
    admin: Admin,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    _form: Checked<NoFields>,
) -> Result<HttpResponse, AdminError> {
    if *id == admin.0.user.id {
        return Ok(see_other("/admin/account"));
    }
    users::end_sessions(&state.store, *id).await?;
    tracing::info!(user_id = *id, by = admin.0.user.id, "admin sessions ended");
    Ok(see_other("/admin/users"))
}

/// The users page again with why a change to an account was refused.
async fn refused(
    admin: &Admin,
    state: &web::Data<AppState>,
    error: &UserError,
) -> Result<HttpResponse, AdminError> {
    users_page(
        admin,
        state,
        Some(&capitalised(&error.to_string())),
        StatusCode::CONFLICT,
    )
    .await
}
