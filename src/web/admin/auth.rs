//! Who is asking: the [`Editor`] and [`Admin`] extractors load the user from
//! the session (no session: a 303 to the login page that comes back here;
//! an editor on an admin page: a 403 page), and the login and logout
//! handlers. Login is limited per client and slowed down per account
//! (`web::login_limits`) before any password is hashed, and the hashing
//! itself is bounded (`users::password_checks`); it answers one generic
//! message for any wrong address or password, and starts the session under
//! a new id.

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use maud::html;
use serde::Deserialize;

use super::csrf::{self, Checked, NoFields};
use super::error::AdminError;
use super::{layout, session};
use crate::users::{LoginCheck, Role, User, authenticate};
use crate::web::AppState;
use crate::web::client_info::ClientInfo;
use crate::web::login_limits::LoginRefusal;
use crate::web::rate_limit::RateLimited;

/// Anyone logged in: editors and admins.
pub struct Editor {
    pub user: User,
    /// The session's CSRF token, for the forms on the page.
    pub csrf: String,
}

impl Editor {
    pub fn is_admin(&self) -> bool {
        self.user.role == Role::Admin
    }
}

/// An admin only.
pub struct Admin(pub Editor);

/// Where to come back after logging in: the page asked for, when it is a
/// page (a GET); the dashboard otherwise.
fn next_of(req: &HttpRequest) -> String {
    if req.method() == actix_web::http::Method::GET {
        req.uri()
            .path_and_query()
            .map_or_else(|| "/admin".to_string(), |pq| pq.as_str().to_string())
    } else {
        "/admin".to_string()
    }
}

async fn load_editor(req: HttpRequest) -> Result<Editor, AdminError> {
    let session = req.get_session();
    let login = || AdminError::LoginRequired {
        next: next_of(&req),
    };
    let Some(user_id) = session::user_id(&session) else {
        return Err(login());
    };
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AdminError::Internal("application state missing".into()))?;
    // A user deleted since the login has no session any more, nor one
    // whose sessions were ended (a new password, "log out everywhere", a
    // new role) since this one started.
    let user = match state.store.users().by_id(user_id).await? {
        Some(user) if user.session_version == session::version(&session) => user,
        _ => {
            session::log_out(&session);
            return Err(login());
        }
    };
    let csrf = csrf::token(&session)?;
    Ok(Editor { user, csrf })
}

impl FromRequest for Editor {
    type Error = AdminError;
    type Future = Pin<Box<dyn Future<Output = Result<Editor, AdminError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(load_editor(req.clone()))
    }
}

impl FromRequest for Admin {
    type Error = AdminError;
    type Future = Pin<Box<dyn Future<Output = Result<Admin, AdminError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let editor = load_editor(req.clone());
        Box::pin(async move {
            let editor = editor.await?;
            if editor.is_admin() {
                Ok(Admin(editor))
            } else {
                Err(AdminError::AdminsOnly)
            }
        })
    }
}

/// Only paths inside the admin, so the login cannot be used to send
/// someone to another site.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(next)
            if next.starts_with("/admin")
                && !next.starts_with("//")
                && !next.contains(['\\', '\r', '\n'])
                && !next.starts_with("/admin/login") =>
        {
            next.to_string()
        }
        _ => "/admin".to_string(),
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

pub async fn login_page(
    session: Session,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, AdminError> {
    let next = safe_next(query.next.as_deref());
    if session::user_id(&session).is_some() {
        return Ok(see_other(&next));
    }
    let csrf = csrf::token(&session)?;
    Ok(login_form(StatusCode::OK, &csrf, &next, "", None))
}

fn login_form(
    status: StatusCode,
    csrf: &str,
    next: &str,
    email: &str,
    problem: Option<&str>,
) -> HttpResponse {
    let body = html! {
        h1 { "Log in to Gazette" }
        @if let Some(problem) = problem {
            p class="flash error" role="alert" { (problem) }
        }
        form method="post" action="/admin/login" class="stack" {
            (csrf::field(csrf))
            input type="hidden" name="next" value=(next);
            label { "Email" input type="email" name="email" value=(email) required autocomplete="username" autofocus; }
            label { "Password" input type="password" name="password" required autocomplete="current-password"; }
            button type="submit" { "Log in" }
        }
    };
    layout::bare_page(status, "Log in", body)
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
}

pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    Checked(form): Checked<LoginForm>,
) -> Result<HttpResponse, AdminError> {
    let next = safe_next(form.next.as_deref());
    let csrf = csrf::token(&session)?;
    let client = ClientInfo::of(&req);
    let refused = |problem: String, limited: RateLimited| {
        let mut page = login_form(
            StatusCode::TOO_MANY_REQUESTS,
            &csrf,
            &next,
            &form.email,
            Some(&problem),
        );
        if let Ok(value) = limited.retry_after_secs().to_string().parse() {
            page.headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, value);
        }
        Ok(page)
    };
    if let Err(refusal) = state.login_limits.begin(client.ip, &form.email) {
        let limited = refusal.limited();
        let problem = match refusal {
            LoginRefusal::Client(_) => format!(
                "Too many login attempts from your network. Try again in {} seconds.",
                limited.retry_after_secs()
            ),
            LoginRefusal::Account(_) => format!(
                "Too many attempts for this account. Try again in {} seconds.",
                limited.retry_after_secs()
            ),
        };
        return refused(problem, limited);
    }
    let checked = authenticate(
        &state.store,
        &state.password_checks,
        &form.email,
        &form.password,
    )
    .await?;
    match checked {
        LoginCheck::Valid(user) => {
            state.login_limits.succeeded(&form.email);
            session::log_in(&session, &user)?;
            tracing::info!(user_id = user.id, "admin login");
            Ok(see_other(&next))
        }
        LoginCheck::Invalid => Ok(login_form(
            StatusCode::UNAUTHORIZED,
            &csrf,
            &next,
            &form.email,
            Some("The email or password is wrong."),
        )),
        LoginCheck::Busy => refused(
            "Gazette is busy checking other logins. Try again in a few seconds.".to_string(),
            RateLimited {
                retry_after: std::time::Duration::from_secs(2),
            },
        ),
    }
}

pub async fn logout(
    _editor: Editor,
    session: Session,
    _form: Checked<NoFields>,
) -> Result<HttpResponse, AdminError> {
    session::log_out(&session);
    Ok(see_other("/admin/login"))
}

pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, location.to_string()))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_inside_the_admin() {
        assert_eq!(safe_next(Some("/admin/issues/3")), "/admin/issues/3");
        assert_eq!(safe_next(Some("https://evil.example")), "/admin");
        assert_eq!(safe_next(Some("//evil.example")), "/admin");
        assert_eq!(safe_next(None), "/admin");
    }
}
