//! Who is asking: the [`Editor`] and [`Admin`] extractors load the user from
//! the session (no session: a 303 to the login page that comes back here;
//! an editor on an admin page: a 403 page), and the login and logout
//! handlers. Login is rate-limited per client IP and address, answers one
//! generic message for any wrong address or password, and starts the
//! session under a new id.

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use governor::{DefaultKeyedRateLimiter, Quota};
use maud::html;
use serde::Deserialize;

use super::csrf::{self, Checked, NoFields};
use super::error::AdminError;
use super::{layout, session};
use crate::users::{Role, User, authenticate};
use crate::web::AppState;
use crate::web::client_info::ClientInfo;

/// Someone who forgot a password tries a few times; a script tries
/// thousands. Five a minute per address and client is plenty for the first.
pub const LOGINS_PER_MINUTE: u32 = 5;

/// Login attempts per (client IP, address), in memory per instance. Keys are
/// a keyed hash, so the map holds no addresses.
pub struct LoginLimits {
    limiter: DefaultKeyedRateLimiter<u64>,
    hasher: RandomState,
}

impl Default for LoginLimits {
    fn default() -> LoginLimits {
        LoginLimits {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_minute(
                NonZeroU32::new(LOGINS_PER_MINUTE).unwrap_or(NonZeroU32::MIN),
            )),
            hasher: RandomState::new(),
        }
    }
}

impl LoginLimits {
    /// True when this attempt may go ahead.
    pub fn allow(&self, ip: Option<IpAddr>, email: &str) -> bool {
        let key = self
            .hasher
            .hash_one((ip, email.trim().to_lowercase().as_str()));
        let allowed = self.limiter.check_key(&key).is_ok();
        self.limiter.retain_recent();
        allowed
    }
}

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
    // A user deleted since the login has no session any more.
    let Some(user) = state.store.user_by_id(user_id).await? else {
        session::log_out(&session);
        return Err(login());
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
    if !state.login_limits.allow(client.ip, &form.email) {
        return Ok(login_form(
            StatusCode::TOO_MANY_REQUESTS,
            &csrf,
            &next,
            &form.email,
            Some("Too many attempts. Wait a minute and try again."),
        ));
    }
    match authenticate(&state.store, &form.email, &form.password).await? {
        Some(user) => {
            session::log_in(&session, user.id)?;
            tracing::info!(user_id = user.id, "admin login");
            Ok(see_other(&next))
        }
        None => Ok(login_form(
            StatusCode::UNAUTHORIZED,
            &csrf,
            &next,
            &form.email,
            Some("The email or password is wrong."),
        )),
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

    #[test]
    fn sixth_login_in_a_minute_is_refused() {
        let limits = LoginLimits::default();
        let ip = Some(IpAddr::from([127, 0, 0, 1]));
        for _ in 0..LOGINS_PER_MINUTE {
            assert!(limits.allow(ip, "ed@example.org"));
        }
        assert!(!limits.allow(ip, "ED@example.org"));
        assert!(limits.allow(ip, "other@example.org"));
    }
}
