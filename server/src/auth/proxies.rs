//! Which address a request comes from. `X-Forwarded-For` is anyone's to write, so it counts
//! only when the connection comes from a proxy the operator named in
//! `DEVPULSE_TRUSTED_PROXIES`; then the client is the right-most hop that is not one of
//! those proxies (everything left of it may have been written by the client itself).

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// The address a request is attributed to (login throttling, audit entries), resolved once
/// per request by [`crate::http`]'s middleware and read from the request's extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

impl ClientIp {
    pub fn text(self) -> Option<String> {
        self.0.map(|ip| ip.to_string())
    }
}

impl TrustedProxies {
    /// `10.0.0.0/8, 192.168.1.7, ::1`: networks or single addresses, comma-separated.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`{s}` is not an IP address or network"))
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    pub fn client_ip(&self, headers: &HeaderMap, peer: Option<IpAddr>) -> Option<IpAddr> {
        let peer = canonical(peer?);
        if !self.trusts(peer) {
            return Some(peer);
        }
        // Several X-Forwarded-For headers read as one list, in order.
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            // An entry we cannot read ends the walk: nothing left of it can be trusted to be
            // what a proxy wrote.
            let Ok(ip) = hop.parse::<IpAddr>() else { break };
            client = canonical(ip);
            if !self.trusts(client) {
                break;
            }
        }
        Some(client)
    }
}

/// `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) is `10.0.0.1`.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_ip(&headers(&["1.2.3.4"]), ip("203.0.113.9")),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_rightmost_untrusted_hop_is_the_client() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.168.1.7").unwrap();
        // The client wrote "6.6.6.6" itself; the proxies appended the real hops.
        let h = headers(&["6.6.6.6, 198.51.100.2", "10.1.2.3"]);
        assert_eq!(proxies.client_ip(&h, ip("192.168.1.7")), ip("198.51.100.2"));
        // From an untrusted peer, the same header means nothing.
        assert_eq!(
            proxies.client_ip(&h, ip("198.51.100.99")),
            ip("198.51.100.99")
        );
        // Only proxies in the chain: the left-most is as far as we can see.
        assert_eq!(
            proxies.client_ip(&headers(&["10.0.0.5"]), ip("10.0.0.1")),
            ip("10.0.0.5")
        );
        // Garbage stops the walk at the last hop a proxy vouched for.
        assert_eq!(
            proxies.client_ip(&headers(&["6.6.6.6, nonsense"]), ip("10.0.0.1")),
            ip("10.0.0.1")
        );
        assert_eq!(
            proxies.client_ip(&headers(&[]), ip("::ffff:10.0.0.1")),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn bad_lists_name_the_entry() {
        assert!(TrustedProxies::parse("10.0.0.0/8,proxy.local")
            .unwrap_err()
            .contains("proxy.local"));
        assert_eq!(
            TrustedProxies::parse("").unwrap(),
            TrustedProxies::default()
        );
    }
}
