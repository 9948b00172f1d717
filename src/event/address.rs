//! The caller's network address, from `callerIpAddress` in any of its spellings.
//!
//! Azure writes IPv4, IPv6, `ip:port` and `[v6]:port`; anonymised exports write
//! `<Redacted>` or placeholders. Anything that is not an address yields `None` rather
//! than an error: a record without a usable address is still a valid record.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Parses a caller address, dropping a port; `None` when there is no usable address.
pub fn parse_caller_ip(raw: &str) -> Option<IpAddr> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if let Some(rest) = s.strip_prefix('[') {
        // [v6] or [v6]:port
        let end = rest.find(']')?;
        return rest[..end].parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    // v4:port (exactly one colon); a bare v6 with a port is ambiguous and not written.
    if let Some((host, port)) = s.rsplit_once(':') {
        if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) {
            return host.parse::<Ipv4Addr>().ok().map(IpAddr::V4);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_address_table() {
        let table: &[(&str, Option<&str>)] = &[
            ("104.40.82.76", Some("104.40.82.76")),
            ("104.40.82.76:5123", Some("104.40.82.76")),
            ("2001:db8::1", Some("2001:db8::1")),
            ("[2001:db8::1]:443", Some("2001:db8::1")),
            ("[2001:db8::1]", Some("2001:db8::1")),
            ("::ffff:10.0.0.1", Some("::ffff:10.0.0.1")),
            (" 10.1.2.3 ", Some("10.1.2.3")),
            ("<Redacted>", None),
            ("[my ip]", None),
            ("", None),
            ("1.2.3", None),
            ("1.2.3.4:port", None),
            ("[2001:db8::1", None),
        ];
        for (raw, want) in table {
            let got = parse_caller_ip(raw);
            assert_eq!(got, want.map(|w| w.parse().unwrap()), "{raw:?}");
        }
    }
}
