//! The principal cap holds while principals arrive, not only at the hourly upkeep: a
//! flood of one-record identities within minutes leaves the baselines and every
//! detector's per-principal table within `max_principals` (by the state's own
//! memory figures), a principal in the middle of an attack keeps its state (and its
//! alert) through the flood, and the real binary gives the same alerts on one
//! thread and on several while evicting.

use std::process::{Command, Stdio};

use chrono::{DateTime, Utc};
use kvwatch::config::Config;
use kvwatch::detect::Engine;

const CAP: usize = 1000;
const T0: i64 = 1_772_442_000; // 2026-03-02T09:00:00Z

fn at(offset_ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(T0 * 1000 + offset_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// One record: `oid` reading (or denied reading) `secret` from `ip`.
fn record(t: &str, oid: &str, ip: &str, secret: &str, status: u16) -> String {
    let result = if status == 200 { "Success" } else { "Failure" };
    format!(
        r#"{{"time":"{t}","category":"AuditEvent","operationName":"SecretGet","resultType":"{result}","callerIpAddress":"{ip}","identity":{{"claim":{{"oid":"{oid}","appid":"04b07795-8ddb-461a-bbee-02f9e1bf7b46"}}}},"properties":{{"id":"https://kv1.vault.azure.net/secrets/{secret}","httpStatusCode":{status}}},"resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV1"}}"#
    )
}

const ATTACKER: &str = "a77ac4e2-0000-4000-8000-000000000001";

/// `flood` one-record principals over five minutes (three in four denied, each
/// from its own public address), with `attacker` rejected tokens (401) on distinct
/// secrets: two at the start, the rest spread evenly through the flood.
fn records(flood: usize, attacker: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(flood + attacker);
    let step = flood / attacker.max(2).saturating_sub(1).max(1);
    let span_ms = 300_000i64;
    let mut n = 0usize;
    for i in 0..flood {
        let t = at(i as i64 * span_ms / flood as i64);
        if attacker > 0 && (i == 0 || i % step == 0) && n < attacker {
            for _ in 0..if i == 0 { 2 } else { 1 } {
                out.push(record(&t, ATTACKER, "81.2.69.160", &format!("s{n}"), 401));
                n += 1;
            }
        }
        let oid = format!("f100d000-0000-4000-8000-{i:012}");
        let ip = format!("2001:db8:{:x}:{:x}::1", i >> 16, i & 0xffff);
        let status = if i % 4 == 0 { 200 } else { 403 };
        out.push(record(&t, &oid, &ip, &format!("s{}", i % 7), status));
    }
    out
}

fn engine() -> Engine {
    let mut config = Config::default();
    config.detectors.max_principals = CAP;
    Engine::from_config(&config).expect("default detectors")
}

/// Runs `records` through `engine`, returning the alerts' identities and rules.
fn run(engine: &mut Engine, records: &[String]) -> Vec<(String, String)> {
    let mut alerts = Vec::new();
    for line in records {
        let event = kvwatch::decode::decode_record(line.as_bytes()).expect("a valid record");
        engine.process(&event, &mut |a| {
            alerts.push((a.detector.clone(), a.identity.clone()));
        });
    }
    alerts
}

#[test]
fn a_flood_of_new_principals_stays_within_the_cap() {
    let mut engine = engine();
    run(&mut engine, &records(20_000, 0));
    let memory = engine.memory();
    let b = memory.baselines;
    assert!(b.principals <= CAP, "baselines: {b:?}");
    assert!(
        b.evicted_capacity >= (20_000 - CAP) as u64,
        "evictions counted: {b:?}"
    );
    // Bounded in bytes too, by the state's own figure: a thousand profiles, not 20 000.
    assert!(
        b.principal_bytes + b.pair_bytes < 2 * CAP * 1024,
        "baseline bytes: {b:?}"
    );
    for (name, d) in &memory.detectors {
        assert!(d.learned_entries <= CAP + 1, "{name}: {d:?}");
        // failed_auth keeps principals and addresses, each table capped.
        assert!(d.transient_entries <= 2 * (CAP + 1), "{name}: {d:?}");
        assert!(
            d.learned_bytes + d.transient_bytes < 4 * CAP * 1024,
            "{name}: {d:?}"
        );
    }
}

#[test]
fn a_busy_principal_keeps_its_alert_through_a_flood() {
    let attacked = |flood| {
        let alerts = run(&mut engine(), &records(flood, 12));
        alerts
            .iter()
            .any(|(detector, who)| detector == "failed_auth" && who.contains(ATTACKER))
    };
    assert!(attacked(100), "the attack alerts on its own");
    // 20 000 new principals, more than the cap between two of the attacker's
    // failures: the least recently seen would be the attacker, but it is busy.
    assert!(attacked(20_000), "the attack alerts through the flood");
}

#[test]
fn one_thread_and_several_evict_alike() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("flood.json");
    std::fs::write(&input, records(12_000, 12).join("\n")).expect("written");
    let config = dir.path().join("kvwatch.toml");
    std::fs::write(&config, format!("[detectors]\nmax_principals = {CAP}\n")).expect("written");
    let alerts = |threads: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_kvwatch"))
            .arg("replay")
            .arg(&input)
            .arg("--config")
            .arg(&config)
            .args([
                "--no-progress",
                "--log-level",
                "error",
                "--threads",
                threads,
            ])
            .stdin(Stdio::null())
            .output()
            .expect("kvwatch runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let one = alerts("1");
    assert!(
        String::from_utf8_lossy(&one).contains(ATTACKER),
        "the attack alerts"
    );
    assert_eq!(one, alerts("2"), "two threads give the alerts of one");
}
