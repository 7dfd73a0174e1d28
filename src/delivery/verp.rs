//! VERP: each message's envelope sender names its delivery,
//! `bounces+<delivery id>.<MAC>@<mail.bounce.domain>`, so a bounce sent
//! back to it says which message failed without anyone parsing its body.
//! The MAC is the server's signed-link MAC ([`LinkSigner`], purpose
//! `Delivery`) cut to 12 hex digits: a forged or guessed address is
//! worthless, and keys from before a secret change still verify, as signed
//! links do. Lower-case hex because some relays lower-case local parts.
//! The same `gazette.<id>.<MAC>` begins each Message-ID, for providers
//! that keep the Return-Path to themselves.

use crate::links::{LinkPurpose, LinkSigner};

const PREFIX: &str = "bounces+";
/// Begins a Message-ID's local part: `gazette.<id>.<MAC>.<random>`.
const TAG_PREFIX: &str = "gazette.";
const MAC_BYTES: usize = 6;
const MAC_HEX: usize = MAC_BYTES * 2;

#[derive(Clone, Debug)]
pub struct Verp {
    domain: String,
    signer: LinkSigner,
}

/// What names one delivery on its way out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryStamp {
    /// Begins the Message-ID.
    pub message_tag: String,
    /// The envelope sender, when a bounce domain is set.
    pub return_path: Option<String>,
}

impl Verp {
    /// `signer` is the server's link signer; an empty `domain` writes no
    /// Return-Path, only Message-ID tags.
    pub fn new(domain: &str, signer: LinkSigner) -> Verp {
        Verp {
            domain: domain.trim().trim_end_matches('.').to_ascii_lowercase(),
            signer,
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

    /// The Message-ID tag and Return-Path of delivery `id`, one MAC for both.
    pub fn stamp(&self, id: i64) -> DeliveryStamp {
        let signed = format!("{id}.{}", self.mac(id));
        DeliveryStamp {
            return_path: self
                .has_domain()
                .then(|| format!("{PREFIX}{signed}@{}", self.domain)),
            message_tag: format!("{TAG_PREFIX}{signed}"),
        }
    }

    /// The Return-Path of delivery `id`.
    pub fn address(&self, id: i64) -> String {
        format!("{PREFIX}{id}.{}@{}", self.mac(id), self.domain)
    }

    /// What begins the Message-ID of delivery `id`: providers' webhooks
    /// quote the Message-ID where they drop the Return-Path.
    pub fn message_tag(&self, id: i64) -> String {
        format!("{TAG_PREFIX}{id}.{}", self.mac(id))
    }

    fn mac(&self, id: i64) -> String {
        self.signer
            .short_mac_hex(LinkPurpose::Delivery, id, MAC_BYTES)
    }

    /// The delivery `id.mac` names, if the MAC is genuine.
    fn verified(&self, tag: &str) -> Option<i64> {
        let (id, rest) = tag.split_once('.')?;
        let mac = rest.get(..MAC_HEX)?;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let id: i64 = id.parse().ok()?;
        self.signer
            .verifies_short(LinkPurpose::Delivery, id, mac)
            .then_some(id)
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn signed_by(domain: &str, secret: &[u8], previous: &[Vec<u8>]) -> Verp {
        Verp::new(
            domain,
            LinkSigner::new(secret, "https://x.org").with_previous_keys(previous.to_vec()),
        )
    }

    #[test]
    fn an_address_names_its_delivery_and_a_forged_one_nothing() {
        let verp = signed_by("Bounces.Example.org", b"secret", &[]);
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
        let other_key = signed_by("bounces.example.org", b"other", &[]);
        assert_eq!(other_key.delivery_of(&address), None);
    }

    #[test]
    fn a_stamp_is_the_tag_and_the_address_of_one_mac() {
        let verp = signed_by("b.example.org", b"k", &[]);
        let stamp = verp.stamp(7);
        assert_eq!(stamp.message_tag, verp.message_tag(7));
        assert_eq!(stamp.return_path, Some(verp.address(7)));
        assert_eq!(signed_by("", b"k", &[]).stamp(7).return_path, None);
    }

    #[test]
    fn a_previous_secret_still_verifies() {
        let old = signed_by("b.example.org", b"old", &[]);
        let rotated = signed_by("b.example.org", b"new", &[b"old".to_vec()]);
        assert_eq!(rotated.delivery_of(&old.address(7)), Some(7));
        assert_ne!(rotated.address(7), old.address(7));
    }

    #[test]
    fn addresses_are_found_in_a_report() {
        let verp = signed_by("b.example.org", b"k", &[]);
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
