//! A minimal MaxMind DB (format v2.0) writer.
//!
//! Real GeoLite2 / DB-IP / IPinfo files are large, licensed and change every
//! week, so kvwatch's tests and traffic simulator build their own small
//! fixtures. No crate in our dependency graph writes the format, hence this
//! module. It produces what the `maxminddb` reader expects from real files:
//! an IPv6 search tree (`ip_version` 6) with IPv4 networks under `::/96`,
//! 24- or 28-bit records, a data section and the metadata map.
//!
//! Nested networks are allowed (the most specific one wins, whatever the
//! insertion order); the same network twice, or IPv6 networks that overlap
//! the IPv4 subtree, are rejected. Identical records are stored once. The
//! `::ffff:0:0/96` alias of real files is not written: `GeoIp` unwraps
//! IPv4-mapped addresses before looking them up.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use ipnet::{IpNet, Ipv6Net};

const METADATA_MARKER: &[u8] = b"\xab\xcd\xefMaxMind.com";
/// `::/96` holds IPv4; `::ffff:0:0/96` is IPv4-mapped space.
const IPV4_SUBTREES: [Ipv6Net; 2] = [
    Ipv6Net::new_assert(Ipv6Addr::UNSPECIFIED, 96),
    Ipv6Net::new_assert(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96),
];
const DATA_SEPARATOR: [u8; 16] = [0; 16];
/// Largest size a control byte can express (65 821 + 2^24 - 1).
const MAX_VALUE_SIZE: usize = 65_821 + 0xFF_FFFF;

/// Why a fixture database could not be built or written.
#[derive(Debug, thiserror::Error)]
pub enum MmdbWriteError {
    /// The same network was inserted twice.
    #[error("network {network} was already inserted")]
    DuplicateNetwork {
        /// The network.
        network: IpNet,
    },
    /// The network's address has bits set past its prefix length.
    #[error("network {network} has host bits set (did you mean {}?)", network.trunc())]
    HostBitsSet {
        /// The network as given.
        network: IpNet,
    },
    /// An IPv6 network falls in the space that holds the IPv4 tree.
    #[error("IPv6 network {network} overlaps the IPv4 subtree (::/96 or ::ffff:0:0/96); insert IPv4 networks as IPv4")]
    OverlapsIpv4Space {
        /// The network.
        network: IpNet,
    },
    /// The record cannot be written in the chosen layout.
    #[error("invalid record for {network}: {reason}")]
    InvalidRecord {
        /// The network the record was for.
        network: IpNet,
        /// What is wrong with it.
        reason: String,
    },
    /// A string, map or array is larger than the format can express.
    #[error("a value of {size} bytes/entries exceeds the MaxMind DB size limit")]
    ValueTooLarge {
        /// Its size.
        size: usize,
    },
    /// The tree needs more nodes than 28-bit records can address.
    #[error("fixture too large for 28-bit records")]
    TooLarge,
    /// The file could not be written.
    #[error("cannot write MaxMind DB to {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Which vendor's record shape [`GeoRecord`]s are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordLayout {
    /// GeoLite2-City / -Country and DB-IP lite: nested `country.iso_code`,
    /// `country.names.en`, `city.names.en`, `location.latitude/longitude`;
    /// ASN goes to `traits.autonomous_system_*` as in GeoIP2 Enterprise.
    GeoLite2,
    /// IPinfo lite: flat `country_code`, `country`, `asn` ("AS123"), `as_name`.
    IpinfoLite,
}

/// Bits per search-tree record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RecordSize {
    /// 24 bits (up to 16 million nodes; GeoLite2-Country's choice).
    Bits24,
    /// 28 bits (GeoLite2-City's choice).
    Bits28,
}

impl RecordSize {
    /// The number of bits.
    pub fn bits(self) -> u16 {
        match self {
            RecordSize::Bits24 => 24,
            RecordSize::Bits28 => 28,
        }
    }
}

/// One network's geography, the fields kvwatch reads back.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GeoRecord {
    /// ISO 3166-1 alpha-2, upper case ("FR").
    pub country_iso: String,
    /// The country's English name.
    pub country_name: Option<String>,
    /// The city's English name.
    pub city: Option<String>,
    /// (latitude, longitude) in degrees.
    pub location: Option<(f64, f64)>,
    /// The autonomous system number.
    pub asn: Option<u32>,
    /// The autonomous system's organisation.
    pub organization: Option<String>,
}

impl GeoRecord {
    /// A record with only a country code.
    pub fn country(iso: &str) -> Self {
        Self {
            country_iso: iso.to_owned(),
            ..Self::default()
        }
    }
    /// With the country's English name.
    pub fn with_country_name(mut self, name: &str) -> Self {
        self.country_name = Some(name.to_owned());
        self
    }
    /// With a city name.
    pub fn with_city(mut self, city: &str) -> Self {
        self.city = Some(city.to_owned());
        self
    }
    /// With coordinates in degrees.
    pub fn with_location(mut self, latitude: f64, longitude: f64) -> Self {
        self.location = Some((latitude, longitude));
        self
    }
    /// With an autonomous system and its organisation.
    pub fn with_asn(mut self, asn: u32, organization: &str) -> Self {
        self.asn = Some(asn);
        self.organization = Some(organization.to_owned());
        self
    }

    /// Validates the record and lays it out as `layout` prescribes.
    fn to_value(&self, layout: RecordLayout) -> Result<MmdbValue, &'static str> {
        let iso = self.country_iso.as_bytes();
        if iso.len() != 2 || !iso.iter().all(u8::is_ascii_uppercase) {
            return Err("country_iso must be two upper-case ASCII letters");
        }
        if let Some((lat, lon)) = self.location {
            if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                return Err("latitude/longitude out of range");
            }
        }
        let text = |s: &Option<String>| s.as_deref().map(MmdbValue::str);
        let names = |s: &Option<String>| text(s).map(|en| MmdbValue::map([("en", Some(en))]));
        let iso = Some(MmdbValue::str(&self.country_iso));
        let org = text(&self.organization);
        if layout == RecordLayout::IpinfoLite {
            if self.city.is_some() || self.location.is_some() {
                return Err("the IPinfo lite layout has no city or location");
            }
            return Ok(MmdbValue::map([
                ("asn", self.asn.map(|n| MmdbValue::String(format!("AS{n}")))),
                ("as_name", org),
                ("country", text(&self.country_name)),
                ("country_code", iso),
            ]));
        }
        let city = names(&self.city).map(|n| MmdbValue::map([("names", Some(n))]));
        let location = self.location.map(|(lat, lon)| {
            let (lat, lon) = (MmdbValue::Double(lat), MmdbValue::Double(lon));
            MmdbValue::map([("latitude", Some(lat)), ("longitude", Some(lon))])
        });
        let asn = self.asn.map(MmdbValue::Uint32);
        let traits = (asn.is_some() || org.is_some()).then(|| {
            MmdbValue::map([
                ("autonomous_system_number", asn),
                ("autonomous_system_organization", org),
            ])
        });
        let country = MmdbValue::map([("iso_code", iso), ("names", names(&self.country_name))]);
        Ok(MmdbValue::map([
            ("city", city),
            ("country", Some(country)),
            ("location", location),
            ("traits", traits),
        ]))
    }
}

/// A data-section value, for fixtures outside the [`GeoRecord`] shapes.
#[derive(Debug, Clone, PartialEq)]
pub enum MmdbValue {
    /// A UTF-8 string.
    String(String),
    /// A double.
    Double(f64),
    /// An unsigned 16-bit integer.
    Uint16(u16),
    /// An unsigned 32-bit integer.
    Uint32(u32),
    /// An unsigned 64-bit integer.
    Uint64(u64),
    /// A boolean.
    Bool(bool),
    /// A map, in the given key order.
    Map(Vec<(String, MmdbValue)>),
    /// An array.
    Array(Vec<MmdbValue>),
}

impl MmdbValue {
    fn str(s: &str) -> Self {
        MmdbValue::String(s.to_owned())
    }
    fn map<const N: usize>(entries: [(&str, Option<MmdbValue>); N]) -> Self {
        let entries = entries
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_owned(), v?)));
        MmdbValue::Map(entries.collect())
    }

    /// Appends the spec's encoding of `self` (no pointers are emitted).
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), MmdbWriteError> {
        match self {
            MmdbValue::String(s) => {
                control(out, 2, s.len())?;
                out.extend_from_slice(s.as_bytes());
            }
            MmdbValue::Double(d) => {
                control(out, 3, 8)?;
                out.extend_from_slice(&d.to_be_bytes());
            }
            MmdbValue::Uint16(n) => unsigned(out, 5, u64::from(*n))?,
            MmdbValue::Uint32(n) => unsigned(out, 6, u64::from(*n))?,
            MmdbValue::Uint64(n) => unsigned(out, 9, *n)?,
            MmdbValue::Bool(b) => control(out, 14, usize::from(*b))?,
            MmdbValue::Map(entries) => {
                control(out, 7, entries.len())?;
                for (key, value) in entries {
                    control(out, 2, key.len())?;
                    out.extend_from_slice(key.as_bytes());
                    value.encode(out)?;
                }
            }
            MmdbValue::Array(items) => {
                control(out, 11, items.len())?;
                for item in items {
                    item.encode(out)?;
                }
            }
        }
        Ok(())
    }
}

/// Control byte(s): type in the top 3 bits (types > 7 are "extended": 0 there
/// and `type - 7` in the next byte), size in the low 5 bits plus 0-3 bytes.
fn control(out: &mut Vec<u8>, type_num: u8, size: usize) -> Result<(), MmdbWriteError> {
    let (size_bits, extra): (u8, Vec<u8>) = match size {
        0..=28 => (size as u8, Vec::new()),
        29..=284 => (29, vec![(size - 29) as u8]),
        285..=65_820 => (30, ((size - 285) as u16).to_be_bytes().to_vec()),
        _ if size <= MAX_VALUE_SIZE => (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec()),
        _ => return Err(MmdbWriteError::ValueTooLarge { size }),
    };
    if type_num <= 7 {
        out.push(type_num << 5 | size_bits);
    } else {
        out.extend_from_slice(&[size_bits, type_num - 7]);
    }
    out.extend_from_slice(&extra);
    Ok(())
}

/// Unsigned integers are stored big-endian without leading zero bytes.
fn unsigned(out: &mut Vec<u8>, type_num: u8, n: u64) -> Result<(), MmdbWriteError> {
    let skip = (n.leading_zeros() / 8) as usize;
    control(out, type_num, 8 - skip)?;
    out.extend_from_slice(&n.to_be_bytes()[skip..]);
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum Slot {
    Empty,
    Node(usize),
    Data(usize),
}

/// Builds a MaxMind DB file in memory.
#[derive(Debug, Clone)]
pub struct MmdbWriter {
    database_type: String,
    description: BTreeMap<String, String>,
    layout: RecordLayout,
    min_record_size: RecordSize,
    build_epoch: Option<u64>,
    /// (prefix length in the IPv6 tree, 128-bit network) -> encoded record.
    networks: BTreeMap<(u8, u128), Vec<u8>>,
    /// Sum of encoded record sizes (an upper bound on the data section).
    data_len: usize,
}

impl MmdbWriter {
    /// A writer for `database_type` (e.g. "GeoLite2-City"), GeoLite2 layout.
    pub fn new(database_type: &str) -> Self {
        Self {
            database_type: database_type.to_owned(),
            description: BTreeMap::from([("en".to_owned(), "kvwatch fixture".to_owned())]),
            layout: RecordLayout::GeoLite2,
            min_record_size: RecordSize::Bits24,
            build_epoch: None,
            networks: BTreeMap::new(),
            data_len: 0,
        }
    }
    /// Writes records in `layout`'s shape (default GeoLite2).
    pub fn with_layout(mut self, layout: RecordLayout) -> Self {
        self.layout = layout;
        self
    }
    /// Smallest record size to use; a larger one is chosen if needed.
    pub fn with_record_size(mut self, size: RecordSize) -> Self {
        self.min_record_size = size;
        self
    }
    /// Fixes `build_epoch` (default: now) for byte-identical output.
    pub fn with_build_epoch(mut self, epoch: u64) -> Self {
        self.build_epoch = Some(epoch);
        self
    }
    /// Adds the metadata's description in language `lang`.
    pub fn with_description(mut self, lang: &str, text: &str) -> Self {
        self.description.insert(lang.to_owned(), text.to_owned());
        self
    }

    /// Inserts `record` for `network`, in this writer's [`RecordLayout`].
    pub fn insert(&mut self, network: IpNet, record: GeoRecord) -> Result<(), MmdbWriteError> {
        let value = record.to_value(self.layout).map_err(|reason| {
            let reason = reason.to_owned();
            MmdbWriteError::InvalidRecord { network, reason }
        })?;
        self.insert_value(network, &value)
    }

    /// Inserts an arbitrary data-section value for `network`.
    pub fn insert_value(
        &mut self,
        network: IpNet,
        value: &MmdbValue,
    ) -> Result<(), MmdbWriteError> {
        if network.trunc() != network {
            return Err(MmdbWriteError::HostBitsSet { network });
        }
        let key = match network {
            IpNet::V4(n) => (n.prefix_len() + 96, u128::from(u32::from(n.addr()))),
            IpNet::V6(n) => {
                if IPV4_SUBTREES
                    .iter()
                    .any(|s| s.contains(&n) || n.contains(s))
                {
                    return Err(MmdbWriteError::OverlapsIpv4Space { network });
                }
                (n.prefix_len(), u128::from(n.addr()))
            }
        };
        if self.networks.contains_key(&key) {
            return Err(MmdbWriteError::DuplicateNetwork { network });
        }
        let mut encoded = Vec::new();
        value.encode(&mut encoded)?;
        // Each insert adds at most 128 nodes; keep the worst case addressable
        // by 28-bit records so that `to_bytes` cannot fail.
        let data_len = self.data_len + encoded.len();
        if 1 + 128 * (self.networks.len() + 1) + 16 + data_len >= 1 << 28 {
            return Err(MmdbWriteError::TooLarge);
        }
        self.data_len = data_len;
        self.networks.insert(key, encoded);
        Ok(())
    }

    /// Serialises the database: search tree, separator, data, metadata.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut data = Vec::new();
        let mut offsets: HashMap<&[u8], usize> = HashMap::new();
        let mut nodes: Vec<[Slot; 2]> = vec![[Slot::Empty; 2]];
        // Ascending prefix length: a more specific network splits the leaf of
        // the enclosing one, so both order of insertion and nesting work.
        for (&(prefix, bits), record) in &self.networks {
            let offset = *offsets.entry(record.as_slice()).or_insert_with(|| {
                data.extend_from_slice(record);
                data.len() - record.len()
            });
            let mut node = 0;
            for depth in 0..prefix {
                let bit = ((bits >> (127 - depth)) & 1) as usize;
                if depth + 1 == prefix {
                    nodes[node][bit] = Slot::Data(offset);
                    break;
                }
                node = match nodes[node][bit] {
                    Slot::Node(child) => child,
                    leaf => {
                        nodes.push([leaf, leaf]);
                        nodes[node][bit] = Slot::Node(nodes.len() - 1);
                        nodes.len() - 1
                    }
                };
            }
        }
        let node_count = nodes.len();
        let largest = node_count + DATA_SEPARATOR.len() + data.len();
        let record_size = if largest < 1 << 24 {
            self.min_record_size
        } else {
            RecordSize::Bits28
        };
        let value = |slot: Slot| match slot {
            Slot::Empty => node_count as u32,
            Slot::Node(n) => n as u32,
            Slot::Data(off) => (node_count + DATA_SEPARATOR.len() + off) as u32,
        };
        let mut out = Vec::with_capacity(node_count * 7 + data.len() + 512);
        for [left, right] in nodes {
            let (l, r) = (value(left).to_be_bytes(), value(right).to_be_bytes());
            match record_size {
                RecordSize::Bits24 => {
                    out.extend_from_slice(&l[1..]);
                    out.extend_from_slice(&r[1..]);
                }
                RecordSize::Bits28 => {
                    out.extend_from_slice(&l[1..]);
                    out.push((l[0] & 0x0F) << 4 | (r[0] & 0x0F));
                    out.extend_from_slice(&r[1..]);
                }
            }
        }
        out.extend_from_slice(&DATA_SEPARATOR);
        out.extend_from_slice(&data);
        out.extend_from_slice(METADATA_MARKER);
        let epoch = self.build_epoch.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
        let description = self
            .description
            .iter()
            .map(|(k, v)| (k.clone(), MmdbValue::str(v)));
        let metadata = MmdbValue::map([
            ("binary_format_major_version", Some(MmdbValue::Uint16(2))),
            ("binary_format_minor_version", Some(MmdbValue::Uint16(0))),
            ("build_epoch", Some(MmdbValue::Uint64(epoch))),
            ("database_type", Some(MmdbValue::str(&self.database_type))),
            ("description", Some(MmdbValue::Map(description.collect()))),
            ("ip_version", Some(MmdbValue::Uint16(6))),
            (
                "languages",
                Some(MmdbValue::Array(vec![MmdbValue::str("en")])),
            ),
            ("node_count", Some(MmdbValue::Uint32(node_count as u32))),
            ("record_size", Some(MmdbValue::Uint16(record_size.bits()))),
        ]);
        // Metadata strings are short, so encoding cannot hit the size limit.
        let _ = metadata.encode(&mut out);
        out
    }

    /// Writes [`Self::to_bytes`] to `path`.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), MmdbWriteError> {
        let path = path.as_ref();
        std::fs::write(path, self.to_bytes()).map_err(|source| MmdbWriteError::Io {
            path: path.to_owned(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use maxminddb::{geoip2, Reader};
    use std::net::IpAddr;

    fn net(s: &str) -> IpNet {
        s.parse().expect("test network")
    }

    fn encoded(v: &MmdbValue) -> Vec<u8> {
        let mut out = Vec::new();
        v.encode(&mut out).expect("encodable");
        out
    }

    #[test]
    fn control_bytes_table() {
        let s = |n: usize| MmdbValue::String("x".repeat(n));
        let table: Vec<(MmdbValue, Vec<u8>)> = vec![
            (MmdbValue::str("a"), vec![0x41, b'a']),
            (MmdbValue::Uint16(0), vec![0xA0]),
            (MmdbValue::Uint16(0x1234), vec![0xA2, 0x12, 0x34]),
            (MmdbValue::Uint32(0x0100_0000), vec![0xC4, 1, 0, 0, 0]),
            (MmdbValue::Uint64(1), vec![0x01, 0x02, 0x01]),
            (MmdbValue::Bool(true), vec![0x01, 0x07]),
            (MmdbValue::Bool(false), vec![0x00, 0x07]),
            (
                MmdbValue::Double(1.0),
                vec![0x68, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0],
            ),
            (MmdbValue::Map(vec![]), vec![0xE0]),
            (
                MmdbValue::Array(vec![MmdbValue::Bool(true)]),
                vec![0x01, 0x04, 0x01, 0x07],
            ),
        ];
        for (value, want) in &table {
            assert_eq!(&encoded(value), want, "{value:?}");
        }
        let headers: &[(usize, &[u8])] = &[
            (28, &[0x5C]),
            (29, &[0x5D, 0x00]),
            (284, &[0x5D, 0xFF]),
            (285, &[0x5E, 0x00, 0x00]),
            (500, &[0x5E, 0x00, 0xD7]),
            (65_821, &[0x5F, 0x00, 0x00, 0x00]),
            (70_000, &[0x5F, 0x00, 0x10, 0x53]),
        ];
        for (len, header) in headers {
            let bytes = encoded(&s(*len));
            assert_eq!(&bytes[..header.len()], *header, "string of {len}");
            assert_eq!(bytes.len(), header.len() + len);
        }
        let mut out = Vec::new();
        assert!(matches!(
            control(&mut out, 2, MAX_VALUE_SIZE + 1),
            Err(MmdbWriteError::ValueTooLarge { .. })
        ));
    }

    fn city_fixture(size: RecordSize) -> Vec<u8> {
        let mut w = MmdbWriter::new("GeoLite2-City")
            .with_record_size(size)
            .with_build_epoch(1_700_000_000);
        let rows = [
            ("81.2.69.160/27", "GB", Some("Boxford")),
            ("81.2.69.0/24", "GB", Some("London")),
            ("89.160.20.128/25", "SE", Some("Linköping")),
            ("2a02:d280::/29", "FR", Some("Paris")),
            ("2a02:d280:1::/48", "FR", Some("Lyon")),
            ("2001:480::/32", "US", None),
        ];
        for (n, iso, city) in rows {
            let mut record = GeoRecord::country(iso).with_country_name("Name");
            record.city = city.map(str::to_owned);
            let record = record.with_location(1.5, -2.25).with_asn(64_500, "Org");
            w.insert(net(n), record).expect("valid insert");
        }
        w.to_bytes()
    }

    /// Reads with the `maxminddb` crate's own GeoIP2 model, not ours.
    fn render(reader: &Reader<Vec<u8>>, addr: &str) -> String {
        let ip: IpAddr = addr.parse().expect("test address");
        let (found, prefix) = reader
            .lookup_prefix::<geoip2::Enterprise>(ip)
            .expect("decodes");
        let Some(rec) = found else {
            return format!("none /{prefix}");
        };
        let en = |names: Option<BTreeMap<&str, &str>>| {
            names?.get("en").map(std::string::ToString::to_string)
        };
        let country = rec.country.expect("country");
        let iso = country.iso_code.unwrap_or("-");
        let name = en(country.names).unwrap_or_default();
        let city = rec.city.and_then(|c| en(c.names)).unwrap_or("-".into());
        let loc = rec.location.expect("location");
        let (lat, lon) = (
            loc.latitude.unwrap_or(f64::NAN),
            loc.longitude.unwrap_or(f64::NAN),
        );
        let traits = rec.traits.expect("traits");
        let asn = traits.autonomous_system_number.unwrap_or(0);
        let org = traits.autonomous_system_organization.unwrap_or("-");
        format!("{iso} {name} {city} {lat},{lon} AS{asn} {org} /{prefix}")
    }

    #[test]
    fn geolite2_layout_reads_back_with_maxminddb() {
        let table: &[(&str, &str)] = &[
            ("81.2.69.1", "GB Name London 1.5,-2.25 AS64500 Org /25"),
            ("81.2.69.142", "GB Name London 1.5,-2.25 AS64500 Org /27"),
            ("81.2.69.170", "GB Name Boxford 1.5,-2.25 AS64500 Org /27"),
            ("81.2.69.255", "GB Name London 1.5,-2.25 AS64500 Org /26"),
            ("81.2.70.1", "none /23"),
            (
                "89.160.20.129",
                "SE Name Linköping 1.5,-2.25 AS64500 Org /25",
            ),
            ("89.160.20.127", "none /25"),
            ("2a02:d280:1::9", "FR Name Lyon 1.5,-2.25 AS64500 Org /48"),
            ("2a02:d281::1", "FR Name Paris 1.5,-2.25 AS64500 Org /32"),
            ("2a02:d288::1", "none /29"),
            ("2001:480:ffff::1", "US Name - 1.5,-2.25 AS64500 Org /32"),
            ("8.8.8.8", "none /2"),
        ];
        for size in [RecordSize::Bits24, RecordSize::Bits28] {
            let reader = Reader::from_source(city_fixture(size)).expect("fixture opens");
            let m = &reader.metadata;
            assert_eq!(m.record_size, size.bits());
            assert_eq!(m.ip_version, 6);
            let version = (m.binary_format_major_version, m.binary_format_minor_version);
            assert_eq!(version, (2, 0));
            assert_eq!(
                (m.database_type.as_str(), m.build_epoch),
                ("GeoLite2-City", 1_700_000_000)
            );
            assert_eq!(m.languages, vec!["en".to_owned()]);
            assert_eq!(
                m.description.get("en").map(String::as_str),
                Some("kvwatch fixture")
            );
            for (addr, want) in table {
                assert_eq!(render(&reader, addr), *want, "{addr} with {size:?}");
            }
        }
    }

    #[test]
    fn insertion_order_does_not_matter() {
        let rows = [
            ("10.0.0.0/8", "AA"),
            ("10.1.0.0/16", "BB"),
            ("10.1.2.0/24", "CC"),
            ("2001:db8::/32", "DD"),
            ("2001:db8:1::/48", "EE"),
        ];
        let build = |order: Vec<&(&str, &str)>| {
            let mut w = MmdbWriter::new("t").with_build_epoch(1);
            for (n, iso) in order {
                w.insert(net(n), GeoRecord::country(iso)).expect("valid");
            }
            w.to_bytes()
        };
        assert_eq!(
            build(rows.iter().collect()),
            build(rows.iter().rev().collect())
        );
    }

    #[test]
    fn identical_records_are_stored_once() {
        let mut w = MmdbWriter::new("t").with_build_epoch(1);
        for n in ["1.0.0.0/24", "2.0.0.0/24", "2c0f::/16"] {
            w.insert(net(n), GeoRecord::country("ZA").with_city("Dedupville"))
                .expect("valid");
        }
        let bytes = w.to_bytes();
        let hits = bytes.windows(10).filter(|win| win == b"Dedupville").count();
        assert_eq!(hits, 1);
    }

    #[test]
    fn invalid_inserts_are_rejected() {
        let gb = || GeoRecord::country("GB");
        let mut w = MmdbWriter::new("t");
        w.insert(net("81.2.69.0/24"), gb()).expect("first insert");
        w.insert(net("2a02::/16"), gb()).expect("first v6 insert");
        let table: Vec<(&str, GeoRecord, &str)> = vec![
            ("81.2.69.0/24", gb(), "DuplicateNetwork"),
            ("2a02::/16", gb(), "DuplicateNetwork"),
            ("81.2.69.1/24", gb(), "HostBitsSet"),
            ("::/0", gb(), "OverlapsIpv4Space"),
            ("::/100", gb(), "OverlapsIpv4Space"),
            ("::ffff:1.2.3.0/120", gb(), "OverlapsIpv4Space"),
            ("1.0.0.0/24", GeoRecord::country("gb"), "InvalidRecord"),
            ("1.0.0.0/24", GeoRecord::country("GBR"), "InvalidRecord"),
            ("1.0.0.0/24", gb().with_location(91.0, 0.0), "InvalidRecord"),
            (
                "1.0.0.0/24",
                gb().with_location(0.0, f64::NAN),
                "InvalidRecord",
            ),
        ];
        for (n, record, want) in table {
            let err = w.insert(net(n), record).expect_err(n);
            assert!(format!("{err:?}").starts_with(want), "{n}: {err:?}");
        }
        let mut ipinfo = MmdbWriter::new("t").with_layout(RecordLayout::IpinfoLite);
        let err = ipinfo.insert(net("1.0.0.0/24"), gb().with_city("London"));
        assert!(matches!(err, Err(MmdbWriteError::InvalidRecord { .. })));
        assert!(
            w.insert(net("1.0.0.0/24"), gb()).is_ok(),
            "errors leave the writer usable"
        );
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Custom {
        flag: bool,
        big: u64,
        tags: Vec<String>,
        long: String,
    }

    #[test]
    fn arbitrary_values_and_large_data_use_28_bit_records() {
        let long = "é".repeat(8_400_000); // 16.8 MB: pushes pointers past 2^24
        let value = MmdbValue::Map(vec![
            ("flag".into(), MmdbValue::Bool(true)),
            ("big".into(), MmdbValue::Uint64(u64::MAX)),
            (
                "tags".into(),
                MmdbValue::Array(vec![MmdbValue::str("a"), MmdbValue::str("b")]),
            ),
            ("long".into(), MmdbValue::String(long.clone())),
        ]);
        let mut w = MmdbWriter::new("custom");
        // Shorter prefixes are laid out first, so the /24's record lands past
        // 2^24 and its tree record needs the high nibble of a 28-bit record.
        w.insert_value(net("198.18.0.0/15"), &value).expect("valid");
        w.insert(net("198.51.100.0/24"), GeoRecord::country("NZ"))
            .expect("valid");
        let reader = Reader::from_source(w.to_bytes()).expect("opens");
        assert_eq!(reader.metadata.record_size, 28);
        let got: Option<Custom> = reader
            .lookup("198.19.0.9".parse().expect("ip"))
            .expect("decodes");
        let want = Custom {
            flag: true,
            big: u64::MAX,
            tags: vec!["a".into(), "b".into()],
            long,
        };
        assert_eq!(got, Some(want));
        let nz: Option<geoip2::Country> = reader
            .lookup("198.51.100.7".parse().expect("ip"))
            .expect("decodes");
        assert_eq!(nz.and_then(|c| c.country?.iso_code), Some("NZ"));
    }

    #[test]
    fn write_reports_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut w = MmdbWriter::new("t");
        w.insert(net("1.1.1.0/24"), GeoRecord::country("AU"))
            .expect("valid");
        let good = dir.path().join("ok.mmdb");
        w.write(&good).expect("writes");
        let reader = Reader::open_readfile(&good).expect("reads");
        // 96 nodes down to ::/96, then 24 for 1.1.1.0/24; the last one's
        // record points at the data.
        assert_eq!(reader.metadata.node_count, 120);
        let got: Option<geoip2::Country> =
            reader.lookup("1.1.1.1".parse().expect("ip")).expect("ok");
        assert_eq!(got.and_then(|c| c.country?.iso_code), Some("AU"));
        let bad = dir.path().join("missing-dir").join("x.mmdb");
        let err = w.write(&bad).expect_err("no such directory");
        assert!(err.to_string().contains("missing-dir"), "{err}");
    }
}
