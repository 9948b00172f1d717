//! Address classification for geography.
//!
//! The `unusual_geo` detector must never call a caller IP a "new geography"
//! when the address says nothing about where the caller is: RFC 1918 and ULA
//! space, loopback, link-local, carrier-grade NAT, documentation ranges, or
//! Microsoft's own cloud egress (Key Vault records Azure services that reach a
//! vault as "trusted services" with Microsoft public addresses). This module
//! answers "what kind of address is this?" without any database, and supplies
//! the `/24` / `/48` "network prefix" that stands in for a place when no GeoIP
//! database is configured.
//!
//! The Microsoft list is a **curated subset**: large blocks registered to
//! Microsoft at ARIN/RIPE/APNIC that Azure uses heavily. The authoritative
//! list is the weekly "Azure IP Ranges and Service Tags" JSON, which cannot be
//! fetched offline; deployments that need precision pass extra ranges through
//! [`Classifier::add_range`]. Anyone can rent an Azure VM, so `AzureInternal`
//! means "not evidence of a new place", not "trusted".

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// What an address is, as far as geography is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressClass {
    /// Globally routable, not in any list below: geolocate it.
    Public,
    /// RFC 1918 (10/8, 172.16/12, 192.168/16) and IPv6 ULA / site-local.
    Private,
    /// 127/8 and ::1.
    Loopback,
    /// 169.254/16 (including Azure IMDS 169.254.169.254) and fe80::/10.
    LinkLocal,
    /// RFC 6598 carrier-grade NAT, 100.64/10.
    SharedCgnat,
    /// RFC 5737 / RFC 3849 / RFC 9637 documentation ranges.
    Documentation,
    /// Microsoft / Azure public space (built-in subset or configured).
    AzureInternal,
    /// 0/8 and ::.
    Unspecified,
    /// 224/4 and ff00::/8.
    Multicast,
    /// Other special-purpose space: 240/4, benchmarking, IETF protocol, discard.
    Reserved,
}

impl AddressClass {
    /// Only public addresses may be geolocated or counted as a new place.
    pub fn is_geolocatable(self) -> bool {
        self == AddressClass::Public
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

const fn v6(segments: [u16; 8], len: u8) -> Ipv6Net {
    let [a, b, c, d, e, f, g, h] = segments;
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), len)
}

/// IANA special-purpose IPv4 space (RFC 6890 registry, the parts we care about).
const SPECIAL_V4: &[(Ipv4Net, AddressClass)] = &[
    (v4(0, 0, 0, 0, 8), AddressClass::Unspecified),
    (v4(10, 0, 0, 0, 8), AddressClass::Private),
    (v4(100, 64, 0, 0, 10), AddressClass::SharedCgnat),
    (v4(127, 0, 0, 0, 8), AddressClass::Loopback),
    (v4(169, 254, 0, 0, 16), AddressClass::LinkLocal),
    (v4(172, 16, 0, 0, 12), AddressClass::Private),
    (v4(192, 0, 0, 0, 24), AddressClass::Reserved),
    (v4(192, 0, 2, 0, 24), AddressClass::Documentation),
    (v4(192, 168, 0, 0, 16), AddressClass::Private),
    (v4(198, 18, 0, 0, 15), AddressClass::Reserved),
    (v4(198, 51, 100, 0, 24), AddressClass::Documentation),
    (v4(203, 0, 113, 0, 24), AddressClass::Documentation),
    (v4(224, 0, 0, 0, 4), AddressClass::Multicast),
    (v4(240, 0, 0, 0, 4), AddressClass::Reserved),
];

/// IANA special-purpose IPv6 space. IPv4-mapped addresses are unwrapped first.
const SPECIAL_V6: &[(Ipv6Net, AddressClass)] = &[
    (v6([0, 0, 0, 0, 0, 0, 0, 0], 128), AddressClass::Unspecified),
    (v6([0, 0, 0, 0, 0, 0, 0, 1], 128), AddressClass::Loopback),
    (v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64), AddressClass::Reserved),
    (
        v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        AddressClass::Documentation,
    ),
    (
        v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),
        AddressClass::Documentation,
    ),
    (v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7), AddressClass::Private),
    (
        v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
        AddressClass::LinkLocal,
    ),
    (v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10), AddressClass::Private),
    (
        v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8),
        AddressClass::Multicast,
    ),
];

/// Curated Microsoft-registered IPv4 blocks that carry much of Azure's public
/// traffic (including 168.63.129.16, the platform wire server). Not complete:
/// Azure also announces space outside these, and a few of these blocks serve
/// Microsoft 365 rather than Azure. Extend with [`Classifier::add_range`].
const AZURE_V4: &[Ipv4Net] = &[
    v4(13, 64, 0, 0, 11),
    v4(13, 104, 0, 0, 14),
    v4(20, 36, 0, 0, 14),
    v4(20, 40, 0, 0, 13),
    v4(20, 48, 0, 0, 12),
    v4(20, 64, 0, 0, 10),
    v4(23, 96, 0, 0, 13),
    v4(40, 64, 0, 0, 10),
    v4(52, 96, 0, 0, 12),
    v4(52, 136, 0, 0, 13),
    v4(52, 160, 0, 0, 11),
    v4(52, 224, 0, 0, 11),
    v4(65, 52, 0, 0, 14),
    v4(104, 40, 0, 0, 13),
    v4(104, 208, 0, 0, 13),
    v4(137, 116, 0, 0, 14),
    v4(138, 91, 0, 0, 16),
    v4(157, 54, 0, 0, 15),
    v4(157, 56, 0, 0, 14),
    v4(168, 61, 0, 0, 16),
    v4(168, 62, 0, 0, 15),
    v4(191, 232, 0, 0, 13),
];

/// Microsoft IPv6 allocations (ARIN 2603:1000::/24, RIPE 2a01:111::/32,
/// APNIC 2404:f800::/32, ARIN 2620:1ec::/36). Same caveats as [`AZURE_V4`].
const AZURE_V6: &[Ipv6Net] = &[
    v6([0x2603, 0x1000, 0, 0, 0, 0, 0, 0], 24),
    v6([0x2a01, 0x111, 0, 0, 0, 0, 0, 0], 32),
    v6([0x2404, 0xf800, 0, 0, 0, 0, 0, 0], 32),
    v6([0x2620, 0x1ec, 0, 0, 0, 0, 0, 0], 36),
];

/// Turns `::ffff:a.b.c.d` into `a.b.c.d`; every other address is unchanged.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Classifies with the built-in lists only (no configured ranges).
pub fn classify(ip: IpAddr) -> AddressClass {
    Classifier::default().classify(ip)
}

/// The "network prefix" used as a stand-in geography without a database:
/// the enclosing /24 for IPv4 (and IPv4-mapped IPv6), /48 for IPv6.
pub fn network_prefix(ip: IpAddr) -> IpNet {
    match canonical(ip) {
        IpAddr::V4(a) => IpNet::V4(Ipv4Net::new_assert(a, 24).trunc()),
        IpAddr::V6(a) => IpNet::V6(Ipv6Net::new_assert(a, 48).trunc()),
    }
}

/// Built-in lists plus ranges configured by the operator.
///
/// Order of precedence: IANA special-purpose space (cannot be overridden),
/// then configured ranges (most specific wins, so a configured `Public` range
/// can carve a customer-owned block out of the Azure list), then the built-in
/// Microsoft list, then `Public`.
#[derive(Debug, Clone, Default)]
pub struct Classifier {
    configured: Vec<(IpNet, AddressClass)>,
}

impl Classifier {
    /// A classifier with only the built-in lists.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a configured range (e.g. Service Tags prefixes as `AzureInternal`,
    /// or the organisation's own egress as `Private`). Host bits are ignored.
    pub fn add_range(&mut self, net: IpNet, class: AddressClass) -> &mut Self {
        let net = match net {
            IpNet::V6(n) => match n.addr().to_ipv4_mapped() {
                Some(a) if n.prefix_len() >= 96 => {
                    IpNet::V4(Ipv4Net::new_assert(a, n.prefix_len() - 96))
                }
                _ => net,
            },
            IpNet::V4(_) => net,
        };
        self.configured.push((net.trunc(), class));
        self
    }

    /// Adds many ranges of one class, e.g. a parsed Service Tags file.
    pub fn add_ranges<I: IntoIterator<Item = IpNet>>(
        &mut self,
        nets: I,
        class: AddressClass,
    ) -> &mut Self {
        for net in nets {
            self.add_range(net, class);
        }
        self
    }

    /// Classifies `ip`; IPv4-mapped IPv6 addresses are judged as IPv4.
    pub fn classify(&self, ip: IpAddr) -> AddressClass {
        let ip = canonical(ip);
        let special = match ip {
            IpAddr::V4(a) => SPECIAL_V4.iter().find(|(n, _)| n.contains(&a)).map(|e| e.1),
            IpAddr::V6(a) => SPECIAL_V6.iter().find(|(n, _)| n.contains(&a)).map(|e| e.1),
        };
        if let Some(class) = special {
            return class;
        }
        let configured = self
            .configured
            .iter()
            .filter(|(n, _)| n.contains(&ip))
            .max_by_key(|(n, _)| n.prefix_len());
        if let Some((_, class)) = configured {
            return *class;
        }
        let azure = match ip {
            IpAddr::V4(a) => AZURE_V4.iter().any(|n| n.contains(&a)),
            IpAddr::V6(a) => AZURE_V6.iter().any(|n| n.contains(&a)),
        };
        if azure {
            AddressClass::AzureInternal
        } else {
            AddressClass::Public
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AddressClass::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn builtin_classification_table() {
        let table: &[(&str, AddressClass)] = &[
            ("10.1.2.3", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("172.32.0.1", Public),
            ("192.168.10.20", Private),
            ("100.64.0.1", SharedCgnat),
            ("100.127.255.254", SharedCgnat),
            ("100.128.0.1", Public),
            ("127.0.0.1", Loopback),
            ("127.255.0.9", Loopback),
            ("169.254.169.254", LinkLocal),
            ("0.0.0.0", Unspecified),
            ("192.0.2.7", Documentation),
            ("198.51.100.1", Documentation),
            ("203.0.113.45", Documentation),
            ("224.0.0.251", Multicast),
            ("255.255.255.255", Reserved),
            ("198.18.0.1", Reserved),
            ("::1", Loopback),
            ("::", Unspecified),
            ("fe80::1", LinkLocal),
            ("fc00::1", Private),
            ("fd12:3456::1", Private),
            ("2001:db8::1", Documentation),
            ("3fff:0fff::1", Documentation),
            ("ff02::1", Multicast),
            ("::ffff:10.0.0.1", Private),
            ("::ffff:203.0.113.9", Documentation),
            ("168.63.129.16", AzureInternal),
            ("13.64.0.1", AzureInternal),
            ("13.95.255.255", AzureInternal),
            ("13.96.0.1", Public),
            ("40.112.1.1", AzureInternal),
            ("20.50.1.1", AzureInternal),
            ("2603:1030::5", AzureInternal),
            ("2a01:111:f400::1", AzureInternal),
            ("8.8.8.8", Public),
            ("81.2.69.160", Public),
            ("2a00:1450:4007::1", Public),
            ("::ffff:8.8.4.4", Public),
        ];
        for (addr, want) in table {
            assert_eq!(classify(ip(addr)), *want, "classify({addr})");
        }
    }

    #[test]
    fn only_public_is_geolocatable() {
        assert!(Public.is_geolocatable());
        for class in [Private, Loopback, LinkLocal, SharedCgnat, Documentation] {
            assert!(!class.is_geolocatable(), "{class:?}");
        }
        assert!(!AzureInternal.is_geolocatable());
    }

    #[test]
    fn configured_ranges_table() {
        let mut c = Classifier::new();
        c.add_range("51.104.0.0/15".parse().expect("net"), AzureInternal)
            .add_range("13.64.10.0/24".parse().expect("net"), Public)
            .add_range("::ffff:8.8.8.0/120".parse().expect("net"), Private)
            .add_ranges(["10.9.0.0/16".parse().expect("net")], Public);
        let table: &[(&str, AddressClass)] = &[
            ("51.105.3.4", AzureInternal),
            ("51.106.0.1", Public),
            ("13.64.10.77", Public),
            ("13.64.11.77", AzureInternal),
            ("8.8.8.8", Private),
            ("8.8.4.4", Public),
            // Special-purpose space cannot be reclassified.
            ("10.9.1.1", Private),
        ];
        for (addr, want) in table {
            assert_eq!(c.classify(ip(addr)), *want, "classify({addr})");
        }
    }

    #[test]
    fn network_prefix_table() {
        let table: &[(&str, &str)] = &[
            ("81.2.69.160", "81.2.69.0/24"),
            ("10.0.0.255", "10.0.0.0/24"),
            ("::ffff:1.2.3.4", "1.2.3.0/24"),
            ("2001:db8:abcd:12::1", "2001:db8:abcd::/48"),
            ("2a00:1450:4007:80e::200e", "2a00:1450:4007::/48"),
        ];
        for (addr, want) in table {
            assert_eq!(network_prefix(ip(addr)).to_string(), *want, "{addr}");
        }
    }
}
