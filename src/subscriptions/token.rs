//! Confirmation tokens: 256 random bits, sent in clear only inside the
//! confirmation email and stored as a SHA-256 hash, so a copy of the database
//! cannot confirm anybody.
//!
//! A token starts with the time it was made (milliseconds, 12 hex digits,
//! then a dot), and its stored key keeps that start in front of the hash.
//! The keys of new tokens then sort after the older ones, so each insert
//! lands on the last pages of the key's index instead of a random page:
//! a random key dirtied one more index page per signup, which SQLite
//! writes to its journal on every commit and PostgreSQL copies whole into
//! its WAL after each checkpoint (13 to 25 % of SQLite's signup rate).
//! The time says nothing a recipient does not know from the email's date.
//! Tokens made before this (43 characters, no dot) keep their plain hash.

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
        let made_at = crate::store::now_ms().max(0);
        ConfirmationToken(format!(
            "{made_at:0width$x}.{}",
            URL_SAFE_NO_PAD.encode(bytes),
            width = TIME_DIGITS
        ))
    }

    /// The value that goes into the link.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> String {
        hash_token(&self.0)
    }
}

/// Newsletter ids as a token stores them: `3,5`.
pub fn id_list(ids: impl IntoIterator<Item = i64>) -> String {
    ids.into_iter()
        .map(|id| id.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Reads [`id_list`] back; `None` for a token from before the list was
/// kept, which confirms every pending newsletter.
pub fn parse_id_list(stored: Option<&str>) -> Option<Vec<i64>> {
    stored.map(|list| {
        list.split(',')
            .filter_map(|id| id.trim().parse().ok())
            .collect()
    })
}

/// Hex digits of a token's time: enough until the year 10889, and fixed so
/// the keys sort as the times do.
const TIME_DIGITS: usize = 12;

/// The stored form of a token (also of one presented back by a visitor):
/// its time, when it has one, then the hash of the whole token.
pub fn hash_token(token: &str) -> String {
    let token = token.trim();
    let hash = sha256_hex(token.as_bytes());
    match token.split_once('.') {
        Some((time, _))
            if time.len() == TIME_DIGITS && time.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            format!("{time}.{hash}")
        }
        _ => hash,
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Bytes as lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    // by hand: a `format!` a byte was 2 % of a signup load's CPU
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
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
        let Some((time, secret)) = a.as_str().split_once('.') else {
            panic!("not time.secret: {}", a.as_str());
        };
        assert_eq!(time.len(), TIME_DIGITS);
        assert_eq!(secret.len(), 43, "256 random bits");
        assert!(
            secret
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(a.hash(), hash_token(a.as_str()));
        assert_eq!(a.hash().len(), TIME_DIGITS + 1 + 64);
    }

    #[test]
    fn stored_keys_sort_by_time_and_still_hide_the_token() {
        let early = hash_token("00000000000a.secret");
        let late = hash_token("0000000000b0.secret");
        assert!(early < late);
        assert!(early.starts_with("00000000000a."));
        assert!(!early.contains("secret"));
        // the whole token is hashed: another secret at the same time is
        // another key
        assert_ne!(hash_token("00000000000a.other"), early);
    }

    #[test]
    fn the_hash_is_sha256_in_lowercase_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn tokens_from_before_the_time_prefix_keep_their_plain_hash() {
        let old = "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF";
        assert_eq!(hash_token(old), sha256_hex(old.as_bytes()));
        // a dot without a time in front is no time either
        assert_eq!(hash_token("abc.def"), sha256_hex(b"abc.def"));
        assert_eq!(hash_token(" abc.def\n"), sha256_hex(b"abc.def"));
    }
}
