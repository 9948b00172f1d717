//! Enrichment of audit records before detection: today, geography.
//!
//! `unusual_geo` needs to know where a caller IP is, whether the address can
//! carry a geography at all, and how far apart two places are. `networks`
//! classifies addresses without any data file, `geoip` reads MaxMind-format
//! databases (GeoLite2, DB-IP, IPinfo lite), and `mmdb_writer` builds small
//! databases for tests and the traffic simulator.

pub mod geoip;
pub mod mmdb_writer;
pub mod networks;

pub use geoip::{haversine_km, CountryCode, GeoIp, GeoIpError, GeoLookup, Place};
pub use mmdb_writer::{GeoRecord, MmdbValue, MmdbWriteError, MmdbWriter, RecordLayout, RecordSize};
pub use networks::{classify, network_prefix, AddressClass, Classifier};
