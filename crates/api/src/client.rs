//! Who is on the other end of the connection, for per-address rate limits.
//!
//! Behind a reverse proxy every request comes from the proxy's address, so
//! one address's budget would be everyone's. `X-Forwarded-For` names the
//! client, but anyone can send it: it is believed only from a peer in
//! `ANXIN_TRUSTED_PROXIES`, and then read from the right, skipping further
//! trusted proxies, so the first address no trusted proxy vouches for is the
//! client (a client can prepend what it likes, but not append).
use actix_web::{web, HttpRequest};
use anxin_core::proxies::TrustedProxies;
use anxin_core::state::AppState;
use std::net::IpAddr;

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
