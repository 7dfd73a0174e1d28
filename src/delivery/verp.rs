//! VERP: each message's envelope sender names its delivery,
//! `bounces+<delivery id>.<MAC>@<mail.bounce.domain>`, so a bounce sent
//! back to it says which message failed without anyone parsing its body.
//! The MAC (HMAC-SHA256 of the id under a key derived from the server's
//! secret, 12 hex digits) makes a forged or guessed address worthless;
//! keys from before a secret change still verify, as signed links do.
//! Lower-case hex because some relays lower-case local parts.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

const PREFIX: &str = "bounces+";
/// Begins a Message-ID's local part: `gazette.<id>.<MAC>.<random>`.
const TAG_PREFIX: &str = "gazette.";
const MAC_HEX: usize = 12;

#[derive(Clone)]
pub struct Verp {
    domain: String,
    keys: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Verp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verp")
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

impl Verp {
    /// `secret` signs; `previous` still verify. An empty `domain` writes
    /// no Return-Path, only Message-ID tags.
    pub fn new(domain: &str, secret: &[u8], previous: &[Vec<u8>]) -> Verp {
        let keys = std::iter::once(secret)
            .chain(previous.iter().map(Vec::as_slice))
            .map(derive_key)
            .collect();
        Verp {
            domain: domain.trim().trim_end_matches('.').to_ascii_lowercase(),
            keys,
        }
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Whether messages go out with a VERP Return-Path (a bounce domain is
    /// set); Message-ID tags are written either way.
    pub fn has_domain(&self) -> bool {
        !self.domain.is_empty()
    }

    /// The Return-Path of delivery `id`.
    pub fn address(&self, id: i64) -> String {
        format!(
            "{PREFIX}{id}.{}@{}",
            mac_hex(&self.keys[0], id),
            self.domain
        )
    }

    /// What begins the Message-ID of delivery `id`: providers' webhooks
    /// quote the Message-ID where they drop the Return-Path.
    pub fn message_tag(&self, id: i64) -> String {
        format!("{TAG_PREFIX}{id}.{}", mac_hex(&self.keys[0], id))
    }

    /// The delivery `id.mac` names, if the MAC is genuine.
    fn verified(&self, tag: &str) -> Option<i64> {
        let (id, rest) = tag.split_once('.')?;
        let mac = rest.get(..MAC_HEX)?;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let id: i64 = id.parse().ok()?;
        let genuine = self
            .keys
            .iter()
            .any(|key| bool::from(mac_hex(key, id).as_bytes().ct_eq(mac.as_bytes())));
        genuine.then_some(id)
    }

    /// The delivery an address names, if it is one of ours and genuine.
    /// Case and surrounding angle brackets do not matter.
    pub fn delivery_of(&self, address: &str) -> Option<i64> {
        let address = address.trim().trim_start_matches('<').trim_end_matches('>');
        let (local, domain) = address.rsplit_once('@')?;
        if !self.has_domain()
            || !domain
                .trim_end_matches('.')
                .eq_ignore_ascii_case(&self.domain)
        {
            return None;
        }
        let local = local.to_ascii_lowercase();
        let tag = local.strip_prefix(PREFIX)?;
        let (_, mac) = tag.split_once('.')?;
        if mac.len() != MAC_HEX {
            return None;
        }
        self.verified(tag)
    }

    /// Every delivery named by a genuine VERP address or Message-ID tag
    /// anywhere in `text` (a report's headers, fields and the original
    /// message it quotes; a webhook's payload), VERP addresses first.
    pub fn deliveries_in(&self, text: &str) -> Vec<i64> {
        let lower = text.to_ascii_lowercase();
        let mut found = Vec::new();
        for (start, _) in lower.match_indices(PREFIX) {
            let end = lower[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || "+.@-_".contains(c)))
                .map_or(lower.len(), |n| start + n);
            let candidate = lower[start..end].trim_end_matches('.');
            if let Some(id) = self.delivery_of(candidate)
                && !found.contains(&id)
            {
                found.push(id);
            }
        }
        for (start, _) in lower.match_indices(TAG_PREFIX) {
            let tag = &lower[start + TAG_PREFIX.len()..];
            if let Some(id) = self.verified(tag)
                && !found.contains(&id)
            {
                found.push(id);
            }
        }
        found
    }
}

fn derive_key(secret: &[u8]) -> Vec<u8> {
    let mut mac = hmac(secret);
    mac.update(b"gazette-verp-v1");
    mac.finalize().into_bytes().to_vec()
}

fn mac_hex(key: &[u8], id: i64) -> String {
    let mut mac = hmac(key);
    mac.update(&id.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    digest[..MAC_HEX / 2]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn hmac(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length: new_from_slice cannot fail for it.
    <HmacSha256 as hmac::digest::KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_address_names_its_delivery_and_a_forged_one_nothing() {
        let verp = Verp::new("Bounces.Example.org", b"secret", &[]);
        let address = verp.address(42);
        assert!(address.starts_with("bounces+42."), "{address}");
        assert!(address.ends_with("@bounces.example.org"), "{address}");
        assert_eq!(verp.delivery_of(&address), Some(42));
        assert_eq!(
            verp.delivery_of(&format!("<{}>", address.to_uppercase())),
            Some(42)
        );
        let forged = address.replace("bounces+42.", "bounces+43.");
        assert_eq!(verp.delivery_of(&forged), None);
        assert_eq!(
            verp.delivery_of(&address.replace("example.org", "example.net")),
            None
        );
        let other_key = Verp::new("bounces.example.org", b"other", &[]);
        assert_eq!(other_key.delivery_of(&address), None);
    }

    #[test]
    fn a_previous_secret_still_verifies() {
        let old = Verp::new("b.example.org", b"old", &[]);
        let rotated = Verp::new("b.example.org", b"new", &[b"old".to_vec()]);
        assert_eq!(rotated.delivery_of(&old.address(7)), Some(7));
        assert_ne!(rotated.address(7), old.address(7));
    }

    #[test]
    fn addresses_are_found_in_a_report() {
        let verp = Verp::new("b.example.org", b"k", &[]);
        let text = format!(
            "To: <{}>\r\nOriginal-Mail-From: {}\r\nReturn-Path: <{}>.\r\nbounces+9.000000000000@b.example.org",
            verp.address(5),
            verp.address(5).to_uppercase(),
            verp.address(6)
        );
        assert_eq!(verp.deliveries_in(&text), vec![5, 6]);
        let quoted = format!(
            "{{\"message-id\": \"<{}.x7k2@example.org>\", \"other\": \"gazette.8.000000000000\"}}",
            verp.message_tag(8)
        );
        assert_eq!(verp.deliveries_in(&quoted), vec![8]);
    }
}
