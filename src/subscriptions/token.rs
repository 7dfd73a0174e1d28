//! Confirmation tokens: 256 random bits, sent in clear only inside the
//! confirmation email and stored as a SHA-256 hash, so a copy of the database
//! cannot confirm anybody.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// How long a confirmation link works.
pub const CONFIRMATION_TOKEN_LIFETIME_HOURS: u32 = 72;

/// A fresh token for a confirmation link.
pub struct ConfirmationToken(String);

impl ConfirmationToken {
    pub fn generate() -> ConfirmationToken {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        ConfirmationToken(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The value that goes into the link.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> String {
        hash_token(&self.0)
    }
}

/// The stored form of a token (also of one presented back by a visitor).
pub fn hash_token(token: &str) -> String {
    sha256_hex(token.trim().as_bytes())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_url_safe() {
        let a = ConfirmationToken::generate();
        let b = ConfirmationToken::generate();
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(a.as_str().len(), 43);
        assert!(
            a.as_str()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(a.hash().len(), 64);
        assert_eq!(a.hash(), hash_token(a.as_str()));
    }
}
