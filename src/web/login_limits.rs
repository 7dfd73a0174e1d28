//! Login attempt limits, in memory per instance, checked before any
//! password is hashed:
//!
//! - per client network (an IPv6 /64 counts as one client), whatever the
//!   addresses it tries, so one client cannot try many accounts;
//! - per account, whatever the client: the first attempts are free, then
//!   each next one must wait longer (1 s, 2 s, 4 s … at most
//!   [`MAX_ACCOUNT_DELAY`]), so guessing one editor's password from many
//!   addresses is slowed to a crawl. It only ever slows down: a lock-out
//!   would let anyone lock an editor out by failing on purpose.
//!
//! A success forgets the account's attempts. Keys are keyed hashes, so the
//! maps hold no addresses; [`LoginLimits::prune`] runs on a timer and drops
//! what has gone quiet.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::rate_limit::{ClientLimit, RateLimited};

/// Attempts on one account before any waiting: enough for a person who
/// mistypes a few times.
pub const FREE_ATTEMPTS: u32 = 5;
/// The longest wait between two attempts on one account: an editor under
/// attack can still try twice a minute.
pub const MAX_ACCOUNT_DELAY: Duration = Duration::from_secs(30);
/// An account's attempts are forgotten after this long without one.
const ACCOUNT_MEMORY: Duration = Duration::from_secs(15 * 60);
/// The most accounts tracked at once (about 40 bytes each). Beyond it a
/// new account's attempts go untracked until pruning makes room; the
/// per-client limit and the bound on password checks still hold.
const MAX_TRACKED_ACCOUNTS: usize = 200_000;

#[derive(Debug, Clone, Copy)]
struct AccountAttempts {
    attempts: u32,
    next_allowed: Instant,
    last_attempt: Instant,
}

/// Which limit refused an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginRefusal {
    /// This client tried too many times.
    Client(RateLimited),
    /// This account was tried too often lately.
    Account(RateLimited),
}

impl LoginRefusal {
    pub fn limited(self) -> RateLimited {
        match self {
            LoginRefusal::Client(limited) | LoginRefusal::Account(limited) => limited,
        }
    }
}

pub struct LoginLimits {
    per_client: ClientLimit,
    accounts: Mutex<HashMap<u64, AccountAttempts>>,
    hasher: RandomState,
}

impl LoginLimits {
    pub fn new(per_client_per_minute: u32) -> LoginLimits {
        LoginLimits {
            per_client: ClientLimit::new(per_client_per_minute, per_client_per_minute),
            accounts: Mutex::new(HashMap::new()),
            hasher: RandomState::new(),
        }
    }

    /// Counts one attempt of `ip` on the account `email`, or says which
    /// limit refuses it. An allowed attempt books the account's next slot
    /// at once, so attempts sent together cannot all pass.
    pub fn begin(&self, ip: Option<IpAddr>, email: &str) -> Result<(), LoginRefusal> {
        self.per_client.check(ip).map_err(LoginRefusal::Client)?;
        self.begin_on_account(self.account_key(email), Instant::now())
            .map_err(LoginRefusal::Account)
    }

    /// The account logged in: its failed attempts no longer count.
    pub fn succeeded(&self, email: &str) {
        let key = self.account_key(email);
        self.lock().remove(&key);
    }

    /// Drops the clients and accounts that have gone quiet.
    pub fn prune(&self) {
        self.per_client.prune();
        let now = Instant::now();
        self.lock()
            .retain(|_, account| now.duration_since(account.last_attempt) < ACCOUNT_MEMORY);
    }

    fn account_key(&self, email: &str) -> u64 {
        self.hasher.hash_one(email.trim().to_lowercase())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, AccountAttempts>> {
        // the map holds plain counters: one left by a panicking holder is
        // still usable
        self.accounts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn begin_on_account(&self, key: u64, now: Instant) -> Result<(), RateLimited> {
        let mut accounts = self.lock();
        if let Some(account) = accounts.get_mut(&key) {
            if now.duration_since(account.last_attempt) >= ACCOUNT_MEMORY {
                account.attempts = 0;
            } else if account.next_allowed > now {
                return Err(RateLimited {
                    retry_after: account.next_allowed - now,
                });
            }
            account.attempts = account.attempts.saturating_add(1);
            account.last_attempt = now;
            account.next_allowed = now + delay_after(account.attempts);
            return Ok(());
        }
        if accounts.len() >= MAX_TRACKED_ACCOUNTS {
            accounts.retain(|_, account| now.duration_since(account.last_attempt) < ACCOUNT_MEMORY);
            if accounts.len() >= MAX_TRACKED_ACCOUNTS {
                return Ok(());
            }
        }
        accounts.insert(
            key,
            AccountAttempts {
                attempts: 1,
                next_allowed: now + delay_after(1),
                last_attempt: now,
            },
        );
        Ok(())
    }
}

/// How long an account waits after its `attempts`-th attempt: nothing for
/// the free ones, then 1 s doubling up to [`MAX_ACCOUNT_DELAY`].
fn delay_after(attempts: u32) -> Duration {
    if attempts < FREE_ATTEMPTS {
        return Duration::ZERO;
    }
    let doublings = (attempts - FREE_ATTEMPTS).min(16);
    Duration::from_secs(1u64 << doublings).min(MAX_ACCOUNT_DELAY)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_limited_whatever_the_addresses() {
        let limits = LoginLimits::new(3);
        let ip = Some("203.0.113.9".parse().unwrap());
        for n in 0..3 {
            assert!(limits.begin(ip, &format!("user{n}@example.org")).is_ok());
        }
        assert!(matches!(
            limits.begin(ip, "another@example.org"),
            Err(LoginRefusal::Client(_))
        ));
        // the same /64 is the same client; another network is not
        let v6 = |s: &str| Some(s.parse().unwrap());
        let limits = LoginLimits::new(1);
        assert!(limits.begin(v6("2001:db8::1"), "a@example.org").is_ok());
        assert!(
            limits
                .begin(v6("2001:db8::ffff:2"), "b@example.org")
                .is_err()
        );
        assert!(limits.begin(v6("2001:db8:0:1::1"), "c@example.org").is_ok());
    }

    #[test]
    fn an_account_slows_down_whatever_the_client_and_never_locks() {
        let limits = LoginLimits::new(1000);
        let key = limits.account_key("ed@example.org");
        let start = Instant::now();
        for _ in 0..FREE_ATTEMPTS {
            assert!(limits.begin_on_account(key, start).is_ok());
        }
        // the sixth at once waits a second
        let refused = limits.begin_on_account(key, start).unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        // and is allowed once the wait is over, each wait longer
        let mut now = start + Duration::from_secs(1);
        let mut waits = Vec::new();
        for _ in 0..8 {
            assert!(limits.begin_on_account(key, now).is_ok());
            let wait = limits.begin_on_account(key, now).unwrap_err().retry_after;
            waits.push(wait.as_secs());
            now += wait;
        }
        assert_eq!(waits, [2, 4, 8, 16, 30, 30, 30, 30]);
        // case and spaces do not make another account
        assert_eq!(limits.account_key(" ED@example.org"), key);
    }

    #[test]
    fn success_and_quiet_forget_the_attempts() {
        let limits = LoginLimits::new(1000);
        let now = Instant::now();
        let key = limits.account_key("ed@example.org");
        for _ in 0..FREE_ATTEMPTS {
            limits.begin_on_account(key, now).unwrap();
        }
        assert!(limits.begin_on_account(key, now).is_err());
        limits.succeeded("ed@example.org");
        assert!(limits.begin_on_account(key, now).is_ok());
        for _ in 0..FREE_ATTEMPTS {
            let _ = limits.begin_on_account(key, now);
        }
        assert!(limits.begin_on_account(key, now).is_err());
        assert!(limits.begin_on_account(key, now + ACCOUNT_MEMORY).is_ok());
    }
}
