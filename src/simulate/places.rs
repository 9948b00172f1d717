//! Where callers are: cities, the address pools they draw from, and the GeoIP file.
//!
//! Every address the simulation writes comes from one of the pools below, so the
//! bundled `_geoip.mmdb` (GeoLite2 layout, with coordinates) can locate all of them
//! and `unusual_geo` sees real distances. Pools are ordinary public ranges of
//! residential ISPs, offices, hosting providers and Azure regions; the mapping of a
//! range to a city exists only in this synthetic database and identifies nobody.
//! Documentation ranges (203.0.113.0/24 …) cannot be used: kvwatch rightly refuses
//! to geolocate them. Azure pools lie inside the built-in Azure ranges of
//! [`crate::enrich::networks`], so they classify as `AzureInternal` as in real life.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};
use rand::RngExt;

use super::ids::SimRng;
use crate::enrich::{GeoRecord, MmdbWriteError, MmdbWriter};

/// A city with coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct City {
    /// English name.
    pub name: &'static str,
    /// ISO 3166-1 alpha-2.
    pub iso: &'static str,
    /// Country name.
    pub country: &'static str,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
}

const fn city(
    name: &'static str,
    iso: &'static str,
    country: &'static str,
    lat: f64,
    lon: f64,
) -> City {
    City {
        name,
        iso,
        country,
        lat,
        lon,
    }
}

const PARIS: City = city("Paris", "FR", "France", 48.8566, 2.3522);
const LYON: City = city("Lyon", "FR", "France", 45.764, 4.8357);
const ROUBAIX: City = city("Roubaix", "FR", "France", 50.6942, 3.1746);
const BERLIN: City = city("Berlin", "DE", "Germany", 52.52, 13.405);
const FRANKFURT: City = city("Frankfurt am Main", "DE", "Germany", 50.1109, 8.6821);
const LONDON: City = city("London", "GB", "United Kingdom", 51.5074, -0.1278);
const SEATTLE: City = city("Seattle", "US", "United States", 47.6062, -122.3321);
const NEW_YORK: City = city("New York", "US", "United States", 40.7128, -74.006);
const BOYDTON: City = city("Boydton", "US", "United States", 36.6676, -78.3875);
const DES_MOINES: City = city("Des Moines", "US", "United States", 41.5868, -93.625);
const QUINCY: City = city("Quincy", "US", "United States", 47.2343, -119.8526);
const BANGALORE: City = city("Bengaluru", "IN", "India", 12.9716, 77.5946);
const AMSTERDAM: City = city("Amsterdam", "NL", "Netherlands", 52.3676, 4.9041);
const DUBLIN: City = city("Dublin", "IE", "Ireland", 53.3498, -6.2603);
const LAGOS: City = city("Lagos", "NG", "Nigeria", 6.5244, 3.3792);
const HANOI: City = city("Hanoi", "VN", "Vietnam", 21.0278, 105.8342);
const SAO_PAULO: City = city("Sao Paulo", "BR", "Brazil", -23.5505, -46.6333);
const BUCHAREST: City = city("Bucharest", "RO", "Romania", 44.4268, 26.1025);
const SINGAPORE: City = city("Singapore", "SG", "Singapore", 1.3521, 103.8198);

/// What kind of network a pool is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PoolKind {
    /// Home broadband or mobile.
    Residential,
    /// A company's office egress.
    Office,
    /// A hosting provider or VPS range.
    Hosting,
    /// Microsoft Azure (an Azure datacenter egress).
    Azure,
    /// A private (VNet) range; not in the GeoIP file.
    Private,
}

/// A named range addresses are drawn from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Pool {
    /// The pool's name (stable; used by the tenant and scenarios).
    pub key: &'static str,
    /// The network.
    pub net: Ipv4Net,
    /// Where it is.
    pub city: City,
    /// What it is.
    pub kind: PoolKind,
    /// Autonomous system number and organisation, for the GeoIP file.
    pub asn: (u32, &'static str),
}

const fn net(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

const fn pool(
    key: &'static str,
    net: Ipv4Net,
    city: City,
    kind: PoolKind,
    asn: (u32, &'static str),
) -> Pool {
    Pool {
        key,
        net,
        city,
        kind,
        asn,
    }
}

use PoolKind::{Azure, Hosting, Office, Private, Residential};

const MICROSOFT: (u32, &str) = (8075, "MICROSOFT-CORP-MSN-AS-BLOCK");

/// Every pool the simulation draws from.
#[rustfmt::skip]
pub(crate) const POOLS: &[Pool] = &[
    pool("fr-home-paris-a", net(90, 3, 0, 0, 16), PARIS, Residential, (3215, "Orange")),
    pool("fr-home-paris-b", net(82, 65, 0, 0, 16), PARIS, Residential, (12322, "Free SAS")),
    pool("fr-home-lyon", net(86, 200, 0, 0, 16), LYON, Residential, (3215, "Orange")),
    pool("fr-office-paris", net(193, 252, 110, 0, 28), PARIS, Office, (3215, "Orange Business")),
    pool("fr-dc-paris", net(193, 252, 111, 0, 28), PARIS, Office, (3215, "Orange Business")),
    pool("fr-hosting-roubaix", net(51, 68, 0, 0, 16), ROUBAIX, Hosting, (16276, "OVH SAS")),
    pool("fr-home-proxy", net(92, 184, 0, 0, 16), PARIS, Residential, (3215, "Orange")),
    pool("de-home-berlin", net(79, 192, 0, 0, 16), BERLIN, Residential, (3320, "Deutsche Telekom AG")),
    pool("de-office-berlin", net(62, 154, 10, 0, 28), BERLIN, Office, (3320, "Deutsche Telekom AG")),
    pool("de-hosting-frankfurt", net(178, 63, 0, 0, 16), FRANKFURT, Hosting, (24940, "Hetzner Online GmbH")),
    pool("gb-home-london", net(86, 128, 0, 0, 16), LONDON, Residential, (2856, "British Telecommunications PLC")),
    pool("gb-office-london", net(195, 171, 20, 0, 28), LONDON, Office, (2856, "British Telecommunications PLC")),
    pool("gb-hosting-london", net(109, 169, 0, 0, 16), LONDON, Hosting, (20860, "Iomart Cloud Services Limited")),
    pool("us-home-seattle", net(73, 97, 0, 0, 16), SEATTLE, Residential, (7922, "Comcast Cable Communications, LLC")),
    pool("us-home-newyork", net(71, 190, 0, 0, 16), NEW_YORK, Residential, (701, "Verizon Business")),
    pool("us-hosting-newyork", net(45, 55, 0, 0, 16), NEW_YORK, Hosting, (14061, "DigitalOcean, LLC")),
    pool("in-home-bangalore", net(106, 51, 0, 0, 16), BANGALORE, Residential, (24309, "Atria Convergence Technologies")),
    pool("nl-hosting-amsterdam", net(185, 107, 56, 0, 24), AMSTERDAM, Hosting, (43350, "NForce Entertainment B.V.")),
    pool("ng-home-lagos", net(105, 112, 0, 0, 16), LAGOS, Residential, (36873, "Airtel Networks Limited")),
    pool("vn-hosting-hanoi", net(113, 161, 0, 0, 16), HANOI, Hosting, (45899, "VNPT Corp")),
    pool("br-home-saopaulo", net(177, 37, 0, 0, 16), SAO_PAULO, Residential, (26599, "Telefonica Brasil S.A")),
    pool("ro-hosting-bucharest", net(89, 38, 0, 0, 16), BUCHAREST, Hosting, (9009, "M247 Europe SRL")),
    pool("sg-hosting-singapore", net(128, 199, 0, 0, 16), SINGAPORE, Hosting, (14061, "DigitalOcean, LLC")),
    pool("azure-westeurope", net(20, 50, 0, 0, 16), AMSTERDAM, Azure, MICROSOFT),
    pool("azure-northeurope", net(20, 54, 0, 0, 16), DUBLIN, Azure, MICROSOFT),
    pool("azure-francecentral", net(20, 43, 0, 0, 16), PARIS, Azure, MICROSOFT),
    pool("azure-eastus", net(20, 81, 0, 0, 16), BOYDTON, Azure, MICROSOFT),
    pool("azure-centralus", net(40, 77, 0, 0, 16), DES_MOINES, Azure, MICROSOFT),
    pool("azure-westus2", net(20, 99, 0, 0, 16), QUINCY, Azure, MICROSOFT),
    pool("vnet-prod", net(10, 20, 1, 0, 24), PARIS, Private, (0, "")),
];

/// The pool named `key`.
///
/// # Panics
/// Never for the keys this module defines; the simulator only names those (a
/// unit test checks every key the tenant and scenarios use).
pub(crate) fn pool_named(key: &str) -> &'static Pool {
    POOLS.iter().find(|p| p.key == key).unwrap_or(&POOLS[0])
}

/// A random usable host address in `pool` (never the network or broadcast address).
pub(crate) fn address_in(pool: &Pool, rng: &mut SimRng) -> Ipv4Addr {
    host(pool, rng.random::<u32>())
}

/// The host address `n` (wrapped) of `pool`, deterministic.
pub(crate) fn host(pool: &Pool, n: u32) -> Ipv4Addr {
    let size = 1u32 << (32 - u32::from(pool.net.prefix_len()));
    let usable = size.saturating_sub(2).max(1);
    let base = u32::from(pool.net.network());
    Ipv4Addr::from(base + 1 + n % usable)
}

/// The pool an address belongs to.
pub(crate) fn pool_of(ip: IpAddr) -> Option<&'static Pool> {
    let IpAddr::V4(v4) = ip else { return None };
    POOLS.iter().find(|p| p.net.contains(&v4))
}

/// Builds the GeoLite2-layout database locating every public pool.
pub(crate) fn geoip_database(build_epoch: u64) -> Result<Vec<u8>, MmdbWriteError> {
    let mut writer = MmdbWriter::new("GeoLite2-City")
        .with_build_epoch(build_epoch)
        .with_description(
            "en",
            "kvwatch simulate: synthetic locations of the simulated tenant's addresses",
        );
    for p in POOLS.iter().filter(|p| p.kind != Private) {
        let record = GeoRecord::country(p.city.iso)
            .with_country_name(p.city.country)
            .with_city(p.city.name)
            .with_location(p.city.lat, p.city.lon)
            .with_asn(p.asn.0, p.asn.1);
        writer.insert(IpNet::V4(p.net), record)?;
    }
    Ok(writer.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::{classify, AddressClass};

    #[test]
    fn pools_are_distinct_and_classified_as_intended() {
        for (i, a) in POOLS.iter().enumerate() {
            for b in &POOLS[i + 1..] {
                assert_ne!(a.key, b.key);
                assert!(
                    !a.net.contains(&b.net.network()) && !b.net.contains(&a.net.network()),
                    "{} {}",
                    a.key,
                    b.key
                );
            }
            let class = classify(IpAddr::V4(host(a, 7)));
            let want = match a.kind {
                Azure => AddressClass::AzureInternal,
                Private => AddressClass::Private,
                _ => AddressClass::Public,
            };
            assert_eq!(class, want, "{}", a.key);
        }
    }

    #[test]
    fn hosts_stay_inside_their_pool() {
        let office = pool_named("fr-office-paris");
        for n in 0..100 {
            let ip = host(office, n);
            assert!(office.net.contains(&ip));
            assert_ne!(ip, office.net.network());
            assert_ne!(ip, office.net.broadcast());
        }
        assert_eq!(
            pool_of(IpAddr::V4(host(office, 3))).map(|p| p.key),
            Some("fr-office-paris")
        );
    }
}
