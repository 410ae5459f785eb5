//! The client's address, as the sign-in throttle counts it: the peer of the
//! connection, or — when the peer is a trusted reverse proxy — the address
//! that proxy says it forwarded for.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;

use crate::state::AppState;

/// The client's address (see [`client_addr`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Served without connection info (only in-process tests of the
        // router): every request is one unknown client.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        Ok(ClientAddr(client_addr(
            peer,
            &parts.headers,
            &state.config.trusted_proxies,
        )))
    }
}

/// The client of a request from `peer`. A peer that is not a trusted proxy is
/// the client, whatever it says in `X-Forwarded-For` (anyone can send that
/// header). A trusted proxy appends the address it received the request from,
/// so the list is read from the right, skipping trusted proxies; the first
/// other entry is the client (entries to its left are the client's own claims).
/// Every entry is trusted: the left-most. An entry that has to be read but is
/// not an address, or no header: the peer.
pub fn client_addr(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| {
        trusted
            .iter()
            .any(|t| t.to_canonical() == ip.to_canonical())
    };
    if !is_trusted(peer) {
        return peer;
    }
    let mut entries = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(value) = value.to_str() else {
            return peer;
        };
        entries.extend(value.split(','));
    }
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(ip) = parse_entry(entry) else {
            return peer;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, possibly with a port.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    const PROXY: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    fn forwarded(values: &[&'static str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let h = forwarded(&["203.0.113.7"]);
        assert_eq!(client_addr(PROXY, &h, &[]), PROXY, "nobody trusted");
        let other = ip("198.51.100.9");
        assert_eq!(client_addr(other, &h, &[PROXY]), other, "not the proxy");
        assert_eq!(client_addr(PROXY, &h, &[PROXY]), ip("203.0.113.7"));
        assert_eq!(client_addr(PROXY, &HeaderMap::new(), &[PROXY]), PROXY);
    }

    #[test]
    fn the_right_most_untrusted_entry_is_the_client() {
        let trusted = [PROXY, ip("10.0.0.2")];
        // The client claimed 1.2.3.4; the outer proxy saw 203.0.113.7.
        let h = forwarded(&["1.2.3.4, 203.0.113.7", "10.0.0.2"]);
        assert_eq!(client_addr(PROXY, &h, &trusted), ip("203.0.113.7"));
        // What the client made up is never read.
        let h = forwarded(&["garbage, 203.0.113.7:5000"]);
        assert_eq!(client_addr(PROXY, &h, &trusted), ip("203.0.113.7"));
        let h = forwarded(&["[2001:db8::1]:443"]);
        assert_eq!(client_addr(PROXY, &h, &trusted), ip("2001:db8::1"));
        // Every hop trusted: the left-most.
        let h = forwarded(&["10.0.0.2, 127.0.0.1"]);
        assert_eq!(client_addr(PROXY, &h, &trusted), ip("10.0.0.2"));
    }

    #[test]
    fn a_malformed_header_means_the_peer() {
        for bad in ["not an address", "203.0.113.7, ", "", "203.0.113.7 garbage"] {
            let h = forwarded(&[bad]);
            assert_eq!(client_addr(PROXY, &h, &[PROXY]), PROXY, "{bad:?}");
        }
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"\xff203.0.113.7").expect("opaque bytes"),
        );
        assert_eq!(client_addr(PROXY, &h, &[PROXY]), PROXY);
    }
}
