//! CSRF protection: a random token per session, written as a hidden field in
//! every admin form ([`field`]) and checked, in constant time, before any
//! POST handler runs ([`Checked`]). A POST without it, or with another
//! session's, gets a 403 page and changes nothing. SameSite=Lax on the
//! cookie already stops most cross-site POSTs; the token also covers older
//! browsers and same-site subdomains.

use std::future::Future;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use maud::{Markup, html};
use rand::RngCore;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use super::error::AdminError;

const CSRF_KEY: &str = "csrf";
/// The form field carrying the token.
pub const FIELD: &str = "csrf";

fn fresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The session's token, made on first use.
pub fn token(session: &Session) -> Result<String, AdminError> {
    if let Some(token) = session.get::<String>(CSRF_KEY)? {
        return Ok(token);
    }
    let token = fresh_token();
    session.insert(CSRF_KEY, &token)?;
    Ok(token)
}

/// A new token, at login: one seen before login is no use after it.
pub fn rotate(session: &Session) -> Result<(), actix_session::SessionInsertError> {
    session.insert(CSRF_KEY, fresh_token())
}

/// The hidden field for a form.
pub fn field(token: &str) -> Markup {
    html! { input type="hidden" name=(FIELD) value=(token); }
}

fn matches(session: &Session, sent: Option<&str>) -> bool {
    let expected = session.get::<String>(CSRF_KEY).ok().flatten();
    match (expected, sent) {
        (Some(expected), Some(sent)) => bool::from(expected.as_bytes().ct_eq(sent.as_bytes())),
        _ => false,
    }
}

/// Checks a token read from a body that [`Checked`] cannot read (the
/// multipart upload).
pub fn verify(session: &Session, sent: Option<&str>) -> Result<(), AdminError> {
    if matches(session, sent) {
        Ok(())
    } else {
        Err(AdminError::BadCsrf)
    }
}

/// A form-encoded body whose CSRF token was checked before it was parsed
/// into `T` (so a forged POST is refused even when its fields are wrong).
/// `T` should ignore the `csrf` field (no `deny_unknown_fields`).
pub struct Checked<T>(pub T);

/// For POSTs whose only field is the token.
#[derive(Debug, serde::Deserialize)]
pub struct NoFields {}

impl<T: DeserializeOwned + 'static> FromRequest for Checked<T> {
    type Error = AdminError;
    type Future = Pin<Box<dyn Future<Output = Result<Checked<T>, AdminError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let body = body
                .await
                .map_err(|_| AdminError::BadForm("The form could not be read.".into()))?;
            let sent = url::form_urlencoded::parse(&body)
                .find(|(name, _)| name == FIELD)
                .map(|(_, value)| value.into_owned());
            if !matches(&req.get_session(), sent.as_deref()) {
                return Err(AdminError::BadCsrf);
            }
            serde_urlencoded::from_bytes::<T>(&body)
                .map(Checked)
                .map_err(|e| AdminError::BadForm(format!("The form is incomplete: {e}.")))
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_different() {
        let (a, b) = (fresh_token(), fresh_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
    }
}
