//! The list's health as mailbox providers judge it: the share of digests
//! that bounced for good and the share reported as spam over the last 30
//! days. Gmail's and Yahoo's rules for bulk senders draw the line for spam
//! reports at 0.3 %; for bounces, 2 % is the usual line of providers and
//! relays before they slow or stop a sender.

use crate::store::{Store, StoreError};

pub const WINDOW_DAYS: i64 = 30;
/// Gmail's line for spam complaints.
pub const COMPLAINT_RATE_LINE: f64 = 0.003;
pub const BOUNCE_RATE_LINE: f64 = 0.02;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    /// Digests sent by the issues of the window.
    pub sent: i64,
    pub hard_bounces: i64,
    pub complaints: i64,
}

impl Rates {
    pub fn bounce_rate(&self) -> f64 {
        share(self.hard_bounces, self.sent)
    }

    pub fn complaint_rate(&self) -> f64 {
        share(self.complaints, self.sent)
    }

    pub fn bounces_too_high(&self) -> bool {
        self.bounce_rate() > BOUNCE_RATE_LINE
    }

    pub fn complaints_too_high(&self) -> bool {
        self.complaint_rate() > COMPLAINT_RATE_LINE
    }
}

fn share(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        return 0.0;
    }
    part as f64 / whole as f64
}

/// The rates of the `WINDOW_DAYS` before `now_ms`.
pub async fn last_30_days(store: &Store, now_ms: i64) -> Result<Rates, StoreError> {
    let since = now_ms - WINDOW_DAYS * 86_400_000;
    let mut events = store.mail_events();
    let counts = events.digest_counts_since(since).await?;
    let sent = events.digests_sent_since(since).await?;
    Ok(Rates {
        sent,
        hard_bounces: counts.hard_bounces,
        complaints: counts.complaints,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_shares_of_what_was_sent() {
        let rates = Rates {
            sent: 1000,
            hard_bounces: 25,
            complaints: 3,
        };
        assert!((rates.bounce_rate() - 0.025).abs() < 1e-9);
        assert!(rates.bounces_too_high());
        assert!(
            !rates.complaints_too_high(),
            "0.3 % is on the line, not above"
        );
        let none = Rates {
            sent: 0,
            hard_bounces: 0,
            complaints: 0,
        };
        assert_eq!(none.complaint_rate(), 0.0);
    }
}
