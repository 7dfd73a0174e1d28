//! Who sent a request, for the consent record and the rate limits: the
//! client IP and the user agent. `X-Forwarded-For` is believed only when the
//! connection comes from a trusted proxy (`server.trusted_proxies`, loopback
//! by default); from anywhere else anybody could write it. An IPv4 address
//! written in IPv6 (`::ffff:127.0.0.1`, as a dual-stack socket reports it)
//! is that IPv4 address.

use std::future::{Ready, ready};
use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::http::header::USER_AGENT;
use actix_web::{FromRequest, HttpRequest};
use ipnet::IpNet;

use crate::subscriptions::ClientMeta;

/// The longest user agent kept in the consent record.
const MAX_USER_AGENT_CHARS: usize = 512;

#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl ClientInfo {
    pub fn of(req: &HttpRequest) -> ClientInfo {
        let trusted = req
            .app_data::<actix_web::web::Data<super::AppState>>()
            .map(|state| state.trusted_proxies.clone());
        let trusted = trusted.as_deref().map_or(&[][..], Vec::as_slice);
        let peer = req.peer_addr().map(|addr| addr.ip().to_canonical());
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        let ip = match peer {
            Some(peer) if is_trusted(trusted, peer) && !forwarded.is_empty() => {
                Some(client_behind_proxy(trusted, &forwarded).unwrap_or(peer))
            }
            other => other,
        };
        let user_agent = req
            .headers()
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| {
                ua.chars()
                    .filter(|c| !c.is_control())
                    .take(MAX_USER_AGENT_CHARS)
                    .collect::<String>()
            })
            .filter(|ua| !ua.trim().is_empty());
        ClientInfo { ip, user_agent }
    }

    /// The same, for the consent record.
    pub fn meta(&self) -> ClientMeta {
        ClientMeta {
            ip: self.ip.map(|ip| ip.to_string()),
            user_agent: self.user_agent.clone(),
        }
    }
}

/// The proxies believed when no list is at hand: loopback.
fn is_trusted(trusted: &[IpNet], ip: IpAddr) -> bool {
    if trusted.is_empty() {
        ip.is_loopback()
    } else {
        trusted.iter().any(|net| net.contains(&ip))
    }
}

/// The right-most address that is not another trusted proxy: each proxy
/// appends the address it got the request from, so entries further left
/// were written by the client and prove nothing.
fn client_behind_proxy(trusted: &[IpNet], forwarded: &str) -> Option<IpAddr> {
    for entry in forwarded.rsplit(',') {
        let ip = entry.trim().parse::<IpAddr>().ok()?.to_canonical();
        if !is_trusted(trusted, ip) {
            return Some(ip);
        }
    }
    None
}

impl FromRequest for ClientInfo {
    type Error = actix_web::Error;
    type Future = Ready<Result<ClientInfo, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(Ok(ClientInfo::of(req)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn forwarded_for_is_believed_only_from_loopback() {
        let proxied = TestRequest::default()
            .peer_addr("127.0.0.1:4000".parse().unwrap())
            .insert_header(("x-forwarded-for", "198.51.100.1, 203.0.113.7"))
            .insert_header(("user-agent", "Mozilla/5.0\tX: y"))
            .to_http_request();
        let info = ClientInfo::of(&proxied);
        assert_eq!(info.ip, Some("203.0.113.7".parse().unwrap()));
        assert_eq!(info.user_agent.as_deref(), Some("Mozilla/5.0X: y"));

        let direct = TestRequest::default()
            .peer_addr("192.0.2.5:4000".parse().unwrap())
            .insert_header(("x-forwarded-for", "203.0.113.7"))
            .to_http_request();
        assert_eq!(
            ClientInfo::of(&direct).ip,
            Some("192.0.2.5".parse().unwrap())
        );

        // a dual-stack socket's IPv4 loopback is loopback
        let mapped = TestRequest::default()
            .peer_addr("[::ffff:127.0.0.1]:4000".parse().unwrap())
            .insert_header(("x-forwarded-for", "203.0.113.7"))
            .to_http_request();
        assert_eq!(
            ClientInfo::of(&mapped).ip,
            Some("203.0.113.7".parse().unwrap())
        );

        let garbage = TestRequest::default()
            .peer_addr("127.0.0.1:4000".parse().unwrap())
            .insert_header(("x-forwarded-for", "not-an-ip"))
            .to_http_request();
        assert_eq!(
            ClientInfo::of(&garbage).ip,
            Some("127.0.0.1".parse().unwrap())
        );
    }
}

#[cfg(test)]
mod trusted_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_the_configured_proxies_are_believed() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert!(is_trusted(&trusted, "10.1.2.3".parse().unwrap()));
        assert!(!is_trusted(&trusted, "127.0.0.1".parse().unwrap()));
        // the client is the right-most address that is no trusted proxy
        assert_eq!(
            client_behind_proxy(&trusted, "198.51.100.1, 203.0.113.7, 10.0.0.2"),
            Some("203.0.113.7".parse().unwrap())
        );
        assert_eq!(
            client_behind_proxy(&trusted, "::ffff:203.0.113.7"),
            Some("203.0.113.7".parse().unwrap())
        );
    }
}
