//! Which peers' `X-Forwarded-For` is believed (`ANXIN_TRUSTED_PROXIES`):
//! address ranges, parsed once from the configuration.
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
}
