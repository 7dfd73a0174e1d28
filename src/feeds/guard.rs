//! Where a feed may be fetched from. Anyone who may add a feed could
//! otherwise make Gazette fetch `http://169.254.169.254/` (the cloud's
//! metadata service, with its credentials), a database port on loopback or
//! a server inside the network, and read the answer or the error back.
//!
//! Only public addresses are allowed, checked where it cannot be dodged:
//! a host name is resolved by [`PublicOnly`], the resolver the HTTP client
//! connects with, which drops every address that is not public (so a DNS
//! answer that changes between a check and the connection changes nothing);
//! a URL that names an address itself is checked before the request and on
//! every redirect ([`check_url`]). `feeds.allow_private_addresses` turns it
//! all off, for an intranet CMS.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::{Ipv4Net, Ipv6Net};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// A feed's URL points at an address that is not public.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the feed's address {0} is not public (loopback, private and link-local addresses \
     are refused; set feeds.allow_private_addresses = true for an intranet feed)"
)]
pub struct NotPublic(pub String);

/// The networks no feed may be fetched from, beside what `std` names.
const BLOCKED_V4: &[(Ipv4Addr, u8)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8),       // "this network"
    (Ipv4Addr::new(100, 64, 0, 0), 10),   // carrier-grade NAT
    (Ipv4Addr::new(192, 0, 0, 0), 24),    // IETF protocol assignments
    (Ipv4Addr::new(192, 0, 2, 0), 24),    // documentation
    (Ipv4Addr::new(192, 88, 99, 0), 24),  // 6to4 relays
    (Ipv4Addr::new(198, 18, 0, 0), 15),   // benchmarking
    (Ipv4Addr::new(198, 51, 100, 0), 24), // documentation
    (Ipv4Addr::new(203, 0, 113, 0), 24),  // documentation
    (Ipv4Addr::new(240, 0, 0, 0), 4),     // reserved, broadcast
];

const BLOCKED_V6: &[(Ipv6Addr, u8)] = &[
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 96), // IPv4-compatible, ::, ::1
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96), // IPv4-mapped
    (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48), // local NAT64
    (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64), // discard
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 32), // Teredo
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7), // unique local
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10), // link-local
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10), // site-local
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8), // multicast
];

/// True for an address on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || BLOCKED_V4
            .iter()
            .any(|&(net, len)| Ipv4Net::new_assert(net, len).contains(&ip)))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if BLOCKED_V6
        .iter()
        .any(|&(net, len)| Ipv6Net::new_assert(net, len).contains(&ip))
    {
        return false;
    }
    // Prefixes that carry an IPv4 address reach that address: NAT64's
    // well-known prefix in the last 32 bits, 6to4 in bits 16 to 48.
    let segments = ip.segments();
    if Ipv6Net::new_assert(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96).contains(&ip) {
        let embedded = Ipv4Addr::from(u32::from(segments[6]) << 16 | u32::from(segments[7]));
        return is_public_v4(embedded);
    }
    if segments[0] == 0x2002 {
        let embedded = Ipv4Addr::from(u32::from(segments[1]) << 16 | u32::from(segments[2]));
        return is_public_v4(embedded);
    }
    true
}

/// Refuses a URL that names a non-public address itself (a host name is
/// left to the resolver).
pub fn check_url(url: &url::Url) -> Result<(), NotPublic> {
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        _ => return Ok(()),
    };
    if is_public(ip) {
        Ok(())
    } else {
        Err(NotPublic(ip.to_string()))
    }
}

/// The system resolver with every non-public address dropped; a name with
/// nothing left is an error.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|address| is_public(address.ip()))
                .collect();
            if public.is_empty() {
                let shown = resolved
                    .first()
                    .map_or_else(|| host.clone(), |a| format!("{host} ({})", a.ip()));
                return Err(Box::new(NotPublic(shown)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }

    #[test]
    fn inside_addresses_are_not_public() {
        for inside in [
            "127.0.0.1",
            "127.8.9.10",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "64:ff9b::a00:1",
            "2002:a00:1::1",
        ] {
            assert!(!public(inside), "{inside} passed as public");
        }
        for outside in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700::1111",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(public(outside), "{outside} refused");
        }
    }

    #[test]
    fn urls_naming_an_inside_address_are_refused() {
        let url = |s: &str| url::Url::parse(s).unwrap();
        assert!(check_url(&url("http://127.0.0.1:9/feed")).is_err());
        assert!(check_url(&url("http://[::1]:6379/")).is_err());
        assert!(check_url(&url("http://169.254.169.254/latest/meta-data/")).is_err());
        assert!(check_url(&url("http://[::ffff:10.0.0.1]/")).is_err());
        assert!(check_url(&url("https://8.8.8.8/feed")).is_ok());
        // names are the resolver's to check
        assert!(check_url(&url("https://example.org/feed")).is_ok());
    }

    #[tokio::test]
    async fn the_resolver_drops_inside_addresses() {
        let name: Name = "localhost".parse().unwrap();
        let error = PublicOnly.resolve(name).await.err().unwrap();
        assert!(error.to_string().contains("not public"), "{error}");
    }
}
