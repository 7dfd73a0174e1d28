//! What is kept of an address erased at its owner's request: a keyed hash,
//! so that an import cannot add it back, and nothing that tells the address
//! to whoever reads the database. A plain SHA-256 of an address can be
//! checked against a list of addresses by anyone with the table; an HMAC
//! keyed from the server secret cannot without the secret.
//!
//! Rows from before the HMAC hold the plain hash and still match, and rows
//! made under a previous secret (`server.previous_secret_keys`) match while
//! that key is listed.

use std::collections::{HashMap, HashSet};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::token::{hex, sha256_hex};
use crate::store::{Store, StoreError};

/// Hashes erased addresses with the server's secrets.
#[derive(Clone)]
pub struct ErasedAddresses {
    /// The current key first, then the previous ones; each derived from a
    /// server secret, so it differs from the link-signing key.
    keys: Vec<Vec<u8>>,
}

impl std::fmt::Debug for ErasedAddresses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ErasedAddresses(***)")
    }
}

impl ErasedAddresses {
    pub fn new(secret: &[u8], previous_secrets: &[Vec<u8>]) -> ErasedAddresses {
        ErasedAddresses {
            keys: std::iter::once(secret)
                .chain(previous_secrets.iter().map(Vec::as_slice))
                .map(|secret| hmac_sha256(secret, b"gazette erased address v1").to_vec())
                .collect(),
        }
    }

    /// The stored form of a newly erased address (its lower-cased key).
    pub fn hash(&self, email_key: &str) -> String {
        let key = self.keys.first().map(Vec::as_slice).unwrap_or_default();
        hex(&hmac_sha256(key, email_key.as_bytes()))
    }

    /// Every stored form the address may have: under each key, and the
    /// plain hash of older rows.
    pub fn candidates(&self, email_key: &str) -> Vec<String> {
        self.keys
            .iter()
            .map(|key| hex(&hmac_sha256(key, email_key.as_bytes())))
            .chain(std::iter::once(sha256_hex(email_key.as_bytes())))
            .collect()
    }
}

impl ErasedAddresses {
    /// Whether this address (its key) was erased at its owner's request:
    /// an import must not add it back (a new opt-in through the form may).
    pub async fn is_erased(&self, store: &Store, email_key: &str) -> Result<bool, StoreError> {
        Ok(!self
            .among(store, &[email_key.to_string()])
            .await?
            .is_empty())
    }

    /// The keys among `email_keys` whose address was erased, looked up by
    /// every stored form each may have.
    pub async fn among(
        &self,
        store: &Store,
        email_keys: &[String],
    ) -> Result<HashSet<String>, StoreError> {
        let by_hash: HashMap<String, &String> = email_keys
            .iter()
            .flat_map(|key| {
                self.candidates(key)
                    .into_iter()
                    .map(move |hash| (hash, key))
            })
            .collect();
        let hashes: Vec<String> = by_hash.keys().cloned().collect();
        let found = store.subscribers().erased_hashes(&hashes).await?;
        Ok(found
            .iter()
            .filter_map(|hash| by_hash.get(hash).map(|key| (*key).clone()))
            .collect())
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length: new_from_slice cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_hash_needs_the_secret_and_old_forms_still_match() {
        let erased = ErasedAddresses::new(b"secret", &[b"old secret".to_vec()]);
        let stored = erased.hash("amina@example.org");
        assert_ne!(
            stored,
            sha256_hex(b"amina@example.org"),
            "not the plain hash"
        );
        assert_ne!(
            stored,
            ErasedAddresses::new(b"other", &[]).hash("amina@example.org"),
            "keyed by the secret"
        );
        let candidates = erased.candidates("amina@example.org");
        assert!(candidates.contains(&stored));
        assert!(candidates.contains(&sha256_hex(b"amina@example.org")));
        let before_rotation = ErasedAddresses::new(b"old secret", &[]).hash("amina@example.org");
        assert!(candidates.contains(&before_rotation));
    }
}
