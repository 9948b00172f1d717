//! Tests of `geoip`.

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
        (
            "81.2.69.1",
            "GB London 51.5142,-0.0931 81.2.69.0/25 - - - GeoLite2",
        ),
        (
            "81.2.69.142",
            "GB London 51.5142,-0.0931 81.2.69.128/27 - - - GeoLite2",
        ),
        (
            "81.2.69.170",
            "GB Boxford 51.75,-1.25 81.2.69.160/27 - - - GeoLite2",
        ),
        (
            "::ffff:81.2.69.170",
            "GB Boxford 51.75,-1.25 81.2.69.160/27 - - - GeoLite2",
        ),
        (
            "89.160.20.200",
            "SE Linköping 58.4167,15.6167 89.160.20.128/25 - - - GeoLite2",
        ),
        (
            "216.160.83.60",
            "US Milton 47.2513,-122.3149 216.160.83.56/29 United States AS209 CenturyLink GeoLite2",
        ),
        (
            "2001:480:1:2::3",
            "US - - 2001:480::/32 United States - - GeoLite2",
        ),
        (
            "2a02:d280:1::5",
            "FR Lyon 45.764,4.8357 2a02:d280:1::/48 - - - GeoLite2",
        ),
        (
            "2a02:d281::1",
            "FR Paris 48.8566,2.3522 2a02:d281::/32 - - - GeoLite2",
        ),
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
