//! Per-event enrichment, computed once by the [`super::Engine`] and shared by every
//! detector: what kind of address the caller used, and where it is.
//!
//! Geography is the most expensive fact a detector needs (a search-tree walk in the
//! MaxMind database), and three detectors need it (unusual geography, the place of a
//! bulk read, the place of an access change). Computing it once per event keeps the
//! per-event path cheap. Without a database the place falls back to the caller's
//! network prefix (/24, /48), and the engine says so when it starts.

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use super::baseline::keys::hash64;
use crate::enrich::{network_prefix, AddressClass, Classifier, CountryCode, GeoIp, GeoLookup};

/// Where an event's caller is, as far as the address tells.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Geo<'g> {
    /// The address class; `None` when the record carried no usable address.
    pub class: Option<AddressClass>,
    /// The country, when a database located the address.
    pub country: Option<CountryCode>,
    /// The country's name, when the database has it.
    pub country_name: Option<&'g str>,
    /// The city, when the database has it.
    pub city: Option<&'g str>,
    /// Latitude and longitude, when the database has them.
    pub coords: Option<(f32, f32)>,
    /// The autonomous system, when the database has it.
    pub asn: Option<u32>,
    /// The caller's network prefix (/24 for IPv4, /48 for IPv6), public addresses only.
    pub prefix: Option<IpNet>,
    /// [`Geo::prefix`] hashed, the key baselines keep.
    pub network: Option<u64>,
    /// Whether a GeoIP database was consulted.
    pub has_database: bool,
}

impl Geo<'_> {
    /// Whether the address can say anything about geography (public, not Azure).
    pub fn is_public(&self) -> bool {
        self.class == Some(AddressClass::Public)
    }

    /// A short label for summaries: `Amsterdam, NL`, `NL`, `azure`, `private`, a prefix.
    pub fn label(&self) -> String {
        match (self.class, self.country, self.city) {
            (None, _, _) => "no address".into(),
            (_, Some(c), Some(city)) => format!("{city}, {c}"),
            (_, Some(c), None) => c.to_string(),
            (Some(AddressClass::Public), None, _) => match self.prefix {
                Some(p) if !self.has_database => p.to_string(),
                Some(p) => format!("{p}, unlocatable"),
                None => "public".into(),
            },
            (Some(class), None, _) => class_label(class).into(),
        }
    }
}

/// A stable label for an address class.
pub fn class_label(class: AddressClass) -> &'static str {
    match class {
        AddressClass::Public => "public",
        AddressClass::Private => "private",
        AddressClass::Loopback => "loopback",
        AddressClass::LinkLocal => "link-local",
        AddressClass::SharedCgnat => "cgnat",
        AddressClass::Documentation => "documentation",
        AddressClass::AzureInternal => "azure",
        AddressClass::Unspecified => "unspecified",
        AddressClass::Multicast => "multicast",
        AddressClass::Reserved => "reserved",
    }
}

/// A bit per address class, for the set of classes a principal was seen from.
pub fn class_bit(class: AddressClass) -> u16 {
    1 << match class {
        AddressClass::Public => 0,
        AddressClass::Private => 1,
        AddressClass::Loopback => 2,
        AddressClass::LinkLocal => 3,
        AddressClass::SharedCgnat => 4,
        AddressClass::Documentation => 5,
        AddressClass::AzureInternal => 6,
        AddressClass::Unspecified => 7,
        AddressClass::Multicast => 8,
        AddressClass::Reserved => 9,
    }
}

/// Computes [`Geo`] for caller addresses.
#[derive(Debug, Clone, Default)]
pub struct Enricher {
    geoip: Option<Arc<GeoIp>>,
    classifier: Classifier,
}

impl Enricher {
    /// Classification only (no database): places fall back to network prefixes.
    pub fn without_database(classifier: Classifier) -> Self {
        Enricher {
            geoip: None,
            classifier,
        }
    }

    /// With a database; its own classifier guards lookups.
    pub fn with_database(geoip: Arc<GeoIp>) -> Self {
        let classifier = geoip.classifier().clone();
        Enricher {
            geoip: Some(geoip),
            classifier,
        }
    }

    /// Whether a database is configured.
    pub fn has_database(&self) -> bool {
        self.geoip.is_some()
    }

    /// Enriches one caller address.
    pub fn geo(&self, ip: Option<IpAddr>) -> Geo<'_> {
        let Some(ip) = ip else {
            return Geo {
                has_database: self.geoip.is_some(),
                ..Geo::default()
            };
        };
        let public = |class: AddressClass| {
            let prefix = (class == AddressClass::Public).then(|| network_prefix(ip));
            Geo {
                class: Some(class),
                prefix,
                network: prefix.map(|p| net_key(&p)),
                has_database: self.geoip.is_some(),
                ..Geo::default()
            }
        };
        let Some(db) = &self.geoip else {
            return public(self.classifier.classify(ip));
        };
        match db.lookup(ip) {
            GeoLookup::Exempt(class) => public(class),
            GeoLookup::Unlocatable => public(AddressClass::Public),
            GeoLookup::Located(place) => {
                let mut g = public(AddressClass::Public);
                g.country = Some(place.country);
                g.country_name = place.country_name;
                g.city = place.city;
                g.coords = place.coordinates().map(|(a, b)| (a as f32, b as f32));
                g.asn = place.asn;
                g
            }
        }
    }
}

fn net_key(p: &IpNet) -> u64 {
    match p {
        IpNet::V4(n) => u64::from(u32::from(n.network())) | (u64::from(n.prefix_len()) << 32),
        IpNet::V6(n) => hash64(&n.network().octets()) ^ u64::from(n.prefix_len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_database_public_addresses_get_a_prefix() {
        let e = Enricher::without_database(Classifier::default());
        let g = e.geo(Some("81.2.69.160".parse().unwrap()));
        assert!(g.is_public());
        assert_eq!(g.label(), "81.2.69.0/24");
        let g = e.geo(Some("10.1.2.3".parse().unwrap()));
        assert_eq!((g.label().as_str(), g.network), ("private", None));
        assert_eq!(e.geo(Some("20.40.1.1".parse().unwrap())).label(), "azure");
        assert_eq!(e.geo(None).label(), "no address");
    }
}
