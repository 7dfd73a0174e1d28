//! The admin session: actix-session with the cookie store, so every
//! instance sharing the secret reads every session and nothing is kept on
//! the server. The cookie is encrypted and signed with a key derived from
//! the server secret, HttpOnly, SameSite=Lax, Secure when the site is on
//! https, and scoped to `/admin`.
//!
//! [`with_session`] wraps the `/admin` scope only: public pages and the API
//! never read or set the cookie. While the server secret is rotated, a
//! cookie made with a previous key (`server.previous_secret_keys`) is read
//! by re-encrypting it with the current key before the session middleware
//! sees it ([`accept_previous_key`]). The key lives in [`AppState`], so the
//! middleware is put together per request from it (a few clones), which
//! keeps `routes` a plain function like the others.

use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::CookieSessionStore;
use actix_session::{Session, SessionMiddleware};
use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, CookieJar, Key, SameSite};
use actix_web::dev::{ServiceRequest, ServiceResponse, Transform};
use actix_web::middleware::Next;
use actix_web::{Error, web};
use sha2::{Digest, Sha512};

use crate::web::AppState;

pub const COOKIE_NAME: &str = "gazette_admin";
/// A working day; after it the editor logs in again.
const SESSION_HOURS: i64 = 12;

const USER_ID: &str = "user_id";
const SESSION_VERSION: &str = "session_version";

/// The session key for the server secret `secret` (any length): 64 bytes
/// of SHA-512 over a label and the secret, so it differs from the link
/// signing key made from the same secret and is always long enough for
/// `Key::derive_from`.
pub fn session_key(secret: &[u8]) -> Key {
    let mut hasher = Sha512::new();
    hasher.update(b"gazette admin session v1\0");
    hasher.update(secret);
    Key::derive_from(&hasher.finalize())
}

fn middleware(state: &AppState) -> SessionMiddleware<CookieSessionStore> {
    let secure = state.settings.base_url().starts_with("https://");
    SessionMiddleware::builder(CookieSessionStore::default(), state.session_key.clone())
        .cookie_name(COOKIE_NAME.to_string())
        .cookie_path("/admin".to_string())
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_secure(secure)
        .cookie_content_security(CookieContentSecurity::Private)
        .session_lifecycle(
            PersistentSession::default()
                .session_ttl(actix_web::cookie::time::Duration::hours(SESSION_HOURS)),
        )
        .build()
}

/// Runs the rest of the request inside the session middleware.
pub async fn with_session(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Err(actix_web::error::ErrorInternalServerError(
            "application state missing",
        ));
    };
    let mut req = req;
    if !state.previous_session_keys.is_empty() {
        accept_previous_key(&mut req, &state.session_key, &state.previous_session_keys);
    }
    let service = middleware(&state)
        .new_transform(next)
        .await
        .map_err(|()| actix_web::error::ErrorInternalServerError("session middleware"))?;
    actix_web::dev::Service::call(&service, req).await
}

/// A session cookie that only a previous key opens is replaced, in the
/// request, by the same session encrypted with the current key. The
/// header is parsed here by hand: `HttpRequest::cookies` keeps what it
/// parsed, and the session middleware must read the new value.
fn accept_previous_key(req: &mut ServiceRequest, current: &Key, previous: &[Key]) {
    use actix_web::http::header::{COOKIE, HeaderValue};
    let mut cookies: Vec<Cookie<'static>> = req
        .headers()
        .get_all(COOKIE)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| Cookie::parse_encoded(pair.trim().to_string()).ok())
        .collect();
    let Some(sealed) = cookies.iter().find(|c| c.name() == COOKIE_NAME).cloned() else {
        return;
    };
    let opened_by = |key: &Key| {
        let mut jar = CookieJar::new();
        jar.add_original(sealed.clone());
        jar.private(key).get(COOKIE_NAME)
    };
    if opened_by(current).is_some() {
        return;
    }
    let Some(opened) = previous.iter().find_map(opened_by) else {
        return;
    };
    let mut jar = CookieJar::new();
    jar.private_mut(current).add(opened);
    let Some(resealed) = jar.get(COOKIE_NAME).cloned() else {
        return;
    };
    for cookie in &mut cookies {
        if cookie.name() == COOKIE_NAME {
            *cookie = resealed.clone();
        }
    }
    let header = cookies
        .iter()
        .map(|c| c.stripped().encoded().to_string())
        .collect::<Vec<_>>()
        .join("; ");
    if let Ok(value) = HeaderValue::from_str(&header) {
        req.headers_mut().insert(COOKIE, value);
    }
}

/// The logged-in user's id, if any.
pub fn user_id(session: &Session) -> Option<i64> {
    session.get::<i64>(USER_ID).ok().flatten()
}

/// The user's session version this session was started under; sessions
/// from before versions existed count as the first.
pub fn version(session: &Session) -> i64 {
    session
        .get::<i64>(SESSION_VERSION)
        .ok()
        .flatten()
        .unwrap_or(1)
}

/// Starts a session for `user` under a new id (no session fixation) and
/// their current session version.
pub fn log_in(
    session: &Session,
    user: &crate::users::User,
) -> Result<(), actix_session::SessionInsertError> {
    session.renew();
    session.insert(USER_ID, user.id)?;
    session.insert(SESSION_VERSION, user.session_version)?;
    super::csrf::rotate(session)?;
    Ok(())
}

pub fn log_out(session: &Session) {
    session.purge();
}
