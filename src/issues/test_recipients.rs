//! Who may receive test copies. Editors test-send to themselves, and the
//! addresses of Gazette's users are always allowed; any other address
//! counts, and at most [`OTHER_ADDRESSES_PER_HOUR`] of them an hour per
//! instance may get a copy, so a leaked API token cannot turn the test
//! send into a relay that mails anyone from the site's own domain. An
//! address already counted in the hour may get more copies.

use std::collections::VecDeque;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Enough for a colleague's inbox, a Gmail, an Outlook and a few more.
pub const OTHER_ADDRESSES_PER_HOUR: usize = 20;
const WINDOW: Duration = Duration::from_secs(3600);

/// The other addresses that got a test copy in the last hour, as keyed
/// hashes (no address is kept in memory).
#[derive(Debug, Default)]
pub struct TestRecipients {
    recent: Mutex<VecDeque<(Instant, u64)>>,
    hasher: RandomState,
}

/// Too many other addresses this hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "test copies went to {OTHER_ADDRESSES_PER_HOUR} addresses other than the editors' own in the \
     last hour; send this one to an editor's address, or try again later"
)]
pub struct TooManyTestRecipients;

impl TestRecipients {
    /// Counts `address_key` (lower-cased), unless it was counted within the
    /// hour; refuses a new one beyond the limit.
    pub fn admit_other(&self, address_key: &str) -> Result<(), TooManyTestRecipients> {
        self.admit_at(self.hasher.hash_one(address_key), Instant::now())
    }

    fn admit_at(&self, key: u64, now: Instant) -> Result<(), TooManyTestRecipients> {
        let mut recent = self
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while recent
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) >= WINDOW)
        {
            recent.pop_front();
        }
        if recent.iter().any(|(_, seen)| *seen == key) {
            return Ok(());
        }
        if recent.len() >= OTHER_ADDRESSES_PER_HOUR {
            return Err(TooManyTestRecipients);
        }
        recent.push_back((now, key));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_other_addresses_an_hour_repeats_free() {
        let recipients = TestRecipients::default();
        let start = Instant::now();
        for key in 0..OTHER_ADDRESSES_PER_HOUR as u64 {
            assert!(recipients.admit_at(key, start).is_ok());
        }
        assert!(recipients.admit_at(99, start).is_err());
        assert!(recipients.admit_at(3, start).is_ok(), "already counted");
        assert!(
            recipients.admit_at(99, start + WINDOW).is_ok(),
            "an hour on"
        );
    }
}
