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
#[path = "mmdb_writer_tests.rs"]
mod tests;
