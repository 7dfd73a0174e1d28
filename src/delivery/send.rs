//! One row sent: its letter from the prepared letterhead, composed into
//! MIME ([`super::message`]), signed ([`super::dkim`]) and handed to the
//! transport ([`super::transport`]), and what came of it as an [`Outcome`]:
//! a 2xx reply is `sent`; a 5xx reply fails the row and counts a hard
//! bounce; a 4xx reply or a connection failure puts it back to `pending`
//! with exponential backoff and jitter, until `mail.max_attempts`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use lettre::address::{Address, Envelope};
use rand::Rng;
use tokio::sync::OwnedSemaphorePermit;

use super::message;
use super::render::{Letterhead, RenderError};
use super::transport::SendFailure;
use super::worker::Engine;
use crate::store::now_ms;
use crate::store::outbox::{ClaimedDelivery, Outcome};
use crate::telemetry::mask_email;

const MAX_BACKOFF_MS: u64 = 3_600_000;

/// The envelope with the VERP address as its sender (the Return-Path the
/// receiving server writes, where bounces go).
fn with_return_path(envelope: &Envelope, return_path: &str) -> Result<Envelope, String> {
    let sender: Address = return_path
        .parse()
        .map_err(|e| format!("mail.bounce.domain gives no valid address: {e}"))?;
    Envelope::new(Some(sender), envelope.to().to_vec()).map_err(|e| e.to_string())
}

/// Sends one row, and hands the outcome to the recorder.
pub(super) async fn send_one(
    engine: Arc<Engine>,
    row: ClaimedDelivery,
    letterhead: Arc<dyn Letterhead>,
    (_session, room): (OwnedSemaphorePermit, OwnedSemaphorePermit),
) {
    let outcome = engine.deliver(&row, letterhead.as_ref()).await;
    engine.record_sent(outcome, room);
}

impl Engine {
    async fn deliver(&self, row: &ClaimedDelivery, letterhead: &dyn Letterhead) -> Outcome {
        let letter = match letterhead.letter(row) {
            Ok(letter) => letter,
            Err(error) => return self.not_rendered(row, error),
        };
        // one MAC names the message twice: Message-ID and Return-Path
        let stamp = self.verp.stamp(row.id);
        let composed = match message::compose(&self.sender, letter, Some(&stamp.message_tag)) {
            Ok(composed) => composed,
            Err(error) => {
                tracing::warn!(delivery = row.id, to = %mask_email(&row.recipient), %error, "message cannot be built");
                return Outcome::Failed {
                    id: row.id,
                    error: error.to_string(),
                };
            }
        };
        let bytes = match &self.dkim {
            // Signed where it is sent, on the delivery task's own thread: a
            // signature is about 0.2 ms of CPU, and handing each one to the
            // blocking pool and back costs more context switches than it
            // spares. The web server runs on its own threads (actix's
            // workers), so pages do not wait behind it.
            Some(signer) => match signer.sign(&composed.bytes, now_ms() / 1000) {
                Ok(signed) => signed,
                Err(error) => {
                    return Outcome::Failed {
                        id: row.id,
                        error: error.to_string(),
                    };
                }
            },
            None => composed.bytes,
        };
        let envelope = match &stamp.return_path {
            Some(return_path) => match with_return_path(&composed.envelope, return_path) {
                Ok(envelope) => envelope,
                Err(error) => {
                    return Outcome::Failed { id: row.id, error };
                }
            },
            None => composed.envelope,
        };
        match self.transport.send(&envelope, Arc::new(bytes)).await {
            Ok(()) => Outcome::Sent { id: row.id },
            Err(SendFailure::Permanent(reply)) => {
                tracing::warn!(delivery = row.id, to = %mask_email(&row.recipient), reply = %reply, "delivery failed permanently");
                Outcome::Bounced {
                    id: row.id,
                    subscriber_id: row.subscriber_id,
                    error: reply,
                }
            }
            Err(failure) => {
                tracing::warn!(delivery = row.id, to = %mask_email(&row.recipient), attempt = row.attempts + 1, reply = %failure.message(), "delivery failed, will retry");
                self.retry_or_fail(row, failure.message().to_string())
            }
        }
    }

    /// The outcome of a row its renderer refused.
    pub(super) fn not_rendered(&self, row: &ClaimedDelivery, error: RenderError) -> Outcome {
        match error {
            RenderError::Later(error) => self.retry_or_fail(row, error),
            RenderError::Never(error) => {
                tracing::warn!(delivery = row.id, error = %error, "mail cannot be rendered");
                Outcome::Failed { id: row.id, error }
            }
            RenderError::Cancelled(reason) => Outcome::Cancelled { id: row.id, reason },
        }
    }

    /// A temporary failure: retry later, or give up after `max_attempts`.
    fn retry_or_fail(&self, row: &ClaimedDelivery, error: String) -> Outcome {
        let attempts = row.attempts.saturating_add(1);
        if attempts >= i64::from(self.mail.max_attempts) {
            return Outcome::Failed { id: row.id, error };
        }
        let delay = backoff_ms(self.mail.retry_base_ms, attempts);
        let next_attempt_at = now_ms().saturating_add(delay);
        self.earliest_retry_ms
            .fetch_min(next_attempt_at, Ordering::Relaxed);
        Outcome::Retry {
            id: row.id,
            next_attempt_at,
            error,
        }
    }
}

/// `base · 2^(attempt-1)`, capped at an hour, then scaled by a random
/// factor in [0.5, 1] so failed rows do not come back in lockstep.
fn backoff_ms(base_ms: u64, attempt: i64) -> i64 {
    let exponent = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let full = base_ms.saturating_mul(1u64 << exponent).min(MAX_BACKOFF_MS);
    let jittered = full / 2 + rand::rng().random_range(0..=full / 2);
    i64::try_from(jittered).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_stays_capped() {
        for attempt in 1..6 {
            let full = 100 * (1 << (attempt - 1));
            let delay = backoff_ms(100, attempt);
            assert!(delay >= full / 2 && delay <= full, "{attempt}: {delay}");
        }
        assert!(backoff_ms(30_000, 40) <= MAX_BACKOFF_MS as i64);
        assert!(backoff_ms(30_000, 40) >= (MAX_BACKOFF_MS / 2) as i64);
    }
}
