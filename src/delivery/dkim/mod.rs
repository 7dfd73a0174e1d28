//! DKIM signing (RFC 6376, relaxed/relaxed, SHA-256) with RSA or Ed25519
//! (RFC 8463) keys read from a PEM file at start.
//!
//! Why not lettre's DKIM: it takes RSA keys only as PKCS#1, signs a fixed
//! header list that cannot follow what each message carries, and signs with
//! the pure-Rust `rsa` crate (about a quarter of OpenSSL's speed here, and
//! subject to RUSTSEC-2023-0071). Signing here uses AWS-LC (`aws-lc-rs`,
//! ring's API on BoringSSL's successor): its RSA uses the AVX-512 IFMA code
//! OpenSSL has, which signs about twice as fast as ring on the machines
//! that have it, and RSA is what limits a signed send. It signs the final
//! bytes that go on the wire and covers exactly the headers of
//! [`SIGNED_HEADERS`] that the message has (RFC 8058 requires
//! `List-Unsubscribe` and `List-Unsubscribe-Post` to be covered).
//!
//! Signing is CPU work: the workers call [`DkimSigner::sign`] off the async
//! threads.

use std::path::Path;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

use crate::config::DkimSettings;

mod canon;

use canon::{
    MAX_LINE, append_folded, parse_headers, relaxed_body_hash, relaxed_header, split_message,
};

/// The headers a signature covers when the message has them.
pub const SIGNED_HEADERS: [&str; 8] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

#[derive(Debug, thiserror::Error)]
pub enum DkimError {
    #[error("mail.dkim.private_key_path: cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error(
        "mail.dkim.private_key_path: {path} holds no usable private key ({reason}); expected an RSA key (BEGIN RSA PRIVATE KEY or BEGIN PRIVATE KEY) or an Ed25519 key (BEGIN PRIVATE KEY)"
    )]
    BadKey { path: String, reason: String },
    #[error("mail.dkim.{key}: {problem}")]
    BadSetting { key: &'static str, problem: String },
    #[error("DKIM signing failed")]
    Sign,
}

enum SigningKey {
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A loaded key with its domain and selector. Cheap to share behind an `Arc`.
pub struct DkimSigner {
    domain: String,
    selector: String,
    key: SigningKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for DkimSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimSigner")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

impl DkimSigner {
    /// Reads and checks the key named by the settings.
    pub fn load(settings: &DkimSettings) -> Result<DkimSigner, DkimError> {
        let path = &settings.private_key_path;
        let pem = std::fs::read(path).map_err(|e| DkimError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::from_pem(&settings.domain, &settings.selector, &pem, path)
    }

    /// Parses an RSA (PKCS#1 or PKCS#8) or Ed25519 (PKCS#8) PEM key.
    pub fn from_pem(
        domain: &str,
        selector: &str,
        pem: &[u8],
        path: &Path,
    ) -> Result<DkimSigner, DkimError> {
        for (key, value) in [("domain", domain), ("selector", selector)] {
            let valid = !value.is_empty()
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
            if !valid {
                return Err(DkimError::BadSetting {
                    key,
                    problem: format!("{value:?} is not a DNS name"),
                });
            }
        }
        let bad = |reason: String| DkimError::BadKey {
            path: path.display().to_string(),
            reason,
        };
        let der = PrivateKeyDer::from_pem_slice(pem).map_err(|e| bad(format!("{e:?}")))?;
        let key = match der {
            PrivateKeyDer::Pkcs1(der) => SigningKey::Rsa(
                RsaKeyPair::from_der(der.secret_pkcs1_der()).map_err(|e| bad(e.to_string()))?,
            ),
            PrivateKeyDer::Pkcs8(der) => {
                let bytes = der.secret_pkcs8_der();
                match RsaKeyPair::from_pkcs8(bytes) {
                    Ok(rsa) => SigningKey::Rsa(rsa),
                    Err(rsa_error) => match Ed25519KeyPair::from_pkcs8_maybe_unchecked(bytes) {
                        Ok(ed) => SigningKey::Ed25519(ed),
                        Err(ed_error) => {
                            return Err(bad(format!(
                                "neither RSA ({rsa_error}) nor Ed25519 ({ed_error})"
                            )));
                        }
                    },
                }
            }
            _ => return Err(bad("an EC (SEC1) key, which DKIM cannot use".into())),
        };
        Ok(DkimSigner {
            domain: domain.to_string(),
            selector: selector.to_string(),
            key,
            rng: SystemRandom::new(),
        })
    }

    /// `rsa-sha256` or `ed25519-sha256`.
    pub fn algorithm(&self) -> &'static str {
        match self.key {
            SigningKey::Rsa(_) => "rsa-sha256",
            SigningKey::Ed25519(_) => "ed25519-sha256",
        }
    }

    /// Where the record goes: `{selector}._domainkey.{domain}`.
    pub fn dns_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    /// The TXT record to publish at [`DkimSigner::dns_name`].
    pub fn dns_txt_record(&self) -> String {
        match &self.key {
            SigningKey::Rsa(rsa) => match rsa.public_key().as_der() {
                Ok(spki) => format!("v=DKIM1; k=rsa; p={}", STANDARD.encode(spki.as_ref())),
                // a key that parsed has a public half; say so rather than panic
                Err(_) => "cannot encode the public key".to_string(),
            },
            SigningKey::Ed25519(ed) => format!(
                "v=DKIM1; k=ed25519; p={}",
                STANDARD.encode(ed.public_key().as_ref())
            ),
        }
    }

    /// Returns `message` (CRLF line endings, as it goes on the wire) with a
    /// `DKIM-Signature` header in front. `timestamp` is Unix seconds.
    pub fn sign(&self, message: &[u8], timestamp: i64) -> Result<Vec<u8>, DkimError> {
        let (head, body) = split_message(message);
        let body_hash = STANDARD.encode(relaxed_body_hash(body));
        let headers = parse_headers(head);
        // The last occurrence of a header is the one a verifier takes first
        // (RFC 6376 5.4.2); Gazette writes each of these once.
        let mut names = Vec::new();
        let mut hashed = Vec::with_capacity(1024);
        for wanted in SIGNED_HEADERS {
            if let Some((name, value)) = headers
                .iter()
                .rev()
                .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
            {
                names.push(wanted.to_ascii_lowercase());
                relaxed_header(&mut hashed, name, value);
            }
        }
        let tags = [
            "v=1".to_string(),
            format!("a={}", self.algorithm()),
            "c=relaxed/relaxed".to_string(),
            format!("d={}", self.domain),
            format!("s={}", self.selector),
            format!("t={timestamp}"),
            format!("h={}", names.join(":")),
            format!("bh={body_hash}"),
        ];
        // Folded between tags only, and hashed as folded: relaxed
        // canonicalisation turns each fold into the single space a verifier
        // will see too.
        let mut header = String::from("DKIM-Signature:");
        let mut line_len = header.len();
        for tag in tags
            .iter()
            .map(|t| format!("{t};"))
            .chain(["b=".to_string()])
        {
            if line_len + tag.len() + 1 > MAX_LINE {
                header.push_str("\r\n\t");
                line_len = 1;
            } else {
                header.push(' ');
                line_len += 1;
            }
            header.push_str(&tag);
            line_len += tag.len();
        }
        let mut own = Vec::new();
        relaxed_header(&mut own, "DKIM-Signature", &header.as_bytes()[15..]);
        // the signature header itself is hashed without its trailing CRLF
        own.truncate(own.len().saturating_sub(2));
        hashed.extend_from_slice(&own);
        let signature = match &self.key {
            SigningKey::Rsa(rsa) => {
                let mut signature = vec![0; rsa.public_modulus_len()];
                rsa.sign(&RSA_PKCS1_SHA256, &self.rng, &hashed, &mut signature)
                    .map_err(|_| DkimError::Sign)?;
                signature
            }
            // RFC 8463: Ed25519 signs the SHA-256 of the canonical headers
            SigningKey::Ed25519(ed) => ed.sign(digest(&SHA256, &hashed).as_ref()).as_ref().to_vec(),
        };
        append_folded(&mut header, line_len, &STANDARD.encode(signature));
        header.push_str("\r\n");
        let mut signed = Vec::with_capacity(header.len() + message.len());
        signed.extend_from_slice(header.as_bytes());
        signed.extend_from_slice(message);
        Ok(signed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::canon::relaxed_body;
    use super::*;

    #[test]
    fn relaxed_body_drops_trailing_space_and_empty_lines() {
        let body = b"Hello  \t world \r\n\r\nnext\r\n\r\n\r\n";
        let canonical = |body: &[u8]| {
            let mut out = Vec::new();
            relaxed_body(body, |chunk| out.extend_from_slice(chunk));
            out
        };
        assert_eq!(canonical(body), b"Hello world\r\n\r\nnext\r\n".to_vec());
        // canonical lines pass through; the others around them are relaxed
        let mixed = b"  indented\r\nclean line\r\n \t \r\nx\ty \r\n one space\r\nbare\nlast";
        assert_eq!(
            canonical(mixed),
            b" indented\r\nclean line\r\n\r\nx y\r\n one space\r\nbare\r\nlast\r\n".to_vec()
        );
        assert_eq!(canonical(b""), Vec::<u8>::new());
        let long = "word  \r\n".repeat(5000);
        assert_eq!(
            canonical(long.as_bytes()),
            "word\r\n".repeat(5000).into_bytes()
        );
    }

    #[test]
    fn relaxed_header_unfolds_and_lowercases() {
        let mut out = Vec::new();
        relaxed_header(&mut out, "Subject", b"  A  long\r\n\tsubject  ");
        assert_eq!(out, b"subject:A long subject\r\n".to_vec());
    }

    #[test]
    fn headers_are_split_with_their_folds() {
        let head = b"From: a@x.org\r\nSubject: one\r\n two\r\nTo: b@y.org\r\n";
        let fields = parse_headers(head);
        assert_eq!(fields.len(), 3);
        assert_eq!(fields[1].0, "Subject");
        assert_eq!(fields[1].1, b" one\r\n two");
    }

    #[test]
    fn folded_lines_stay_short() {
        let mut header = String::from("DKIM-Signature: v=1; b=");
        let len = header.len();
        append_folded(&mut header, len, &"A".repeat(400));
        assert!(
            header.split("\r\n").all(|line| line.len() <= 78),
            "{header}"
        );
        assert_eq!(header.replace("\r\n\t", "").matches('A').count(), 400);
    }

    #[test]
    fn a_garbage_key_is_refused_with_the_path() {
        let err = DkimSigner::from_pem("x.org", "s", b"nonsense", Path::new("/k.pem"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/k.pem"), "{err}");
        assert!(!err.contains('\n'));
    }
}
