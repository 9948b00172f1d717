//! Tests of `mmdb_writer`.

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
    let got: Option<geoip2::Country> = reader.lookup("1.1.1.1".parse().expect("ip")).expect("ok");
    assert_eq!(got.and_then(|c| c.country?.iso_code), Some("AU"));
    let bad = dir.path().join("missing-dir").join("x.mmdb");
    let err = w.write(&bad).expect_err("no such directory");
    assert!(err.to_string().contains("missing-dir"), "{err}");
}
