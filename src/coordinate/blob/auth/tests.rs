//! Shared Key canonicalisation as a fixture table (request in, string to sign out),
//! and one signature computed independently (Python's `hmac`) over the first row.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};

use super::*;

/// Azurite's documented well-known development key (not a secret).
const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const DATE: &str = "Sun, 06 Dec 2026 01:15:29 GMT";

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            HeaderValue::from_str(value).expect("header value"),
        );
    }
    map
}

struct Row {
    what: &'static str,
    account: &'static str,
    method: Method,
    url: &'static str,
    headers: &'static [(&'static str, &'static str)],
    want: String,
}

fn rows() -> Vec<Row> {
    vec![
        Row {
            what: "claim: empty PUT, If-None-Match *, metadata, path-style (Azurite) URL, $ encoded",
            account: "devstoreaccount1",
            method: Method::PUT,
            url: "http://127.0.0.1:10000/devstoreaccount1/kvwatch/ns.servicebus.windows.net/hub/%24default/ownership/0",
            headers: &[
                ("content-length", "0"),
                ("if-none-match", "*"),
                ("x-ms-version", "2023-11-03"),
                ("x-ms-meta-ownerid", "a"),
                ("x-ms-blob-type", "BlockBlob"),
                ("x-ms-date", DATE),
            ],
            want: format!(
                "PUT{}*{}x-ms-blob-type:BlockBlob\nx-ms-date:{DATE}\nx-ms-meta-ownerid:a\nx-ms-version:2023-11-03\n\
                 /devstoreaccount1/devstoreaccount1/kvwatch/ns.servicebus.windows.net/hub/%24default/ownership/0",
                "\n".repeat(9),
                "\n".repeat(3)
            ),
        },
        Row {
            what: "manifest: a body (length kept), a content type, If-Match, host-style URL",
            account: "acct",
            method: Method::PUT,
            url: "https://acct.blob.core.windows.net/c/kvwatch/g/manifest",
            headers: &[
                ("Content-Type", "application/json"),
                ("Content-Length", "42"),
                ("If-Match", "\"0x1\""),
                ("x-ms-date", DATE),
                ("x-ms-version", "2023-11-03"),
            ],
            want: format!(
                "PUT\n\n\n42\n\napplication/json\n\n\n\"0x1\"\n\n\n\nx-ms-date:{DATE}\nx-ms-version:2023-11-03\n/acct/c/kvwatch/g/manifest"
            ),
        },
        Row {
            what: "listing: query names lowercased, values decoded, sorted",
            account: "devstoreaccount1",
            method: Method::GET,
            url: "http://127.0.0.1:1/devstoreaccount1/kvwatch?restype=container&comp=list&Prefix=kvwatch%2Fg%2Fstate%2F&include=metadata",
            headers: &[("x-ms-date", DATE), ("x-ms-version", "2023-11-03")],
            want: format!(
                "GET{}x-ms-date:{DATE}\nx-ms-version:2023-11-03\n/devstoreaccount1/devstoreaccount1/kvwatch\ncomp:list\ninclude:metadata\nprefix:kvwatch/g/state/\nrestype:container",
                "\n".repeat(12)
            ),
        },
        Row {
            what: "metadata write: comp=metadata, header names lowercased, whitespace folded",
            account: "acct",
            method: Method::PUT,
            url: "https://acct.blob.core.windows.net/c/b?comp=metadata",
            headers: &[
                ("content-length", "0"),
                ("X-MS-Meta-Note", "  two   words "),
                ("x-ms-date", DATE),
            ],
            want: format!(
                "PUT{}x-ms-date:{DATE}\nx-ms-meta-note:two words\n/acct/c/b\ncomp:metadata",
                "\n".repeat(12)
            ),
        },
        Row {
            what: "repeated query names: values sorted and joined with commas",
            account: "acct",
            method: Method::GET,
            url: "https://acct.blob.core.windows.net/c?b=2&a=1&a=0",
            headers: &[],
            want: format!("GET{}/acct/c\na:0,1\nb:2", "\n".repeat(12)),
        },
        Row {
            what: "delete with If-Match; no body, no length",
            account: "acct",
            method: Method::DELETE,
            url: "https://acct.blob.core.windows.net/c/kvwatch/g/state/1",
            headers: &[("if-match", "\"0x2\""), ("x-ms-version", "2023-11-03")],
            want: format!(
                "DELETE{}\"0x2\"{}x-ms-version:2023-11-03\n/acct/c/kvwatch/g/state/1",
                "\n".repeat(8),
                "\n".repeat(4)
            ),
        },
    ]
}

#[test]
fn string_to_sign_fixture_table() {
    for row in rows() {
        let url = Url::parse(row.url).expect("url");
        let got = string_to_sign(row.account, &row.method, &url, &headers(row.headers));
        assert_eq!(got, row.want, "{}", row.what);
    }
}

#[test]
fn the_signature_matches_an_independent_hmac() {
    let row = &rows()[0];
    let key = SharedKey::new(row.account, &Secret::new(DEV_KEY)).expect("key");
    let url = Url::parse(row.url).expect("url");
    let auth = key
        .authorization(&row.method, &url, &headers(row.headers))
        .expect("signs");
    // python3: base64(hmac.new(b64decode(DEV_KEY), want.encode(), sha256).digest())
    assert_eq!(
        auth,
        "SharedKey devstoreaccount1:Qh3b4DmWJ6OOeg6FI75YRFaxZMsGamXW7Y4EO2D6kvo="
    );
}

#[test]
fn keys_and_signatures_never_print() {
    let key = SharedKey::new("acct", &Secret::new(DEV_KEY)).expect("key");
    let shown = format!("{key:?} {:?}", BlobAuth::SharedKey(key.clone()));
    assert!(!shown.contains("Eby8"), "{shown}");
    let sas = BlobAuth::sas(&Secret::new("?sv=2023-11-03&sig=abc%2Bdefghij")).expect("sas");
    assert!(!format!("{sas:?}").contains("abc"));
    let needles: Vec<String> = sas
        .secrets()
        .iter()
        .map(|s| s.expose().to_owned())
        .collect();
    assert!(needles.contains(&"abc+defghij".to_owned()), "{needles:?}");
    assert!(needles.contains(&"abc%2Bdefghij".to_owned()), "{needles:?}");
}

#[test]
fn bad_credentials_are_named_without_their_value() {
    let table = [
        ("acct", "not base64 !!", "is not base64"),
        ("ac-ct", DEV_KEY, "not a storage account name"),
        ("acct", "", "is empty"),
    ];
    for (account, key, want) in table {
        let err = SharedKey::new(account, &Secret::new(key)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(want), "{account} -> {text}");
        assert!(key.is_empty() || !text.contains(key), "{text}");
    }
    let err = BlobAuth::sas(&Secret::new("sv=2023-11-03&se=x")).unwrap_err();
    assert!(err.to_string().contains("no sig="), "{err}");
}
