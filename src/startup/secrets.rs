//! The secret that signs links, sessions and VERP addresses: the
//! configured one, or one generated once and kept in the database.

use secrecy::ExposeSecret;

use crate::config::Settings;
use crate::store::{Store, StoreError};

/// The key that signs links and sessions, then the previous keys that
/// still verify (see [`signing_key`]).
///
/// The key for signed links: `server.secret_key` when set, else the one
/// generated and kept in the database (in clear: whoever reads the
/// database can sign links and sessions, which is why production should
/// set its own). A short configured key is warned about, not refused, so
/// an upgrade does not stop a running site.
pub async fn server_secrets(
    settings: &Settings,
    store: &Store,
) -> Result<(Vec<u8>, Vec<Vec<u8>>), StoreError> {
    let previous = settings
        .server
        .previous_secret_keys
        .iter()
        .map(|key| key.expose_secret().as_bytes().to_vec())
        .collect();
    Ok((signing_key(settings, store).await?, previous))
}

async fn signing_key(settings: &Settings, store: &Store) -> Result<Vec<u8>, StoreError> {
    if let Some(length) = settings.server.short_secret_key() {
        tracing::warn!(
            "server.secret_key is {length} bytes long; use at least {} random bytes \
             (for example `openssl rand -hex 32`), listing the old key in \
             server.previous_secret_keys so mailed links keep working",
            crate::config::MIN_SECRET_KEY_BYTES
        );
    }
    match &settings.server.secret_key {
        Some(key) if !key.expose_secret().is_empty() => Ok(key.expose_secret().as_bytes().to_vec()),
        _ => store.secret("link_signing_key").await,
    }
}
