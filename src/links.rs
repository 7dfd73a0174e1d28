//! Signed links for unsubscribe and preferences. Every newsletter email
//! carries them, so they must work forever and cost nothing per message: the
//! token is the subscriber id with an HMAC-SHA256 over it, keyed by the
//! server's secret. Nothing per link is stored, so a database leak reveals no
//! usable token, and a link in a years-old email still works. (Confirmation
//! links are different: random, single-purpose, stored hashed, expiring.)
//! When the secret changes, the previous ones (`server.previous_secret_keys`)
//! still verify, so mailed links keep working; only the current one signs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What a signed link lets its holder do; part of the signed input, so a
/// token for one purpose is worthless for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Unsubscribe, preferences, export and erase: the "manage" links.
    Manage,
    /// The delivery a VERP Return-Path or a Message-ID names
    /// (`delivery::verp`).
    Delivery,
}

impl LinkPurpose {
    fn label(self) -> &'static [u8] {
        match self {
            LinkPurpose::Manage => b"gazette-manage-v1",
            LinkPurpose::Delivery => b"gazette-verp-v1",
        }
    }
}

#[derive(Clone)]
pub struct LinkSigner {
    key: Vec<u8>,
    previous_keys: Vec<Vec<u8>>,
    base_url: String,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkSigner")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl LinkSigner {
    pub fn new(key: &[u8], base_url: &str) -> LinkSigner {
        LinkSigner {
            key: key.to_vec(),
            previous_keys: Vec::new(),
            base_url: base_url.trim_end_matches('/').to_string(),
        }
    }

    /// The same, also accepting links signed with `previous` keys.
    pub fn with_previous_keys(mut self, previous: Vec<Vec<u8>>) -> LinkSigner {
        self.previous_keys = previous;
        self
    }

    /// A token of 54 URL-safe characters: 8 bytes of id, 32 of MAC.
    pub fn token(&self, purpose: LinkPurpose, subscriber_id: i64) -> String {
        let id = subscriber_id.to_be_bytes();
        let mut raw = Vec::with_capacity(40);
        raw.extend_from_slice(&id);
        raw.extend_from_slice(&self.mac(purpose, &id));
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// The subscriber id the token was made for, if it is genuine.
    pub fn verify(&self, purpose: LinkPurpose, token: &str) -> Option<i64> {
        let raw = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
        if raw.len() != 40 {
            return None;
        }
        let (id, tag) = raw.split_at(8);
        let genuine = std::iter::once(&self.key)
            .chain(&self.previous_keys)
            .any(|key| {
                let mut mac = keyed(key, purpose);
                mac.update(id);
                // verify_slice compares in constant time
                mac.verify_slice(tag).is_ok()
            });
        if !genuine {
            return None;
        }
        Some(i64::from_be_bytes(id.try_into().ok()?))
    }

    /// The first `bytes` bytes of the MAC of `id`, in lower-case hex: a
    /// short tag for where a whole token does not fit (an address's local
    /// part, which some relays lower-case).
    pub fn short_mac_hex(&self, purpose: LinkPurpose, id: i64, bytes: usize) -> String {
        self.mac(purpose, &id.to_be_bytes())[..bytes.min(32)]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether `mac_hex` is [`LinkSigner::short_mac_hex`] of `id` under the
    /// current key or a previous one, compared in constant time.
    pub fn verifies_short(&self, purpose: LinkPurpose, id: i64, mac_hex: &str) -> bool {
        let bytes = mac_hex.len() / 2;
        if bytes == 0 || bytes > 32 || !mac_hex.len().is_multiple_of(2) {
            return false;
        }
        let id = id.to_be_bytes();
        std::iter::once(&self.key)
            .chain(&self.previous_keys)
            .any(|key| {
                let mut mac = keyed(key, purpose);
                mac.update(&id);
                let full = mac.finalize().into_bytes();
                let expected: String = full[..bytes].iter().map(|b| format!("{b:02x}")).collect();
                bool::from(subtle::ConstantTimeEq::ct_eq(
                    expected.as_bytes(),
                    mac_hex.as_bytes(),
                ))
            })
    }

    pub fn unsubscribe_url(&self, subscriber_id: i64) -> String {
        format!(
            "{}/unsubscribe?token={}",
            self.base_url,
            self.token(LinkPurpose::Manage, subscriber_id)
        )
    }

    pub fn preferences_url(&self, subscriber_id: i64) -> String {
        format!(
            "{}/preferences?token={}",
            self.base_url,
            self.token(LinkPurpose::Manage, subscriber_id)
        )
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn mac(&self, purpose: LinkPurpose, id: &[u8]) -> [u8; 32] {
        let mut mac = keyed(&self.key, purpose);
        mac.update(id);
        mac.finalize().into_bytes().into()
    }
}

fn keyed(key: &[u8], purpose: LinkPurpose) -> HmacSha256 {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(purpose.label());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trips_and_rejects_tampering() {
        let signer = LinkSigner::new(b"secret", "https://x.org/");
        let token = signer.token(LinkPurpose::Manage, 42);
        assert!(token.len() >= 50);
        assert_eq!(signer.verify(LinkPurpose::Manage, &token), Some(42));
        let other = LinkSigner::new(b"other", "https://x.org");
        assert_eq!(other.verify(LinkPurpose::Manage, &token), None);
        let mut forged = token.into_bytes();
        forged[3] = if forged[3] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap_or_default();
        assert_eq!(signer.verify(LinkPurpose::Manage, &forged), None);
        assert_eq!(signer.verify(LinkPurpose::Manage, "garbage"), None);
        assert!(
            signer
                .unsubscribe_url(1)
                .starts_with("https://x.org/unsubscribe?token=")
        );
    }

    #[test]
    fn previous_keys_verify_but_never_sign() {
        let old = LinkSigner::new(b"old secret", "https://x.org");
        let old_token = old.token(LinkPurpose::Manage, 7);
        let rotated = LinkSigner::new(b"new secret", "https://x.org")
            .with_previous_keys(vec![b"old secret".to_vec()]);
        assert_eq!(rotated.verify(LinkPurpose::Manage, &old_token), Some(7));
        let new_token = rotated.token(LinkPurpose::Manage, 7);
        assert_ne!(new_token, old_token, "signed with the new key");
        assert_eq!(old.verify(LinkPurpose::Manage, &new_token), None);
        let dropped = LinkSigner::new(b"new secret", "https://x.org");
        assert_eq!(dropped.verify(LinkPurpose::Manage, &old_token), None);
    }
}
