//! Rate limits on `governor` (actix-governor is GPL), kept in memory by
//! each instance: [`ClientLimit`] counts requests per client network, and
//! [`SignupLimits`] adds a limit per address. Signup handlers call
//! [`SignupLimits::check_ip`] before reading the input and
//! [`SignupLimits::check_address`] once the address is parsed; a refusal
//! carries the wait for `Retry-After`. The maps are pruned on a timer
//! (`prune`), not on the request path.

use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::config::ServerSettings;

/// A refusal: try again after `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    pub retry_after: Duration,
}

impl RateLimited {
    /// Whole seconds for `Retry-After`, at least one.
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_secs_f64().ceil().max(1.0) as u64
    }
}

/// Requests per client network: an IPv4 address, or an IPv6 /64; all
/// clients without a known address share one bucket.
pub struct ClientLimit {
    per_client: DefaultKeyedRateLimiter<IpAddr>,
}

impl ClientLimit {
    pub fn new(per_minute: u32, burst: u32) -> ClientLimit {
        ClientLimit {
            per_client: DefaultKeyedRateLimiter::keyed(
                Quota::per_minute(at_least_one(per_minute)).allow_burst(at_least_one(burst)),
            ),
        }
    }

    /// Counts one request from `ip`.
    pub fn check(&self, ip: Option<IpAddr>) -> Result<(), RateLimited> {
        let key = ip.map_or(IpAddr::from([0, 0, 0, 0]), network_of);
        self.per_client.check_key(&key).map_err(refusal)
    }

    pub fn prune(&self) {
        self.per_client.retain_recent();
    }
}

pub struct SignupLimits {
    per_ip: ClientLimit,
    /// Keyed by a keyed hash of the address: the map holds no addresses,
    /// and eight bytes a key whatever the address's length.
    per_address: DefaultKeyedRateLimiter<u64>,
    hasher: RandomState,
}

impl SignupLimits {
    pub fn new(per_ip_per_minute: u32, ip_burst: u32, per_address_per_hour: u32) -> SignupLimits {
        SignupLimits {
            per_ip: ClientLimit::new(per_ip_per_minute, ip_burst),
            per_address: DefaultKeyedRateLimiter::keyed(Quota::per_hour(at_least_one(
                per_address_per_hour,
            ))),
            hasher: RandomState::new(),
        }
    }

    pub fn from_settings(server: &ServerSettings) -> SignupLimits {
        SignupLimits::new(
            server.signup_per_ip_per_minute,
            server.signup_ip_burst,
            server.signup_per_address_per_hour,
        )
    }

    /// Counts one signup attempt from `ip`.
    pub fn check_ip(&self, ip: Option<IpAddr>) -> Result<(), RateLimited> {
        self.per_ip.check(ip)
    }

    /// Counts one signup for an address (pass the lower-cased key).
    pub fn check_address(&self, email_key: &str) -> Result<(), RateLimited> {
        let key = self.hasher.hash_one(email_key);
        self.per_address.check_key(&key).map_err(refusal)
    }

    pub fn prune(&self) {
        self.per_ip.prune();
        self.per_address.retain_recent();
    }
}

fn at_least_one(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

fn refusal(not_until: governor::NotUntil<<DefaultClock as Clock>::Instant>) -> RateLimited {
    RateLimited {
        retry_after: not_until.wait_time_from(DefaultClock::default().now()),
    }
}

/// An IPv6 client usually holds a whole /64: limit the network, or one
/// machine could take a new address for every request. An IPv4 address
/// written in IPv6 (`::ffff:a.b.c.d`) is that IPv4 client.
pub fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::from(segments)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ip_quota_allows_the_burst_then_refuses_with_a_wait() {
        let limits = SignupLimits::new(1, 2, 100);
        let ip = Some("203.0.113.9".parse().unwrap());
        assert!(limits.check_ip(ip).is_ok());
        assert!(limits.check_ip(ip).is_ok());
        let refused = limits.check_ip(ip).unwrap_err();
        assert!(refused.retry_after_secs() >= 1 && refused.retry_after_secs() <= 60);
        // another client is not affected
        assert!(
            limits
                .check_ip(Some("203.0.113.10".parse().unwrap()))
                .is_ok()
        );
    }

    #[test]
    fn address_quota_is_per_address() {
        let limits = SignupLimits::new(100, 100, 1);
        assert!(limits.check_address("a@example.org").is_ok());
        assert!(limits.check_address("a@example.org").is_err());
        assert!(limits.check_address("b@example.org").is_ok());
    }

    #[test]
    fn ipv6_clients_are_limited_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        assert_eq!(network_of(a), network_of(b));
    }
}
