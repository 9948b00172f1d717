//! Decodes the real-sample corpus in a loop, for profilers and instruction counts:
//! `decode_profile kvwatch|bare ROUNDS` (e.g. under `valgrind --tool=callgrind`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a developer tool stops at the first surprise, with its location

use std::borrow::Cow;

use serde::Deserialize;

/// The floor: the fields kvwatch uses, borrowed, exact key names, no normalisation.
#[derive(Deserialize)]
#[allow(dead_code)]
struct BareRecord<'a> {
    #[serde(borrow)]
    time: Cow<'a, str>,
    #[serde(borrow, rename = "resourceId")]
    resource_id: Cow<'a, str>,
    #[serde(borrow, rename = "operationName")]
    operation_name: Cow<'a, str>,
    #[serde(borrow, default)]
    category: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "resultSignature")]
    result_signature: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "resultDescription")]
    result_description: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "correlationId")]
    correlation_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "callerIpAddress")]
    caller_ip: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "durationMs")]
    duration_ms: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    identity: Option<BareIdentity<'a>>,
    #[serde(borrow, default)]
    properties: Option<BareProperties<'a>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct BareIdentity<'a> {
    #[serde(borrow, default)]
    claim: Option<BareClaims<'a>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct BareClaims<'a> {
    #[serde(borrow, default)]
    oid: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        rename = "http://schemas.microsoft.com/identity/claims/objectidentifier"
    )]
    object_identifier: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    upn: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    appid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    idtyp: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    xms_mirid: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct BareProperties<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "requestUri")]
    request_uri: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "clientInfo")]
    client_info: Option<Cow<'a, str>>,
    #[serde(default, rename = "httpStatusCode")]
    http_status: Option<u16>,
    #[serde(default, rename = "isAccessPolicyMatch")]
    is_access_policy_match: Option<bool>,
    #[serde(default, rename = "isRbacAuthorized")]
    is_rbac_authorized: Option<bool>,
}

fn main() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/real-samples");
    let mut lines = Vec::new();
    for f in [
        "sekoia-intake-formats-keyvault.jsonl",
        "secura-thesis-keyvault-auditevent.jsonl",
        "misc-keyvault-auditevent.jsonl",
        "msdocs-keyvault-PT1H-jsonlines.json",
    ] {
        let text = std::fs::read_to_string(format!("{dir}/{f}")).expect("samples");
        lines.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.as_bytes().to_vec()),
        );
    }
    sizes();
    let mode = std::env::args().nth(1).unwrap_or_else(|| "kvwatch".into());
    let rounds: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let mut n = 0usize;
    for _ in 0..rounds {
        for l in &lines {
            if mode == "bare-str" {
                let text = std::str::from_utf8(l).expect("utf8");
                if let Ok(r) = serde_json::from_str::<BareRecord>(text) {
                    n += r.operation_name.len();
                }
            } else if mode == "bare" {
                if let Ok(r) = serde_json::from_slice::<BareRecord>(l) {
                    n += r.operation_name.len();
                }
            } else if let Ok(e) = kvwatch::decode::decode_record(l) {
                n += e.status as usize;
            }
        }
    }
    println!("{n}");
}

#[allow(dead_code)]
fn sizes() {
    eprintln!(
        "RawRecord {} RawProperties {} AuditEvent {} Claims {} VaultConfig {} Principal {}",
        std::mem::size_of::<kvwatch::decode::RawRecord>(),
        std::mem::size_of::<kvwatch::decode::raw::RawProperties>(),
        std::mem::size_of::<kvwatch::event::AuditEvent>(),
        std::mem::size_of::<kvwatch::event::Claims>(),
        std::mem::size_of::<kvwatch::event::VaultConfig>(),
        std::mem::size_of::<kvwatch::event::Principal>(),
    );
}
