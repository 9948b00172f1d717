//! Geolocation of Key Vault caller IPs for the `unusual_geo` detector.
//!
//! Operators point kvwatch at whatever MaxMind-format database they licence:
//! GeoLite2-City or -Country and DB-IP lite (nested `country.iso_code`,
//! `city.names.en`, `location.*`), or IPinfo lite (flat `country_code`,
//! `country`, `asn`, `as_name`). The record layout is detected per record from
//! the fields present, so one code path reads them all, and our own fixtures
//! from `mmdb_writer`. Records are decoded borrowed (`&str` into the file
//! buffer): a lookup allocates nothing.
//!
//! Addresses that carry no geography (private, loopback, CGNAT, documentation,
//! Azure, ...) are answered as [`GeoLookup::Exempt`] before the database is
//! consulted, so they can never look like a new country. [`haversine_km`]
//! turns two places into the distance used for impossible-travel speeds.

use std::fmt;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use maxminddb::{MaxMindDbError, Reader};
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use super::mmdb_writer::RecordLayout;
use super::networks::{canonical, AddressClass, Classifier};

const METADATA_MARKER: &[u8] = b"\xab\xcd\xefMaxMind.com";

/// The largest database file read (GeoLite2-City is about 60 MB, the commercial City
/// databases a few hundred MB).
pub const MAX_DATABASE_BYTES: u64 = 1 << 30;

/// Why a GeoIP database could not be used; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum GeoIpError {
    /// The file could not be read.
    #[error("cannot read GeoIP database {}: {source}", path.display())]
    Read {
        /// The database file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a MaxMind DB (no metadata, a record size or type not supported).
    #[error("{} is not a usable MaxMind DB file: {reason}", path.display())]
    NotMmdb {
        /// The database file.
        path: PathBuf,
        /// What is missing or unsupported.
        reason: String,
    },
    /// A record in the file could not be decoded.
    #[error("GeoIP database {} is corrupt: {source}", path.display())]
    Decode {
        /// The database file.
        path: PathBuf,
        /// The reader's error.
        #[source]
        source: MaxMindDbError,
    },
}

/// ISO 3166-1 alpha-2 country code, stored inline (no allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Accepts two ASCII letters in either case; stores them upper-case.
    pub fn new(code: &str) -> Option<Self> {
        match code.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Some(Self([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => None,
        }
    }
    /// The two upper-case letters.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the database places an address; strings borrow from the database.
#[derive(Debug, Clone, PartialEq)]
pub struct Place<'a> {
    /// The country (registered country when the database has no location country).
    pub country: CountryCode,
    /// The country's English name, when the database has one.
    pub country_name: Option<&'a str>,
    /// The city's English name (City databases).
    pub city: Option<&'a str>,
    /// Latitude in degrees (City databases).
    pub latitude: Option<f64>,
    /// Longitude in degrees (City databases).
    pub longitude: Option<f64>,
    /// The autonomous system number (ASN databases or combined records).
    pub asn: Option<u32>,
    /// The network's organisation (ASN databases or combined records).
    pub organization: Option<&'a str>,
    /// The search-tree prefix the address matched (as real readers report).
    pub network: IpNet,
    /// Which record shape the fields came from.
    pub layout: RecordLayout,
}

impl Place<'_> {
    /// Latitude and longitude, when both are known.
    pub fn coordinates(&self) -> Option<(f64, f64)> {
        Some((self.latitude?, self.longitude?))
    }
}

/// What a lookup found for an address.
#[derive(Debug, Clone, PartialEq)]
pub enum GeoLookup<'a> {
    /// A public address the database places.
    Located(Place<'a>),
    /// Public address the database has no country for.
    Unlocatable,
    /// Not a public address: never evidence of a new geography.
    Exempt(AddressClass),
}

/// Great-circle distance in km between two (latitude, longitude) points in
/// degrees, on a sphere of the IUGG mean Earth radius.
pub fn haversine_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    const EARTH_RADIUS_KM: f64 = 6371.0088;
    let (lat1, lat2) = (a.0.to_radians(), b.0.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.1 - a.1).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// A GeoIP database plus the address classifier that guards it.
#[derive(Debug)]
pub struct GeoIp {
    reader: Reader<Vec<u8>>,
    path: PathBuf,
    classifier: Classifier,
}

impl GeoIp {
    /// Reads the whole file into memory and validates it. Only a regular file of at
    /// most [`MAX_DATABASE_BYTES`] is read (a device or a mistaken path is refused
    /// before a byte is read).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, GeoIpError> {
        use std::io::Read;
        let path = path.as_ref();
        let read_err = |source| GeoIpError::Read {
            path: path.to_owned(),
            source,
        };
        let refuse = |reason: String| GeoIpError::NotMmdb {
            path: path.to_owned(),
            reason,
        };
        let file = std::fs::File::open(path).map_err(read_err)?;
        let meta = file.metadata().map_err(read_err)?;
        if !meta.is_file() {
            return Err(refuse(
                "it is not a regular file (a device, a pipe or a folder)".to_owned(),
            ));
        }
        if meta.len() > MAX_DATABASE_BYTES {
            return Err(refuse(format!(
                "it is larger than {MAX_DATABASE_BYTES} bytes, more than any GeoIP database"
            )));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        file.take(MAX_DATABASE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(read_err)?;
        if bytes.len() as u64 > MAX_DATABASE_BYTES {
            return Err(refuse(format!(
                "it is larger than {MAX_DATABASE_BYTES} bytes, more than any GeoIP database"
            )));
        }
        Self::from_bytes(bytes, path)
    }

    /// Uses an in-memory database; `name` is used in error messages.
    pub fn from_bytes(bytes: Vec<u8>, name: impl Into<PathBuf>) -> Result<Self, GeoIpError> {
        let path = name.into();
        let not_mmdb = |reason: String| GeoIpError::NotMmdb {
            path: path.clone(),
            reason,
        };
        let marker = bytes
            .windows(METADATA_MARKER.len())
            .rposition(|w| w == METADATA_MARKER)
            .ok_or_else(|| not_mmdb("no metadata marker (truncated or not an mmdb)".into()))?;
        // maxminddb 0.26 indexes slices unchecked while parsing a corrupt
        // header; turn such a panic into an error naming the file.
        let reader = catch_unwind(AssertUnwindSafe(|| Reader::from_source(bytes)))
            .map_err(|_| not_mmdb("metadata or search tree is malformed".into()))?
            .map_err(|e| not_mmdb(e.to_string()))?;
        let m = &reader.metadata;
        if m.binary_format_major_version != 2
            || !matches!(m.ip_version, 4 | 6)
            || !matches!(m.record_size, 24 | 28 | 32)
        {
            return Err(not_mmdb(format!(
                "unsupported header (format v{}, ip_version {}, record_size {})",
                m.binary_format_major_version, m.ip_version, m.record_size
            )));
        }
        let tree_end = m.node_count as usize * usize::from(m.record_size) / 4 + 16;
        if tree_end > marker {
            return Err(not_mmdb(format!(
                "search tree of {} nodes runs past the data section",
                m.node_count
            )));
        }
        Ok(Self {
            reader,
            path,
            classifier: Classifier::default(),
        })
    }

    /// Replaces the built-in-only classifier (e.g. with configured ranges).
    pub fn with_classifier(mut self, classifier: Classifier) -> Self {
        self.classifier = classifier;
        self
    }
    /// The address classifier (Azure, private and configured ranges).
    pub fn classifier(&self) -> &Classifier {
        &self.classifier
    }
    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// The database's own type name (`GeoLite2-City`, `DBIP-Country-Lite` …).
    pub fn database_type(&self) -> &str {
        &self.reader.metadata.database_type
    }
    /// When the database was built (Unix seconds), from its metadata.
    pub fn build_epoch(&self) -> u64 {
        self.reader.metadata.build_epoch
    }

    /// Like [`Self::try_lookup`]; a corrupt record is logged and reported as
    /// unlocatable rather than stopping the pipeline.
    pub fn lookup(&self, ip: IpAddr) -> GeoLookup<'_> {
        self.try_lookup(ip).unwrap_or_else(|error| {
            tracing::warn!(%ip, %error, "GeoIP lookup failed");
            GeoLookup::Unlocatable
        })
    }

    /// Looks `ip` up: exempt ranges first, then the database's search tree.
    pub fn try_lookup(&self, ip: IpAddr) -> Result<GeoLookup<'_>, GeoIpError> {
        let ip = canonical(ip);
        let class = self.classifier.classify(ip);
        if !class.is_geolocatable() {
            return Ok(GeoLookup::Exempt(class));
        }
        if ip.is_ipv6() && self.reader.metadata.ip_version == 4 {
            return Ok(GeoLookup::Unlocatable);
        }
        let decode = |source| GeoIpError::Decode {
            path: self.path.clone(),
            source,
        };
        let (record, prefix) = self
            .reader
            .lookup_prefix::<RawRecord<'_>>(ip)
            .map_err(decode)?;
        let Some(raw) = record else {
            return Ok(GeoLookup::Unlocatable);
        };
        let network = u8::try_from(prefix)
            .ok()
            .and_then(|p| IpNet::new(ip, p).ok())
            .ok_or_else(|| decode(MaxMindDbError::InvalidDatabase(format!("prefix /{prefix}"))))?
            .trunc();
        Ok(raw
            .into_place(network)
            .map_or(GeoLookup::Unlocatable, GeoLookup::Located))
    }
}

/// Every field any supported layout may carry; absent ones stay `None`.
#[derive(Deserialize)]
struct RawRecord<'a> {
    #[serde(borrow)]
    country: Option<CountryField<'a>>,
    #[serde(borrow)]
    city: Option<Named<'a>>,
    location: Option<RawLocation>,
    #[serde(borrow)]
    traits: Option<RawAs<'a>>,
    autonomous_system_number: Option<u32>,
    autonomous_system_organization: Option<&'a str>,
    country_code: Option<&'a str>,
    asn: Option<AsnField>,
    as_name: Option<&'a str>,
}

#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow)]
    names: Option<Names<'a>>,
}

#[derive(Deserialize)]
struct Names<'a> {
    en: Option<&'a str>,
}

#[derive(Deserialize)]
struct RawLocation {
    latitude: Option<f64>,
    longitude: Option<f64>,
}

#[derive(Deserialize)]
struct RawAs<'a> {
    autonomous_system_number: Option<u32>,
    autonomous_system_organization: Option<&'a str>,
}

impl<'a> RawRecord<'a> {
    fn into_place(self, network: IpNet) -> Option<Place<'a>> {
        let (layout, iso, country_name) = match (self.country_code, self.country) {
            (Some(code), country) => {
                let name = match country {
                    Some(CountryField::Name(n)) => Some(n),
                    _ => None,
                };
                (RecordLayout::IpinfoLite, code, name)
            }
            (None, Some(CountryField::Geo { iso_code, name_en })) => {
                (RecordLayout::GeoLite2, iso_code?, name_en)
            }
            (None, _) => return None,
        };
        let traits = self.traits.unwrap_or(RawAs {
            autonomous_system_number: None,
            autonomous_system_organization: None,
        });
        let location = self.location;
        Some(Place {
            country: CountryCode::new(iso)?,
            country_name,
            city: self.city.and_then(|c| c.names?.en),
            latitude: location.as_ref().and_then(|l| l.latitude),
            longitude: location.as_ref().and_then(|l| l.longitude),
            asn: (self.asn.and_then(|a| a.0))
                .or(traits.autonomous_system_number)
                .or(self.autonomous_system_number),
            organization: (self.as_name)
                .or(traits.autonomous_system_organization)
                .or(self.autonomous_system_organization),
            network,
            layout,
        })
    }
}

/// `country` is a map in GeoLite2/DB-IP and a plain name in IPinfo lite.
enum CountryField<'a> {
    Name(&'a str),
    Geo {
        iso_code: Option<&'a str>,
        name_en: Option<&'a str>,
    },
}

impl<'de: 'a, 'a> Deserialize<'de> for CountryField<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CountryVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for CountryVisitor<'a> {
            type Value = CountryField<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a country map or a country name")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                name: &'de str,
            ) -> Result<Self::Value, E> {
                Ok(CountryField::Name(name))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut iso_code, mut name_en) = (None, None);
                while let Some(key) = map.next_key::<&'a str>()? {
                    match key {
                        "iso_code" => iso_code = Some(map.next_value::<&'a str>()?),
                        "names" => name_en = map.next_value::<Names<'a>>()?.en,
                        _ => drop(map.next_value::<IgnoredAny>()?),
                    }
                }
                Ok(CountryField::Geo { iso_code, name_en })
            }
        }
        deserializer.deserialize_any(CountryVisitor(PhantomData))
    }
}

/// IPinfo writes ASNs as "AS15169"; other vendors as integers.
struct AsnField(Option<u32>);

impl<'de> Deserialize<'de> for AsnField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AsnVisitor;
        impl Visitor<'_> for AsnVisitor {
            type Value = AsnField;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an AS number")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<AsnField, E> {
                Ok(AsnField(u32::try_from(n).ok()))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<AsnField, E> {
                Ok(AsnField(u32::try_from(n).ok()))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<AsnField, E> {
                let digits = s.strip_prefix("AS").or_else(|| s.strip_prefix("as"));
                Ok(AsnField(digits.unwrap_or(s).parse().ok()))
            }
        }
        deserializer.deserialize_any(AsnVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::mmdb_writer::{GeoRecord, MmdbValue, MmdbWriter, RecordSize};

    fn net(s: &str) -> IpNet {
        s.parse().expect("test network")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn city(iso: &str, name: &str, lat: f64, lon: f64) -> GeoRecord {
        GeoRecord::country(iso)
            .with_city(name)
            .with_location(lat, lon)
    }

    /// One line per answer, so tables compare every field exactly.
    fn render(lookup: GeoLookup<'_>) -> String {
        let p = match lookup {
            GeoLookup::Located(p) => p,
            other => return format!("{other:?}"),
        };
        let opt = |s: Option<&str>| s.unwrap_or("-").to_owned();
        let ll = p
            .coordinates()
            .map_or("-".into(), |(a, o)| format!("{a},{o}"));
        let asn = p.asn.map_or("-".into(), |a| format!("AS{a}"));
        let (country, city, name) = (p.country, opt(p.city), opt(p.country_name));
        let (org, network, layout) = (opt(p.organization), p.network, p.layout);
        format!("{country} {city} {ll} {network} {name} {asn} {org} {layout:?}")
    }

    /// GeoLite2-City layout: v4 and v6, nested prefixes, a country-only
    /// record (GeoLite2-Country shape) and a record without any country.
    fn city_db(size: RecordSize) -> GeoIp {
        let mut w = MmdbWriter::new("GeoLite2-City").with_record_size(size);
        let rows = [
            ("81.2.69.0/24", city("GB", "London", 51.5142, -0.0931)),
            ("81.2.69.160/27", city("GB", "Boxford", 51.75, -1.25)),
            (
                "89.160.20.128/25",
                city("SE", "Linköping", 58.4167, 15.6167),
            ),
            ("216.160.83.56/29", city("US", "Milton", 47.2513, -122.3149)),
            ("2001:480::/32", GeoRecord::country("US")),
            ("2a02:d280::/29", city("FR", "Paris", 48.8566, 2.3522)),
            ("2a02:d280:1::/48", city("FR", "Lyon", 45.764, 4.8357)),
        ];
        for (n, mut record) in rows {
            if record.country_iso == "US" {
                record = record.with_country_name("United States");
            }
            if n.starts_with("216.") {
                record = record.with_asn(209, "CenturyLink");
            }
            w.insert(net(n), record).expect("valid insert");
        }
        let code = MmdbValue::Map(vec![("code".into(), MmdbValue::String("EU".into()))]);
        let continent_only = MmdbValue::Map(vec![("continent".into(), code)]);
        w.insert_value(net("67.43.156.0/24"), &continent_only)
            .expect("valid insert");
        GeoIp::from_bytes(w.to_bytes(), "city-fixture.mmdb").expect("fixture opens")
    }

    #[test]
    fn geolite2_city_lookup_table() {
        let table: &[(&str, &str)] = &[
            ("81.2.69.1", "GB London 51.5142,-0.0931 81.2.69.0/25 - - - GeoLite2"),
            ("81.2.69.142", "GB London 51.5142,-0.0931 81.2.69.128/27 - - - GeoLite2"),
            ("81.2.69.170", "GB Boxford 51.75,-1.25 81.2.69.160/27 - - - GeoLite2"),
            ("::ffff:81.2.69.170", "GB Boxford 51.75,-1.25 81.2.69.160/27 - - - GeoLite2"),
            ("89.160.20.200", "SE Linköping 58.4167,15.6167 89.160.20.128/25 - - - GeoLite2"),
            (
                "216.160.83.60",
                "US Milton 47.2513,-122.3149 216.160.83.56/29 United States AS209 CenturyLink GeoLite2",
            ),
            ("2001:480:1:2::3", "US - - 2001:480::/32 United States - - GeoLite2"),
            ("2a02:d280:1::5", "FR Lyon 45.764,4.8357 2a02:d280:1::/48 - - - GeoLite2"),
            ("2a02:d281::1", "FR Paris 48.8566,2.3522 2a02:d281::/32 - - - GeoLite2"),
            ("67.43.156.1", "Unlocatable"),
            ("81.2.70.1", "Unlocatable"),
            ("2a00:1450::1", "Unlocatable"),
            ("10.20.30.40", "Exempt(Private)"),
            ("13.64.1.1", "Exempt(AzureInternal)"),
            ("2001:db8::1", "Exempt(Documentation)"),
        ];
        for size in [RecordSize::Bits24, RecordSize::Bits28] {
            let db = city_db(size);
            assert_eq!(db.database_type(), "GeoLite2-City");
            for (addr, want) in table {
                assert_eq!(render(db.lookup(ip(addr))), *want, "{addr} with {size:?}");
            }
        }
    }

    #[test]
    fn ipinfo_lite_lookup_table() {
        let mut w = MmdbWriter::new("ipinfo lite.mmdb").with_layout(RecordLayout::IpinfoLite);
        let rows = [
            (
                "1.0.0.0/24",
                "AU",
                "Australia",
                Some((13335, "Cloudflare, Inc.")),
            ),
            (
                "8.8.8.0/24",
                "US",
                "United States",
                Some((15169, "Google LLC")),
            ),
            ("2a00:1450::/32", "IE", "Ireland", None),
        ];
        for (n, iso, name, asn) in rows {
            let mut record = GeoRecord::country(iso).with_country_name(name);
            if let Some((asn, org)) = asn {
                record = record.with_asn(asn, org);
            }
            w.insert(net(n), record).expect("valid insert");
        }
        let db = GeoIp::from_bytes(w.to_bytes(), "ipinfo.mmdb").expect("opens");
        let table: &[(&str, &str)] = &[
            (
                "1.0.0.1",
                "AU - - 1.0.0.0/24 Australia AS13335 Cloudflare, Inc. IpinfoLite",
            ),
            (
                "8.8.8.8",
                "US - - 8.8.8.0/24 United States AS15169 Google LLC IpinfoLite",
            ),
            (
                "2a00:1450:4007::1",
                "IE - - 2a00:1450::/32 Ireland - - IpinfoLite",
            ),
            ("8.8.4.4", "Unlocatable"),
            ("192.168.1.1", "Exempt(Private)"),
        ];
        for (addr, want) in table {
            assert_eq!(render(db.lookup(ip(addr))), *want, "{addr}");
        }
    }

    #[test]
    fn non_public_addresses_are_exempt_even_if_the_db_has_them() {
        let mut w = MmdbWriter::new("GeoLite2-Country");
        for n in [
            "10.0.0.0/8",
            "100.64.0.0/10",
            "13.64.0.0/11",
            "203.0.113.0/24",
            "fc00::/7",
        ] {
            w.insert(net(n), GeoRecord::country("KP"))
                .expect("valid insert");
        }
        let db = GeoIp::from_bytes(w.to_bytes(), "exempt.mmdb").expect("opens");
        let table: &[(&str, &str)] = &[
            ("10.20.30.40", "Exempt(Private)"),
            ("172.16.5.4", "Exempt(Private)"),
            ("192.168.1.1", "Exempt(Private)"),
            ("100.64.1.1", "Exempt(SharedCgnat)"),
            ("127.0.0.1", "Exempt(Loopback)"),
            ("::1", "Exempt(Loopback)"),
            ("fe80::1", "Exempt(LinkLocal)"),
            ("fc00::1", "Exempt(Private)"),
            ("2001:db8::1", "Exempt(Documentation)"),
            ("203.0.113.9", "Exempt(Documentation)"),
            ("13.64.1.1", "Exempt(AzureInternal)"),
            ("::ffff:10.0.0.1", "Exempt(Private)"),
        ];
        for (addr, want) in table {
            assert_eq!(render(db.lookup(ip(addr))), *want, "{addr}");
        }
        let mut classifier = Classifier::new();
        classifier.add_range(net("13.64.0.0/16"), AddressClass::Public);
        let db = db.with_classifier(classifier);
        let want = "KP - - 13.64.0.0/11 - - - GeoLite2";
        assert_eq!(render(db.lookup(ip("13.64.1.1"))), want);
        assert_eq!(render(db.lookup(ip("13.65.1.1"))), "Exempt(AzureInternal)");
    }

    #[test]
    fn a_device_or_an_oversized_file_is_refused_before_it_is_read() {
        let err = GeoIp::open("/dev/zero").expect_err("/dev/zero is no database");
        assert!(err.to_string().contains("/dev/zero"), "{err}");
        assert!(err.to_string().contains("regular file"), "{err}");
        let dir = tempfile::tempdir().expect("tempdir");
        let big = dir.path().join("huge.mmdb");
        let file = std::fs::File::create(&big).expect("create");
        // Sparse: costs no disk, and no memory unless it is read.
        file.set_len(MAX_DATABASE_BYTES + 1).expect("set_len");
        let err = GeoIp::open(&big).expect_err("over the size limit");
        assert!(err.to_string().contains("huge.mmdb"), "{err}");
        assert!(err.to_string().contains("larger than"), "{err}");
    }

    #[test]
    fn open_errors_name_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("GeoLite2-Missing.mmdb");
        let err = GeoIp::open(&missing).expect_err("missing file");
        assert!(matches!(err, GeoIpError::Read { .. }), "{err:?}");
        assert!(err.to_string().contains("GeoLite2-Missing.mmdb"), "{err}");

        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "not a database").expect("write");
        let err = GeoIp::open(&text).expect_err("text file");
        assert!(matches!(err, GeoIpError::NotMmdb { .. }), "{err:?}");
        assert!(err.to_string().contains("notes.txt"), "{err}");

        let mut w = MmdbWriter::new("GeoLite2-City");
        w.insert(net("1.1.1.0/24"), GeoRecord::country("AU"))
            .expect("valid");
        let good = dir.path().join("good.mmdb");
        w.write(&good).expect("write");
        let db = GeoIp::open(&good).expect("opens");
        assert_eq!(db.path(), good.as_path());
        assert_eq!(
            render(db.lookup(ip("1.1.1.1"))),
            "AU - - 1.1.1.0/24 - - - GeoLite2"
        );

        let bytes = w.to_bytes();
        let half = bytes[..bytes.len() / 2].to_vec();
        let err = GeoIp::from_bytes(half, "half.mmdb").expect_err("truncated");
        assert!(err.to_string().contains("half.mmdb"), "{err}");
        // node_count is a one-byte uint32 in the metadata: claim 200 nodes.
        let mut bad_tree = bytes.clone();
        let at = bytes
            .windows(10)
            .rposition(|w| w == b"node_count")
            .expect("key")
            + 10;
        bad_tree[at..at + 2].copy_from_slice(&[0xC1, 200]);
        let err = GeoIp::from_bytes(bad_tree, "bad-tree.mmdb").expect_err("tree past end");
        let msg = err.to_string();
        assert!(
            msg.contains("bad-tree.mmdb") && msg.contains("tree of 200 nodes"),
            "{msg}"
        );
        // A metadata marker followed by a map that ends early.
        let mut cut = b"junk".to_vec();
        cut.extend_from_slice(METADATA_MARKER);
        cut.extend_from_slice(&[0xE9, 0x4A]);
        let err = GeoIp::from_bytes(cut, "cut.mmdb").expect_err("cut metadata");
        assert!(matches!(err, GeoIpError::NotMmdb { .. }), "{err:?}");
    }

    #[test]
    fn haversine_known_distances() {
        let paris = (48.8566, 2.3522);
        type LatLon = (f64, f64);
        let table: &[(LatLon, LatLon, f64)] = &[
            (paris, (40.7128, -74.0060), 5837.25), // New York
            ((51.5074, -0.1278), (-33.8688, 151.2093), 16993.96), // London - Sydney
            ((0.0, 0.0), (0.0, 180.0), 20015.11),  // half the equator
            (paris, paris, 0.0),
        ];
        for (a, b, km) in table {
            let d = haversine_km(*a, *b);
            assert!((d - km).abs() < 0.01, "{a:?}-{b:?}: {d}");
            assert!((haversine_km(*b, *a) - d).abs() < 1e-9, "symmetric");
        }
    }

    #[test]
    fn country_code_table() {
        let table = [
            ("fr", Some("FR")),
            ("US", Some("US")),
            ("USA", None),
            ("1A", None),
        ];
        for (input, want) in table {
            let got = CountryCode::new(input).map(|c| c.to_string());
            assert_eq!(got.as_deref(), want, "{input}");
        }
    }
}
