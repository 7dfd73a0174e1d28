//! Headers that tell browsers what a page may do, added to every answer
//! that does not set its own:
//!
//! - `X-Content-Type-Options: nosniff` everywhere, so nothing served as
//!   text or JSON is ever run as a script or a page;
//! - on public pages, a `Content-Security-Policy` that loads nothing from
//!   elsewhere (Gazette's pages need no other host), runs only the one line
//!   of script Gazette writes (the confirmation page's, by its hash), sends
//!   forms only to Gazette, and lets no other site frame the page
//!   (`frame-ancestors 'none'`, against clickjacking of the unsubscribe and
//!   preferences buttons); `/embed` alone may be framed, it is the form a
//!   news site shows; email archives may show images from anywhere;
//! - `Strict-Transport-Security` when the site is on https.
//!
//! The admin may be framed only by itself (`X-Frame-Options: SAMEORIGIN`:
//! its issue preview is framed by the issue page).

use std::sync::OnceLock;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{
    CONTENT_SECURITY_POLICY, HeaderName, HeaderValue, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use actix_web::middleware::Next;
use actix_web::{Error, web};
use base64::Engine;
use sha2::{Digest, Sha256};

use super::AppState;
use super::public::confirm::CONFIRM_SCRIPT;

/// A year: what HSTS preload lists ask for.
const HSTS: &str = "max-age=31536000";

/// The policy of public pages; `frame` is their `frame-ancestors`.
fn public_policy(frame: &str) -> String {
    static SCRIPT_HASH: OnceLock<String> = OnceLock::new();
    let script = SCRIPT_HASH.get_or_init(|| {
        let digest = Sha256::digest(CONFIRM_SCRIPT.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(digest)
    });
    format!(
        "default-src 'none'; script-src 'sha256-{script}'; style-src 'unsafe-inline'; \
         img-src 'self' https: data:; form-action 'self'; base-uri 'none'; \
         frame-ancestors {frame}"
    )
}

/// What `path` may be framed by; `None` for the admin, which says so
/// itself.
fn frame_ancestors(path: &str) -> Option<&'static str> {
    if path == "/admin" || path.starts_with("/admin/") {
        None
    } else if path == "/embed" {
        Some("*")
    } else {
        Some("'none'")
    }
}

pub async fn add_security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let https = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|state| state.settings.base_url().starts_with("https://"));
    let frame = frame_ancestors(req.path());
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    let mut set = |name: HeaderName, value: HeaderValue| {
        if !headers.contains_key(&name) {
            headers.insert(name, value);
        }
    };
    set(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    match frame {
        Some(frame) => {
            if let Ok(policy) = HeaderValue::from_str(&public_policy(frame)) {
                set(CONTENT_SECURITY_POLICY, policy);
            }
        }
        None => set(X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN")),
    }
    if https {
        set(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_embed_may_be_framed() {
        assert_eq!(frame_ancestors("/subscribe"), Some("'none'"));
        assert_eq!(frame_ancestors("/unsubscribe"), Some("'none'"));
        assert_eq!(frame_ancestors("/embed"), Some("*"));
        assert_eq!(frame_ancestors("/admin/issues/1/preview.html"), None);
        assert_eq!(frame_ancestors("/administrator"), Some("'none'"));
    }
}
