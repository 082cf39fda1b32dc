//! Where a webhook may be sent. A URL that resolves to a loopback, private, link-local,
//! shared or metadata address would let whoever sets it make the service call inside its own
//! network (SSRF), so such targets are refused when a subscription is set and again at every
//! send, against the addresses the send then connects to (a name can be re-pointed between
//! the two). `WEBHOOK_ALLOW_PRIVATE_TARGETS=true` allows them (tests, a receiver on the same
//! network by design).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

/// The longest target URL accepted.
pub const MAX_URL_LENGTH: usize = 2048;

/// Checks the shape of a target URL: http or https, a host, no credentials, no fragment.
pub fn parse(text: &str) -> Result<url::Url, String> {
    if text.len() > MAX_URL_LENGTH {
        return Err(format!("must be at most {MAX_URL_LENGTH} characters"));
    }
    let url = url::Url::parse(text).map_err(|e| format!("is not a URL: {e}"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err("must be an https (or http) URL".to_owned());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "must not carry credentials; the signature authenticates the sender".to_owned(),
        );
    }
    if url.fragment().is_some() {
        return Err("must not have a fragment".to_owned());
    }
    Ok(url)
}

/// The addresses `host:port` resolves to, every one of them allowed; an error naming the
/// first that is not (or saying the name does not resolve).
pub fn resolve(host: &str, port: u16, allow_private: bool) -> Result<Vec<SocketAddr>, String> {
    // A bracketed IPv6 literal resolves as itself.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("{host} does not resolve: {e}"))?
        .collect();
    if addresses.is_empty() {
        return Err(format!("{host} does not resolve"));
    }
    if !allow_private && let Some(blocked) = addresses.iter().find(|a| !is_public(a.ip())) {
        return Err(format!(
            "{host} resolves to {}, an address inside a private network (loopback, private, link-local or metadata); webhooks go only to public addresses",
            blocked.ip()
        ));
    }
    Ok(addresses)
}

/// Checks `url` now: its shape and where it resolves.
pub fn check(text: &str, allow_private: bool) -> Result<url::Url, String> {
    let url = parse(text)?;
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(443);
    resolve(host, port, allow_private)?;
    Ok(url)
}

/// Whether `ip` is an address on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(mapped) => is_public_v4(mapped),
            None => is_public_v6(ip),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16, cloud metadata among it
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || first == 0x0064 && ip.segments()[1] == 0xff9b) // NAT64 of any IPv4 address
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_link_local_and_metadata_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn a_target_is_an_http_url_with_a_host_and_no_credentials() {
        assert!(parse("https://hooks.example.org/convene").is_ok());
        for bad in [
            "ftp://example.org/",
            "https://user:pw@example.org/",
            "not a url",
            "https://example.org/#part",
            "file:///etc/passwd",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(
            check("http://127.0.0.1:9/", false)
                .unwrap_err()
                .contains("private")
        );
        assert!(check("http://[::1]:9/", false).is_err());
        assert!(check("http://127.0.0.1:9/", true).is_ok());
    }
}
