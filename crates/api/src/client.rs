//! Who is on the other end of the connection, for per-address rate limits.
//!
//! Behind a reverse proxy every request comes from the proxy's address, so
//! one address's budget would be everyone's. `X-Forwarded-For` names the
//! client, but anyone can send it: it is believed only from a peer in
//! `ANXIN_TRUSTED_PROXIES`, and then read from the right, skipping further
//! trusted proxies, so the first address no trusted proxy vouches for is the
//! client (a client can prepend what it likes, but not append).
use crate::state::AppState;
use actix_web::{web, HttpRequest};
use std::net::IpAddr;

/// Address ranges (CIDRs) whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Comma-separated CIDRs (`10.0.0.0/8, ::1/128`) or single addresses.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (addr, bits) = item.split_once('/').unwrap_or((item, ""));
            let addr: IpAddr = addr
                .parse()
                .map_err(|_| format!("{item:?} is not an IP address or CIDR"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let bits = if bits.is_empty() {
                max
            } else {
                bits.parse::<u8>()
                    .ok()
                    .filter(|b| *b <= max)
                    .ok_or_else(|| format!("{item:?}: the prefix length must be 0 to {max}"))?
            };
            ranges.push((addr, bits));
        }
        Ok(Self(ranges))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0
            .iter()
            .any(|&(net, bits)| in_range(ip, canonical(net), bits))
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) as the IPv4 they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn in_range(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
        let (whole, rest) = (usize::from(bits / 8), bits % 8);
        if a[..whole] != b[..whole] {
            return false;
        }
        rest == 0 || {
            let mask = 0xffu8 << (8 - rest);
            a[whole] & mask == b[whole] & mask
        }
    }
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => prefix_eq(&a.octets(), &b.octets(), bits),
        (IpAddr::V6(a), IpAddr::V6(b)) => prefix_eq(&a.octets(), &b.octets(), bits),
        _ => false,
    }
}

/// The client's address: the TCP peer, or, when the peer is a trusted
/// proxy, the address its `X-Forwarded-For` names.
pub fn client_ip(req: &HttpRequest) -> String {
    let proxies = req
        .app_data::<web::Data<AppState>>()
        .map(|s| &s.config.trusted_proxies);
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return String::new();
    };
    match proxies {
        Some(proxies) if proxies.contains(peer) => forwarded_client(req, proxies).unwrap_or(peer),
        _ => peer,
    }
    .to_string()
}

/// The right-most address in `X-Forwarded-For` that is not a trusted proxy
/// (or the left-most, when all are); `None` when the header is missing or
/// holds something that is not an address.
fn forwarded_client(req: &HttpRequest, proxies: &TrustedProxies) -> Option<IpAddr> {
    let hops: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = None;
    for hop in hops.iter().rev() {
        let ip: IpAddr = hop.parse().ok()?;
        client = Some(ip);
        if !proxies.contains(ip) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_match_by_prefix_in_both_families() {
        let p = TrustedProxies::parse("10.0.0.0/8, 192.168.1.7, ::1/128, fd00::/8").unwrap();
        assert!(p.contains("10.200.3.4".parse().unwrap()));
        assert!(!p.contains("11.0.0.1".parse().unwrap()));
        assert!(p.contains("192.168.1.7".parse().unwrap()));
        assert!(!p.contains("192.168.1.8".parse().unwrap()));
        assert!(p.contains("::1".parse().unwrap()));
        assert!(p.contains("fd12::9".parse().unwrap()));
        assert!(p.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(TrustedProxies::parse("").unwrap().0.is_empty());
    }

    #[test]
    fn a_bad_range_is_refused_with_what_is_wrong() {
        assert!(TrustedProxies::parse("10.0.0.0/33")
            .unwrap_err()
            .contains("prefix"));
        assert!(TrustedProxies::parse("proxy.local")
            .unwrap_err()
            .contains("not an IP"));
    }

    #[test]
    fn the_client_is_the_first_hop_no_trusted_proxy_vouches_for() {
        let p = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let req = |xff: &str| {
            actix_web::test::TestRequest::default()
                .insert_header(("x-forwarded-for", xff))
                .to_http_request()
        };
        // A client that prepends a fake address does not choose its bucket.
        assert_eq!(
            forwarded_client(&req("1.2.3.4, 203.0.113.9, 10.0.0.2"), &p),
            Some("203.0.113.9".parse().unwrap())
        );
        assert_eq!(
            forwarded_client(&req("10.0.0.3"), &p),
            Some("10.0.0.3".parse().unwrap())
        );
        assert_eq!(forwarded_client(&req("not-an-ip"), &p), None);
    }
}
