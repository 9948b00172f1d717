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
#[path = "geoip_tests.rs"]
mod tests;
