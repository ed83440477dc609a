//! Requests the server makes to addresses a tenant admin typed (an identity provider, a
//! webhook): never redirected, with a deadline, and, unless configuration allows it, never to
//! a private or loopback address, checked both in the URL and where its name resolves (a
//! public name for a private address is refused), so an admin cannot make the server reach
//! inside the network it runs in.

use std::{net::IpAddr, time::Duration};

/// What outbound requests may reach.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    pub allow_private: bool,
}

impl Policy {
    /// A client that follows the policy (no redirects, 10 s, public addresses only unless
    /// allowed; no proxy then, which would resolve names for us).
    pub fn client(self) -> Result<reqwest::Client, String> {
        let mut http = reqwest::ClientBuilder::new()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10));
        if !self.allow_private {
            http = http
                .dns_resolver(std::sync::Arc::new(PublicOnly))
                .no_proxy();
        }
        http.build().map_err(|e| e.to_string())
    }

    /// Whether an admin may point the server at `url`: https (or http to a loopback or
    /// private address where those are allowed), and not a private or loopback address
    /// unless allowed.
    pub fn check(self, url: &reqwest::Url) -> Result<(), String> {
        let host = url.host_str().ok_or("must name a host")?;
        let private = host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok_and(|ip| !global(ip));
        if private && !self.allow_private {
            return Err("may not point at a private or loopback address".into());
        }
        if url.scheme() != "https" && !(url.scheme() == "http" && private) {
            return Err("must be an https address".into());
        }
        Ok(())
    }
}

impl app::ssr::Outbound for Policy {
    fn check(&self, url: &str) -> Result<(), String> {
        let parsed =
            reqwest::Url::parse(url.trim()).map_err(|e| format!("is not an address: {e}"))?;
        Policy::check(*self, &parsed)
    }
}

/// Resolves names to their public addresses only.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let found: Vec<std::net::SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| global(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{} resolves to no public address", name.as_str()).into());
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Whether `ip` is a public address.
pub fn global(ip: IpAddr) -> bool {
    if let IpAddr::V6(v6) = ip {
        if let Some(v4) = v6.to_ipv4_mapped() {
            return global(IpAddr::V4(v4));
        }
    }
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                // Shared address space (carrier NAT), IETF assignments, benchmarking, and
                // the reserved 240/4.
                || a == 100 && (64..128).contains(&b)
                || (a, b, c) == (192, 0, 0)
                || a == 198 && (18..20).contains(&b)
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            // IPv4-compatible (::a.b.c.d, deprecated) is its IPv4 address.
            let s = v6.segments();
            if s[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified() {
                return global(IpAddr::V4(std::net::Ipv4Addr::new(
                    (s[6] >> 8) as u8,
                    s[6] as u8,
                    (s[7] >> 8) as u8,
                    s[7] as u8,
                )));
            }
            !(v6.is_loopback()
                // Site-local (fec0::/10, deprecated but routed by some).
                || (s[0] & 0xffc0) == 0xfec0
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_global() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "169.254.169.254",
            "100.64.0.1",
            "192.0.0.5",
            "198.18.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::1",
            "::7f00:1",
            "::ffff:10.0.0.1",
            "fc00::1",
            "fe80::1",
            "fec0::1",
            "64:ff9b::a00:1",
        ] {
            assert!(!global(private.parse().unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(global(public.parse().unwrap()), "{public}");
        }
        let strict = Policy {
            allow_private: false,
        };
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        assert!(strict.check(&url("https://hooks.example.com/x")).is_ok());
        assert!(strict.check(&url("http://hooks.example.com/x")).is_err());
        assert!(strict.check(&url("https://127.0.0.1/x")).is_err());
        let tests = Policy {
            allow_private: true,
        };
        assert!(tests.check(&url("http://127.0.0.1:9/x")).is_ok());
    }
}
