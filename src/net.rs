//! Which network addresses assetdrop reaches on someone else's say-so. URLs in an import file
//! come from whoever wrote it: the hub downloading one (`uploadLocal`) and the client checking one
//! (`cloud import --check`) would otherwise reach loopback services, the local network or a cloud
//! metadata endpoint for them. [`forbidden_reason`] names such addresses (v4 and v6, with every
//! embedding of a v4 address judged by that address); [`GuardedResolver`] refuses them when a
//! host name is looked up, so a name that resolves inward, or re-resolves so (rebinding), never
//! gets a connection.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why an address is refused, or `None` when it is a public unicast address.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "an unspecified (0.0.0.0/8) address",
        (127, _, _) => "a loopback address",
        (10, _, _) | (192, 168, _) | (172, 16..=31, _) => "a private address",
        (169, 254, _) => "a link-local or cloud metadata address",
        (100, 64..=127, _) => "a carrier-grade NAT (shared) address",
        (192, 0, 0) => "an IETF protocol assignment address",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (198, 18 | 19, _) => "a benchmarking address",
        (224..=239, _, _) => "a multicast address",
        (240..=255, _, _) => "a reserved or broadcast address",
        _ => return None,
    })
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    let s = ip.segments();
    Some(match s {
        [0, 0, 0, 0, 0, 0, 0, 0] => "the unspecified address",
        [0, 0, 0, 0, 0, 0, 0, 1] => "a loopback address",
        // Deprecated IPv4-compatible addresses: nothing legitimate uses them.
        [0, 0, 0, 0, 0, 0, _, _] => "an IPv4-compatible address",
        // IPv4-translated (SIIT, ::ffff:0:a.b.c.d): a translator reaches the embedded IPv4
        // address, and no public host is named so.
        [0, 0, 0, 0, 0xffff, 0, _, _] => "an IPv4-translated address",
        // NAT64 reaches the embedded IPv4 address: judge that one.
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => {
            let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
            return forbidden_v4(v4);
        }
        [0x64, 0xff9b, 1, ..] => "a local-use NAT64 address",
        [0x100, 0, 0, 0, ..] => "a discard-only address",
        [0x2001, 0x0db8, ..] => "a documentation address",
        [0x2001, 0, ..] => "a Teredo address",
        [0x2002, ..] => "a 6to4 address",
        [x, ..] if x & 0xfe00 == 0xfc00 => "a unique-local (private) address",
        [x, ..] if x & 0xffc0 == 0xfe80 => "a link-local address",
        [x, ..] if x & 0xffc0 == 0xfec0 => "a site-local address",
        [x, ..] if x & 0xff00 == 0xff00 => "a multicast address",
        _ => return None,
    })
}

/// An address refused by [`GuardedResolver`] or a guarded redirect; found in a request error's
/// source chain.
#[derive(Debug, thiserror::Error)]
#[error("{host} is {why}")]
pub struct RefusedAddress {
    /// The host as written, or the address it resolved to.
    pub host: String,
    /// Why, as [`forbidden_reason`] says it.
    pub why: &'static str,
}

impl RefusedAddress {
    /// The refusal somewhere in `error`'s source chain, if any.
    pub fn within<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a Self> {
        let mut cause = Some(error);
        while let Some(e) = cause {
            if let Some(r) = e.downcast_ref::<Self>() {
                return Some(r);
            }
            cause = e.source();
        }
        None
    }
}

/// The refusal of `host` when it is an IP literal that [`forbidden_reason`] names.
pub fn refuse_literal(host: Option<url::Host<&str>>) -> Option<RefusedAddress> {
    let ip = match host? {
        url::Host::Ipv4(ip) => IpAddr::V4(ip),
        url::Host::Ipv6(ip) => IpAddr::V6(ip),
        url::Host::Domain(_) => return None,
    };
    forbidden_reason(ip).map(|why| RefusedAddress {
        host: ip.to_string(),
        why,
    })
}

/// The refusal of a URL whose host is an address literal that [`forbidden_reason`] names
/// (`None` for host names, which [`GuardedResolver`] judges, and for text that is not a URL).
pub fn refuse_url(url: &str) -> Option<RefusedAddress> {
    let parsed = url::Url::parse(url).ok()?;
    refuse_literal(parsed.host())
}

/// A DNS resolver for `reqwest` that answers only with public unicast addresses: a name with any
/// refused address is an error ([`RefusedAddress`]), so no connection is made to it.
#[derive(Debug, Clone, Copy, Default)]
pub struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let lookup = host.clone();
            let found: Vec<SocketAddr> =
                tokio::task::spawn_blocking(move || (lookup.as_str(), 0).to_socket_addrs())
                    .await??
                    .collect();
            if let Some((ip, why)) = found
                .iter()
                .find_map(|a| forbidden_reason(a.ip()).map(|why| (a.ip(), why)))
            {
                return Err(Box::new(RefusedAddress {
                    host: format!("{host} ({ip})"),
                    why,
                })
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(s: &str) -> bool {
        forbidden_reason(s.parse().expect("ip")).is_some()
    }

    #[test]
    fn private_and_special_ranges_are_refused() {
        for ip in [
            "127.0.0.1",
            "127.255.0.9",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.100.100.200",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "2002:7f00:1::",
            "::ffff:0:127.0.0.1",
            "::ffff:0:8.8.8.8",
        ] {
            assert!(refused(ip), "{ip} must be refused");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "169.255.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(!refused(ip), "{ip} is public");
        }
    }

    #[test]
    fn every_spelling_of_an_inward_address_in_a_url_is_refused() {
        for url in [
            "http://127.0.0.1:8080/a.png",
            "http://[::1]/a.png",
            "http://[::ffff:0:7f00:1]/a.png",
            "http://[::ffff:127.0.0.1]/a.png",
            "http://[64:ff9b::a9fe:a9fe]/latest",
            "http://0x7f000001/a.png",
            "http://2130706433/a.png",
            "http://0177.0.0.1/a.png",
            "http://169.254.169.254./x",
        ] {
            assert!(refuse_url(url).is_some(), "{url}");
        }
        for url in [
            "https://example.com/a.png",
            "http://8.8.8.8/a",
            "not a url",
            "data:,x",
        ] {
            assert!(refuse_url(url).is_none(), "{url}");
        }
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_that_resolve_inward() {
        let refused = GuardedResolver
            .resolve("localhost".parse().expect("name"))
            .await
            .err()
            .expect("localhost is refused");
        let why = RefusedAddress::within(refused.as_ref()).expect("a RefusedAddress");
        assert!(why.host.starts_with("localhost ("), "{why}");
        assert!(why.why.contains("loopback"), "{why}");
    }
}
