//! Table tests in the Hayabusa style: inline records, the detector, the expected
//! result. Records are written in the compact example form of the detector files
//! (`[[events]]`: operation, status, who, from where, how often) and expanded into
//! real Key Vault records that go through the production decoder and engine.

use kvwatch::alert::Severity;
use kvwatch::config::Config;
use kvwatch::detect::examples::{self, EventSpec, ExampleGeo, Expect};
use kvwatch::detect::registry;

#[derive(serde::Deserialize)]
struct Events {
    events: Vec<EventSpec>,
}

fn geo() -> Vec<ExampleGeo> {
    let g = |net: &str, cc: &str, city: &str, lat: f64, lon: f64| ExampleGeo {
        network: net.parse().expect("cidr"),
        country: cc.into(),
        city: Some(city.into()),
        lat: Some(lat),
        lon: Some(lon),
    };
    vec![
        g("81.2.69.0/24", "GB", "London", 51.5, -0.12),
        g("81.2.70.0/24", "GB", "Manchester", 53.48, -2.24),
        g("89.160.20.0/24", "SE", "Linköping", 58.41, 15.62),
        g("175.16.199.0/24", "CN", "Changchun", 43.88, 125.32),
        g("216.160.83.0/24", "US", "Milton", 47.25, -122.31),
    ]
}

pub(crate) struct Row {
    pub name: &'static str,
    pub detector: &'static str,
    pub geoip: bool,
    pub events: &'static str,
    pub expect: Expect,
}

pub(crate) fn none() -> Expect {
    Expect {
        alerts: Some(0),
        ..Default::default()
    }
}

pub(crate) fn rule(r: &str, s: Severity) -> Expect {
    Expect {
        rule: Some(r.into()),
        severity: Some(s),
        ..Default::default()
    }
}

/// The alerts `row`'s detector raises for its events.
fn alerts(row: &Row) -> Vec<kvwatch::alert::Alert> {
    let events: Events = toml::from_str(row.events).unwrap_or_else(|e| panic!("{}: {e}", row.name));
    let records = examples::records(&events.events).unwrap_or_else(|e| panic!("{}: {e}", row.name));
    let detector = registry::build_named(&Config::default().detectors, row.detector)
        .unwrap_or_else(|e| panic!("{e}"));
    let networks = if row.geoip { geo() } else { Vec::new() };
    let enricher = examples::enricher(&networks).expect("geo");
    examples::run(detector, &records, enricher).unwrap_or_else(|e| panic!("{}: {e}", row.name))
}

pub(crate) fn check(rows: Vec<Row>) {
    let mut failures = Vec::new();
    for row in rows {
        let alerts = alerts(&row);
        if let Err(e) = examples::verify(&row.expect, &alerts) {
            failures.push(format!("{} [{}]: {e}", row.name, row.detector));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

const ALICE: &str = r#"oid = "11111111-1111-4111-8111-111111111111"
upn = "alice@contoso.com""#;

#[test]
fn failed_auth_table() {
    let _ = ALICE;
    check(vec![
        Row {
            name: "challenge 401s from many addresses",
            detector: "failed_auth",
            geoip: false,
            expect: none(),
            events: r#"
            [[events]]
            at = "2024-05-06T09:00:00Z"
            repeat = 40
            op = "Authentication"
            status = 401
            ip = "81.2.69.{i}"
            "#,
        },
        Row {
            name: "five policy denials on five secrets stay under the minimum",
            detector: "failed_auth",
            geoip: false,
            expect: none(),
            events: r#"
            [[events]]
            at = "2024-05-06T09:00:00Z"
            repeat = 5
            every = "20s"
            op = "SecretGet"
            status = 403
            denied = "policy"
            oid = "11111111-1111-4111-8111-111111111111"
            upn = "alice@contoso.com"
            object = "secrets/s{i}"
            "#,
        },
        Row {
            name: "anonymous 401s on data-plane calls from one address",
            detector: "failed_auth",
            geoip: false,
            expect: rule("anonymous_failures", Severity::Medium),
            events: r#"
            [[events]]
            at = "2024-05-06T09:00:00Z"
            repeat = 12
            every = "5s"
            op = "SecretGet"
            status = 401
            ip = "81.2.69.9"
            object = "secrets/s{i}"
            "#,
        },
        Row {
            name: "three rejected tokens",
            detector: "failed_auth",
            geoip: false,
            expect: rule("token_rejected", Severity::Medium),
            events: r#"
            [[events]]
            at = "2024-05-06T09:00:00Z"
            repeat = 3
            every = "30s"
            op = "SecretGet"
            status = 401
            oid = "22222222-2222-4222-8222-222222222222"
            appid = "22222222-2222-4222-8222-222222222222"
            idtyp = "app"
            ip = "81.2.69.9"
            object = "secrets/s"
            "#,
        },
        Row {
            name: "one principal denied across three vaults",
            detector: "failed_auth",
            geoip: false,
            expect: Expect {
                vault: Some("*".into()),
                ..rule("denied_enumeration", Severity::High)
            },
            events: r#"
            [[events]]
            at = "2024-05-06T09:00:00Z"
            repeat = 9
            every = "20s"
            op = "SecretList"
            status = 403
            denied = "rbac"
            oid = "33333333-3333-4333-8333-333333333333"
            upn = "mallory@contoso.com"
            vault = "kv-{i}"
            ip = "81.2.69.9"
            "#,
        },
        Row {
            name: "a chronic misconfigured app keeps failing as it always did",
            detector: "failed_auth",
            geoip: false,
            expect: none(),
            events: r#"
            [[events]]
            at = "2024-05-01T00:00:00Z"
            days = 6
            repeat = 96
            every = "15m"
            op = "SecretGet"
            status = 403
            denied = "network"
            oid = "44444444-4444-4444-8444-444444444444"
            appid = "44444444-4444-4444-8444-444444444444"
            idtyp = "app"
            ip = "20.40.1.1"
            object = "secrets/conn-string"
            "#,
        },
        Row {
            name: "a principal that reaches its vault, blocked by the firewall from a new place",
            detector: "failed_auth",
            geoip: false,
            expect: rule("firewall_new_network", Severity::Medium),
            events: r#"
            [[events]]
            at = "2024-05-01T09:00:00Z"
            days = 5
            repeat = 20
            every = "20m"
            op = "SecretGet"
            oid = "55555555-5555-4555-8555-555555555555"
            appid = "55555555-5555-4555-8555-555555555555"
            idtyp = "app"
            ip = "20.40.1.1"
            object = "secrets/conn-string"
            [[events]]
            at = "2024-05-06T12:00:00Z"
            repeat = 3
            every = "1m"
            op = "SecretGet"
            status = 403
            denied = "network"
            oid = "55555555-5555-4555-8555-555555555555"
            appid = "55555555-5555-4555-8555-555555555555"
            idtyp = "app"
            ip = "81.2.69.77"
            object = "secrets/conn-string"
            "#,
        },
    ]);
}

/// London and Linköping (1 400 km) by turns every quarter of an hour on day 1
/// (`london_day1 + sweden_day1 - 1` hops), then one hop on day 2.
fn alternation(oid: &str, london_day1: u32, sweden_day1: u32) -> String {
    format!(
        r#"
            [[events]]
            at = "2024-05-01T09:00:00Z"
            repeat = {london_day1}
            every = "30m"
            op = "SecretGet"
            oid = "{oid}"
            upn = "vpn@contoso.com"
            ip = "81.2.69.160"
            object = "secrets/a"
            [[events]]
            at = "2024-05-01T09:15:00Z"
            repeat = {sweden_day1}
            every = "30m"
            op = "SecretGet"
            oid = "{oid}"
            upn = "vpn@contoso.com"
            ip = "89.160.20.112"
            object = "secrets/a"
            [[events]]
            at = "2024-05-02T09:00:00Z"
            op = "SecretGet"
            oid = "{oid}"
            upn = "vpn@contoso.com"
            ip = "81.2.69.160"
            object = "secrets/a"
            [[events]]
            at = "+15m"
            op = "SecretGet"
            oid = "{oid}"
            upn = "vpn@contoso.com"
            ip = "89.160.20.112"
            object = "secrets/a"
            "#
    )
}

/// Place pairs: a pair becomes usual with `learn_after_alternations` (6) hops on
/// `learn_after_days` (2) days; just under, the next day's hop is low.
#[test]
fn unusual_geo_place_pairs_table() {
    let under = alternation("44444444-1111-4111-8111-111111111111", 2, 1);
    let over = alternation("55555555-1111-4111-8111-111111111111", 4, 3);
    check(vec![
        Row {
            name: "two hops on day 1, a third on day 2: a known pair, not yet usual (low)",
            detector: "unusual_geo",
            geoip: true,
            expect: Expect {
                rule: Some("impossible_travel".into()),
                severity: Some(Severity::Low),
                alerts: Some(1),
                after: Some("2024-05-02T00:00:00Z".into()),
                ..Default::default()
            },
            events: Box::leak(under.into_boxed_str()),
        },
        Row {
            name: "six hops on day 1, a seventh on day 2: the pair is usual (quiet)",
            detector: "unusual_geo",
            geoip: true,
            expect: Expect {
                alerts: Some(0),
                after: Some("2024-05-02T00:00:00Z".into()),
                ..Default::default()
            },
            events: Box::leak(over.into_boxed_str()),
        },
    ]);
}

#[test]
fn unusual_geo_table() {
    check(vec![
        Row {
            name: "a new employee in the usual country",
            detector: "unusual_geo",
            geoip: true,
            expect: none(),
            events: r#"
            [[events]]
            at = "2024-05-01T09:00:00Z"
            days = 5
            repeat = 8
            every = "10m"
            op = "SecretGet"
            oid = "11111111-1111-4111-8111-11111111111{i}"
            upn = "user{i}@contoso.com"
            ip = "81.2.69.1{i}"
            object = "secrets/a"
            [[events]]
            at = "2024-05-06T09:00:00Z"
            op = "SecretGet"
            oid = "99999999-1111-4111-8111-111111111111"
            upn = "newbie@contoso.com"
            ip = "81.2.70.5"
            object = "secrets/a"
            "#,
        },
        Row {
            name: "a learned user travelling to a country many colleagues call from",
            detector: "unusual_geo",
            geoip: true,
            expect: none(),
            events: r#"
            [[events]]
            at = "2024-05-01T09:00:00Z"
            days = 5
            repeat = 8
            every = "10m"
            op = "SecretGet"
            oid = "11111111-1111-4111-8111-11111111111{i}"
            upn = "user{i}@contoso.com"
            ip = "81.2.69.1{i}"
            object = "secrets/a"
            [[events]]
            at = "2024-05-01T15:00:00Z"
            days = 5
            repeat = 4
            every = "10m"
            op = "SecretGet"
            oid = "22222222-1111-4111-8111-11111111111{i}"
            upn = "se{i}@contoso.com"
            ip = "89.160.20.{i}"
            object = "secrets/a"
            [[events]]
            at = "2024-05-06T12:00:00Z"
            op = "SecretGet"
            oid = "11111111-1111-4111-8111-111111111110"
            upn = "user0@contoso.com"
            ip = "89.160.20.200"
            object = "secrets/a"
            "#,
        },
        Row {
            name: "an unlocatable public address is never new geography",
            detector: "unusual_geo",
            geoip: true,
            expect: none(),
            events: r#"
            [[events]]
            at = "2024-05-01T09:00:00Z"
            days = 5
            op = "SecretGet"
            oid = "11111111-1111-4111-8111-111111111111"
            upn = "alice@contoso.com"
            ip = "81.2.69.160"
            object = "secrets/a"
            [[events]]
            at = "2024-05-06T09:00:00Z"
            op = "SecretGet"
            oid = "11111111-1111-4111-8111-111111111111"
            upn = "alice@contoso.com"
            ip = "1.128.0.1"
            object = "secrets/a"
            "#,
        },
        Row {
            name: "an app in two regions is not travelling",
            detector: "unusual_geo",
            geoip: true,
            expect: Expect {
                not_rule: Some("impossible_travel".into()),
                ..Default::default()
            },
            events: r#"
            [[events]]
            at = "2024-05-01T09:00:00Z"
            repeat = 10
            every = "5m"
            op = "SecretGet"
            oid = "33333333-1111-4111-8111-111111111111"
            appid = "33333333-1111-4111-8111-111111111111"
            idtyp = "app"
            ip = "81.2.69.{i}"
            object = "secrets/a"
            [[events]]
            at = "2024-05-01T09:01:00Z"
            repeat = 10
            every = "5m"
            op = "SecretGet"
            oid = "33333333-1111-4111-8111-111111111111"
            appid = "33333333-1111-4111-8111-111111111111"
            idtyp = "app"
            ip = "216.160.83.{i}"
            object = "secrets/a"
            "#,
        },
        arm_call_from_a_new_country(),
        Row {
            name: "without a database, a learned user on a network nobody used",
            detector: "unusual_geo",
            geoip: false,
            expect: rule("new_network", Severity::Low),
            events: r#"
            [[events]]
            at = "2024-05-01T09:00:00Z"
            days = 5
            op = "SecretGet"
            oid = "11111111-1111-4111-8111-111111111111"
            upn = "alice@contoso.com"
            ip = "81.2.69.160"
            object = "secrets/a"
            [[events]]
            at = "2024-05-06T09:00:00Z"
            op = "SecretGet"
            oid = "11111111-1111-4111-8111-111111111111"
            upn = "alice@contoso.com"
            ip = "175.16.199.3"
            object = "secrets/a"
            "#,
        },
    ]);
}

/// A learned user's role assignment at a subscription, made through Azure Resource
/// Manager from a country it never used: the Activity Log places it as AuditEvent
/// does (one principal, one baseline across both logs).
fn arm_call_from_a_new_country() -> Row {
    Row {
        name: "an Azure Resource Manager call (Activity Log) from a new country",
        detector: "unusual_geo",
        geoip: true,
        expect: Expect {
            rule: Some("new_country".into()),
            ..Default::default()
        },
        events: r#"
        [[events]]
        at = "2024-05-01T09:00:00Z"
        days = 5
        op = "SecretGet"
        oid = "11111111-1111-4111-8111-111111111111"
        upn = "alice@contoso.com"
        ip = "81.2.69.160"
        object = "secrets/a"
        [[events]]
        at = "2024-05-06T09:00:00Z"
        arm = "Microsoft.Authorization/roleAssignments/write"
        resource = "/subscriptions/11111111-0000-0000-0000-000000000001/providers/Microsoft.Authorization/roleAssignments/0f5a8c33-6a7e-4f0c-9a54-1c2b3d4e5f60"
        oid = "11111111-1111-4111-8111-111111111111"
        upn = "alice@contoso.com"
        ip = "175.16.199.3"
        grantee = "7e6f5d4c-3b2a-4190-8877-665544332211"
        role = "00482a5a-887f-4fb3-b363-3b7fe8e74483"
        "#,
    }
}

#[test]
fn unusual_geo_names_the_scope_an_activity_log_call_reached_not_an_empty_vault() {
    let got = alerts(&arm_call_from_a_new_country());
    let alert = got
        .iter()
        .find(|a| a.rule == "new_country")
        .unwrap_or_else(|| panic!("{got:#?}"));
    assert!(
        alert.summary.contains(
            "called subscription /subscriptions/11111111-0000-0000-0000-000000000001 through Azure Resource Manager (microsoft.authorization/roleassignments/write) from Changchun, CN"
        ),
        "{}",
        alert.summary
    );
    assert!(
        !alert.summary.contains("vault  (") && !alert.summary.contains("vault ''"),
        "{}",
        alert.summary
    );
}

#[test]
fn access_policy_change_table() {
    check(vec![
        Row {
            name: "a self-grant is high",
            detector: "access_policy_change",
            geoip: false,
            expect: rule("access_policy_added", Severity::High),
            events: r#"
            [[events]]
            at = "2024-05-06T10:00:00Z"
            op = "VaultPatch"
            oid = "33333333-3333-4333-8333-333333333333"
            upn = "eve@contoso.com"
            ip = "81.2.69.160"
            properties = { addedAccessPolicy = { ObjectId = "33333333-3333-4333-8333-333333333333", Permissions = { secrets = ["get"] } } }
            "#,
        },
        Row {
            name: "grant, read, remove within minutes",
            detector: "access_policy_change",
            geoip: false,
            expect: rule("grant_then_revoke", Severity::High),
            events: r#"
            [[events]]
            at = "2024-05-06T10:00:00Z"
            op = "VaultPatch"
            oid = "11111111-1111-4111-8111-111111111111"
            upn = "admin@contoso.com"
            properties = { addedAccessPolicy = { ObjectId = "22222222-2222-4222-8222-222222222222", Permissions = { secrets = ["get", "list"] } } }
            [[events]]
            at = "+2m"
            repeat = 5
            op = "SecretGet"
            oid = "22222222-2222-4222-8222-222222222222"
            appid = "22222222-2222-4222-8222-222222222222"
            idtyp = "app"
            object = "secrets/s{i}"
            [[events]]
            at = "+3m"
            op = "VaultPatch"
            oid = "11111111-1111-4111-8111-111111111111"
            upn = "admin@contoso.com"
            properties = { removedAccessPolicy = { ObjectId = "22222222-2222-4222-8222-222222222222", Permissions = { secrets = ["get", "list"] } } }
            "#,
        },
        Row {
            name: "purge protection off",
            detector: "access_policy_change",
            geoip: false,
            expect: rule("purge_protection_disabled", Severity::High),
            events: r#"
            [[events]]
            at = "2024-05-06T09:00:00Z"
            op = "VaultGet"
            appid = "509e4652-da8d-478d-a730-e9d4a1996ca4"
            properties = { properties = { enablePurgeProtection = true, enableSoftDelete = true } }
            [[events]]
            at = "+1h"
            op = "VaultPatch"
            oid = "11111111-1111-4111-8111-111111111111"
            upn = "admin@contoso.com"
            properties = { properties = { enableSoftDelete = true } }
            "#,
        },
        Row {
            name: "a VaultGet showing a weaker configuration than the last one",
            detector: "access_policy_change",
            geoip: false,
            expect: rule("weakened_config_observed", Severity::Low),
            events: r#"
            [[events]]
            at = "2024-05-06T09:00:00Z"
            op = "VaultGet"
            appid = "509e4652-da8d-478d-a730-e9d4a1996ca4"
            properties = { properties = { networkAcls = { defaultAction = "Deny" } } }
            [[events]]
            at = "+6h"
            op = "VaultGet"
            oid = "11111111-1111-4111-8111-111111111111"
            upn = "admin@contoso.com"
            properties = { properties = { networkAcls = { defaultAction = "Allow" } } }
            "#,
        },
        Row {
            name: "a denied VaultPatch changes nothing",
            detector: "access_policy_change",
            geoip: false,
            expect: none(),
            events: r#"
            [[events]]
            at = "2024-05-06T10:00:00Z"
            op = "VaultPatch"
            status = 403
            denied = "rbac"
            oid = "33333333-3333-4333-8333-333333333333"
            upn = "eve@contoso.com"
            properties = { addedAccessPolicy = { ObjectId = "33333333-3333-4333-8333-333333333333", Permissions = { secrets = ["get"] } } }
            "#,
        },
    ]);
}

#[test]
fn bulk_secret_retrieval_table() {
    check(vec![
        Row {
            name: "a user reading ten secrets",
            detector: "bulk_secret_retrieval",
            geoip: false,
            expect: none(),
            events: r#"
            [[events]]
            at = "2024-05-06T10:00:00Z"
            repeat = 10
            every = "20s"
            op = "SecretGet"
            oid = "11111111-1111-4111-8111-111111111111"
            upn = "alice@contoso.com"
            object = "secrets/s{i}"
            "#,
        },
        Row {
            name: "after learning, an app restarting at a new hour re-reads its twenty secrets",
            detector: "bulk_secret_retrieval",
            geoip: false,
            expect: Expect {
                after: Some("2024-05-05T00:00:00Z".into()),
                ..none()
            },
            events: r#"
            [[events]]
            at = "2024-05-01T00:00:00Z"
            days = 7
            repeat = 20
            every = "1s"
            op = "SecretGet"
            oid = "22222222-2222-4222-8222-222222222222"
            appid = "22222222-2222-4222-8222-222222222222"
            idtyp = "app"
            ip = "20.40.1.1"
            object = "secrets/s{i}"
            [[events]]
            at = "2024-05-01T07:00:00Z"
            days = 7
            repeat = 20
            every = "1s"
            op = "SecretGet"
            oid = "22222222-2222-4222-8222-222222222222"
            appid = "22222222-2222-4222-8222-222222222222"
            idtyp = "app"
            ip = "20.40.1.2"
            object = "secrets/s{i}"
            [[events]]
            at = "2024-05-01T13:00:00Z"
            days = 7
            repeat = 20
            every = "1s"
            op = "SecretGet"
            oid = "22222222-2222-4222-8222-222222222222"
            appid = "22222222-2222-4222-8222-222222222222"
            idtyp = "app"
            ip = "20.40.1.3"
            object = "secrets/s{i}"
            [[events]]
            at = "2024-05-01T19:00:00Z"
            days = 7
            repeat = 20
            every = "1s"
            op = "SecretGet"
            oid = "22222222-2222-4222-8222-222222222222"
            appid = "22222222-2222-4222-8222-222222222222"
            idtyp = "app"
            ip = "20.40.1.4"
            object = "secrets/s{i}"
            [[events]]
            at = "2024-05-08T10:30:00Z"
            repeat = 20
            every = "1s"
            op = "SecretGet"
            oid = "22222222-2222-4222-8222-222222222222"
            appid = "22222222-2222-4222-8222-222222222222"
            idtyp = "app"
            ip = "20.40.1.9"
            object = "secrets/s{i}"
            "#,
        },
        Row {
            name: "one secret every six minutes for five hours is low and slow",
            detector: "bulk_secret_retrieval",
            geoip: false,
            expect: rule("low_and_slow", Severity::Medium),
            events: r#"
            [[events]]
            at = "2024-05-06T10:00:00Z"
            repeat = 50
            every = "6m"
            op = "SecretGet"
            oid = "33333333-3333-4333-8333-333333333333"
            upn = "mallory@contoso.com"
            ip = "81.2.69.160"
            object = "secrets/s{i}"
            "#,
        },
        Row {
            name: "throttling raises a dump's severity",
            detector: "bulk_secret_retrieval",
            geoip: false,
            expect: rule("burst", Severity::High),
            events: r#"
            [[events]]
            at = "2024-05-06T10:00:00Z"
            repeat = 5
            op = "SecretGet"
            status = 429
            oid = "44444444-4444-4444-8444-444444444444"
            upn = "mallory@contoso.com"
            object = "secrets/s"
            [[events]]
            at = "+10s"
            repeat = 20
            every = "3s"
            op = "SecretGet"
            oid = "44444444-4444-4444-8444-444444444444"
            upn = "mallory@contoso.com"
            object = "secrets/s{i}"
            "#,
        },
        Row {
            name: "the backup job at its usual hour but from a public address",
            detector: "bulk_secret_retrieval",
            geoip: true,
            expect: rule("unusual_context", Severity::High),
            events: r#"
            [[events]]
            at = "2024-05-01T02:00:00Z"
            days = 6
            repeat = 60
            every = "5s"
            op = "SecretBackup"
            oid = "55555555-5555-4555-8555-555555555555"
            appid = "55555555-5555-4555-8555-555555555555"
            idtyp = "app"
            ip = "20.40.1.1"
            object = "secrets/s{i}"
            [[events]]
            at = "2024-05-01T08:00:00Z"
            days = 6
            repeat = 12
            every = "50m"
            op = "SecretGet"
            oid = "55555555-5555-4555-8555-555555555555"
            appid = "55555555-5555-4555-8555-555555555555"
            idtyp = "app"
            ip = "20.40.1.1"
            object = "secrets/backup-config"
            [[events]]
            at = "2024-05-07T02:00:00Z"
            repeat = 60
            every = "5s"
            op = "SecretBackup"
            oid = "55555555-5555-4555-8555-555555555555"
            appid = "55555555-5555-4555-8555-555555555555"
            idtyp = "app"
            ip = "175.16.199.20"
            object = "secrets/s{i}"
            "#,
        },
    ]);
}

/// Six days of a release pipeline running its three release definitions (20, 18 and
/// 16 secrets) at 09:00, 13:00 and 17:00 (for `concat!` with what follows).
macro_rules! release_pipeline_week {
    () => {
        r#"
            [[events]]
            at = "2024-05-01T09:00:00Z"
            days = 6
            repeat = 20
            every = "2s"
            op = "SecretGet"
            oid = "abababab-abab-4bab-8bab-abababababab"
            appid = "abababab-abab-4bab-8bab-abababababab"
            idtyp = "app"
            ip = "81.2.69.10"
            object = "secrets/web-{i}"
            [[events]]
            at = "2024-05-01T13:00:00Z"
            days = 6
            repeat = 18
            every = "2s"
            op = "SecretGet"
            oid = "abababab-abab-4bab-8bab-abababababab"
            appid = "abababab-abab-4bab-8bab-abababababab"
            idtyp = "app"
            ip = "81.2.69.10"
            object = "secrets/api-{i}"
            [[events]]
            at = "2024-05-01T17:00:00Z"
            days = 6
            repeat = 16
            every = "2s"
            op = "SecretGet"
            oid = "abababab-abab-4bab-8bab-abababababab"
            appid = "abababab-abab-4bab-8bab-abababababab"
            idtyp = "app"
            ip = "81.2.69.10"
            object = "secrets/job-{i}"
"#
    };
}

#[test]
fn bulk_secret_retrieval_runs_table() {
    let quiet = || after("2024-05-07T00:00:00Z", none());
    let rule = |r: &str| {
        after(
            "2024-05-07T00:00:00Z",
            Expect {
                rule: Some(r.into()),
                ..Default::default()
            },
        )
    };
    check(vec![
        Row {
            name: "its three definitions back to back (54 secrets, runs of 16 to 20)",
            detector: "bulk_secret_retrieval",
            geoip: true,
            expect: quiet(),
            events: concat!(
                release_pipeline_week!(),
                r#"
            [[events]]
            at = "2024-05-07T10:00:00Z"
            repeat = 20
            every = "2s"
            op = "SecretGet"
            oid = "abababab-abab-4bab-8bab-abababababab"
            appid = "abababab-abab-4bab-8bab-abababababab"
            idtyp = "app"
            ip = "81.2.69.10"
            object = "secrets/web-{i}"
            [[events]]
            at = "2024-05-07T10:01:00Z"
            repeat = 18
            every = "2s"
            op = "SecretGet"
            oid = "abababab-abab-4bab-8bab-abababababab"
            appid = "abababab-abab-4bab-8bab-abababababab"
            idtyp = "app"
            ip = "81.2.69.10"
            object = "secrets/api-{i}"
            [[events]]
            at = "2024-05-07T10:02:00Z"
            repeat = 16
            every = "2s"
            op = "SecretGet"
            oid = "abababab-abab-4bab-8bab-abababababab"
            appid = "abababab-abab-4bab-8bab-abababababab"
            idtyp = "app"
            ip = "81.2.69.10"
            object = "secrets/job-{i}"
            "#
            ),
        },
        Row {
            name: "two definitions back to back and three secrets no run read",
            detector: "bulk_secret_retrieval",
            geoip: true,
            expect: quiet(),
            events: concat!(
                release_pipeline_week!(),
                r#"
            [[events]]
            at = "2024-05-07T10:00:00Z"
            repeat = 20
            every = "2s"
            op = "SecretGet"
            oid = "abababab-abab-4bab-8bab-abababababab"
            appid = "abababab-abab-4bab-8bab-abababababab"
            idtyp = "app"
            ip = "81.2.69.10"
            object = "secrets/web-{i}"
            [[events]]
            at = "2024-05-07T10:01:00Z"
            repeat = 18
            every = "2s"
            op = "SecretGet"
            oid = "abababab-abab-4bab-8bab-abababababab"
            appid = "abababab-abab-4bab-8bab-abababababab"
            idtyp = "app"
            ip = "81.2.69.10"
            object = "secrets/api-{i}"
            [[events]]
            at = "2024-05-07T10:02:00Z"
            repeat = 3
            every = "2s"
            op = "SecretGet"
            oid = "abababab-abab-4bab-8bab-abababababab"
            appid = "abababab-abab-4bab-8bab-abababababab"
            idtyp = "app"
            ip = "81.2.69.10"
            object = "secrets/stray-{i}"
            "#
            ),
        },
        Row {
            name: "two definitions back to back and ten secrets no run read",
            detector: "bulk_secret_retrieval",
            geoip: true,
            expect: rule("burst"),
            events: concat!(
                release_pipeline_week!(),
                r#"
            [[events]]
            at = "2024-05-07T10:00:00Z"
            repeat = 20
            every = "2s"
            op = "SecretGet"
            oid = "abababab-abab-4bab-8bab-abababababab"
            appid = "abababab-abab-4bab-8bab-abababababab"
            idtyp = "app"
            ip = "81.2.69.10"
            object = "secrets/web-{i}"
            [[events]]
            at = "2024-05-07T10:01:00Z"
            repeat = 18
            every = "2s"
            op = "SecretGet"
            oid = "abababab-abab-4bab-8bab-abababababab"
            appid = "abababab-abab-4bab-8bab-abababababab"
            idtyp = "app"
            ip = "81.2.69.10"
            object = "secrets/api-{i}"
            [[events]]
            at = "2024-05-07T10:02:00Z"
            repeat = 10
            every = "2s"
            op = "SecretGet"
            oid = "abababab-abab-4bab-8bab-abababababab"
            appid = "abababab-abab-4bab-8bab-abababababab"
            idtyp = "app"
            ip = "81.2.69.10"
            object = "secrets/stray-{i}"
            "#
            ),
        },
        Row {
            name: "its definitions back to back from a country it never used",
            detector: "bulk_secret_retrieval",
            geoip: true,
            expect: rule("burst"),
            events: concat!(
                release_pipeline_week!(),
                r#"
            [[events]]
            at = "2024-05-07T10:00:00Z"
            repeat = 20
            every = "2s"
            op = "SecretGet"
            oid = "abababab-abab-4bab-8bab-abababababab"
            appid = "abababab-abab-4bab-8bab-abababababab"
            idtyp = "app"
            ip = "89.160.20.5"
            object = "secrets/web-{i}"
            [[events]]
            at = "2024-05-07T10:01:00Z"
            repeat = 18
            every = "2s"
            op = "SecretGet"
            oid = "abababab-abab-4bab-8bab-abababababab"
            appid = "abababab-abab-4bab-8bab-abababababab"
            idtyp = "app"
            ip = "89.160.20.5"
            object = "secrets/api-{i}"
            "#
            ),
        },
        Row {
            name: "one definition and six secrets no run read, below its largest window",
            detector: "bulk_secret_retrieval",
            geoip: true,
            expect: rule("unfamiliar_objects"),
            events: concat!(
                release_pipeline_week!(),
                r#"
            [[events]]
            at = "2024-05-07T10:00:00Z"
            repeat = 20
            every = "2s"
            op = "SecretGet"
            oid = "abababab-abab-4bab-8bab-abababababab"
            appid = "abababab-abab-4bab-8bab-abababababab"
            idtyp = "app"
            ip = "81.2.69.10"
            object = "secrets/web-{i}"
            [[events]]
            at = "2024-05-07T10:01:00Z"
            repeat = 6
            every = "2s"
            op = "SecretGet"
            oid = "abababab-abab-4bab-8bab-abababababab"
            appid = "abababab-abab-4bab-8bab-abababababab"
            idtyp = "app"
            ip = "81.2.69.10"
            object = "secrets/stray-{i}"
            "#
            ),
        },
        Row {
            name: "one definition and four secrets no run read",
            detector: "bulk_secret_retrieval",
            geoip: true,
            expect: quiet(),
            events: concat!(
                release_pipeline_week!(),
                r#"
            [[events]]
            at = "2024-05-07T10:00:00Z"
            repeat = 20
            every = "2s"
            op = "SecretGet"
            oid = "abababab-abab-4bab-8bab-abababababab"
            appid = "abababab-abab-4bab-8bab-abababababab"
            idtyp = "app"
            ip = "81.2.69.10"
            object = "secrets/web-{i}"
            [[events]]
            at = "2024-05-07T10:01:00Z"
            repeat = 4
            every = "2s"
            op = "SecretGet"
            oid = "abababab-abab-4bab-8bab-abababababab"
            appid = "abababab-abab-4bab-8bab-abababababab"
            idtyp = "app"
            ip = "81.2.69.10"
            object = "secrets/stray-{i}"
            "#
            ),
        },
    ]);
}

/// Fourteen nights of a certificate-rotation pipeline deleting and purging six old
/// certificates (for `concat!` with what follows).
macro_rules! rotation_pipeline_fortnight {
    () => {
        r#"
        [[events]]
        at = "2024-05-01T02:00:00Z"
        days = 14
        repeat = 6
        every = "30s"
        op = "CertificateDelete"
        oid = "22222222-2222-4222-8222-222222222222"
        appid = "22222222-2222-4222-8222-222222222222"
        idtyp = "app"
        ip = "20.40.1.1"
        object = "certificates/tls-{d}-{i}"
        [[events]]
        at = "2024-05-01T02:05:00Z"
        days = 14
        repeat = 6
        every = "30s"
        op = "CertificatePurge"
        oid = "22222222-2222-4222-8222-222222222222"
        appid = "22222222-2222-4222-8222-222222222222"
        idtyp = "app"
        ip = "20.40.1.1"
        object = "deletedcertificates/tls-{d}-{i}"
        "#
    };
}

#[test]
fn destructive_operations_table() {
    let after_fortnight = |expect: Expect| Expect {
        after: Some("2024-05-15T00:00:00Z".into()),
        ..expect
    };
    check(vec![
        Row {
            name: "seven deletions stay under the minimum",
            detector: "destructive_operations",
            geoip: false,
            expect: none(),
            events: r#"
            [[events]]
            at = "2024-05-06T22:00:00Z"
            repeat = 7
            every = "20s"
            op = "SecretDelete"
            oid = "11111111-1111-4111-8111-111111111111"
            upn = "mallory@contoso.com"
            object = "secrets/s{i}"
            "#,
        },
        Row {
            name: "eight deletions by a new user reach it",
            detector: "destructive_operations",
            geoip: false,
            expect: rule("bulk_delete", Severity::High),
            events: r#"
            [[events]]
            at = "2024-05-06T22:00:00Z"
            repeat = 8
            every = "20s"
            op = "SecretDelete"
            oid = "11111111-1111-4111-8111-111111111111"
            upn = "mallory@contoso.com"
            object = "secrets/s{i}"
            "#,
        },
        Row {
            name: "deleting one secret eight times is one object",
            detector: "destructive_operations",
            geoip: false,
            expect: none(),
            events: r#"
            [[events]]
            at = "2024-05-06T22:00:00Z"
            repeat = 8
            every = "20s"
            op = "SecretDelete"
            oid = "11111111-1111-4111-8111-111111111111"
            upn = "mallory@contoso.com"
            object = "secrets/the-same"
            "#,
        },
        Row {
            name: "five deletions on each of two vaults are two small episodes",
            detector: "destructive_operations",
            geoip: false,
            expect: none(),
            events: r#"
            [[events]]
            at = "2024-05-06T22:00:00Z"
            repeat = 5
            every = "20s"
            op = "KeyDelete"
            oid = "11111111-1111-4111-8111-111111111111"
            upn = "mallory@contoso.com"
            vault = "kv-a"
            object = "keys/k{i}"
            [[events]]
            at = "+1m"
            repeat = 5
            every = "20s"
            op = "KeyDelete"
            oid = "11111111-1111-4111-8111-111111111111"
            upn = "mallory@contoso.com"
            vault = "kv-b"
            object = "keys/k{i}"
            "#,
        },
        Row {
            name: "purging what was deleted makes the incident critical",
            detector: "destructive_operations",
            geoip: false,
            expect: rule("bulk_delete", Severity::Critical),
            events: r#"
            [[events]]
            at = "2024-05-06T22:00:00Z"
            repeat = 10
            every = "20s"
            op = "KeyDelete"
            oid = "11111111-1111-4111-8111-111111111111"
            upn = "mallory@contoso.com"
            object = "keys/k{i}"
            [[events]]
            at = "+1m"
            repeat = 10
            every = "20s"
            op = "KeyPurge"
            oid = "11111111-1111-4111-8111-111111111111"
            upn = "mallory@contoso.com"
            object = "deletedkeys/k{i}"
            "#,
        },
        Row {
            name: "twenty denied deletions are failed_auth's",
            detector: "destructive_operations",
            geoip: false,
            expect: none(),
            events: r#"
            [[events]]
            at = "2024-05-06T22:00:00Z"
            repeat = 20
            every = "10s"
            op = "SecretDelete"
            status = 403
            denied = "policy"
            oid = "11111111-1111-4111-8111-111111111111"
            upn = "mallory@contoso.com"
            object = "secrets/s{i}"
            "#,
        },
        Row {
            name: "the rotation pipeline's nights and a twelve-certificate cleanup are quiet",
            detector: "destructive_operations",
            geoip: false,
            expect: none(),
            events: concat!(
                rotation_pipeline_fortnight!(),
                r#"
                [[events]]
                at = "2024-05-15T02:00:00Z"
                repeat = 12
                every = "30s"
                op = "CertificateDelete"
                oid = "22222222-2222-4222-8222-222222222222"
                appid = "22222222-2222-4222-8222-222222222222"
                idtyp = "app"
                ip = "20.40.1.1"
                object = "certificates/legacy-{i}"
                "#
            ),
        },
        Row {
            name: "the rotation pipeline deleting forty certificates is beyond its own history",
            detector: "destructive_operations",
            geoip: false,
            expect: after_fortnight(rule("bulk_delete", Severity::High)),
            events: concat!(
                rotation_pipeline_fortnight!(),
                r#"
                [[events]]
                at = "2024-05-15T02:00:00Z"
                repeat = 40
                every = "15s"
                op = "CertificateDelete"
                oid = "22222222-2222-4222-8222-222222222222"
                appid = "22222222-2222-4222-8222-222222222222"
                idtyp = "app"
                ip = "20.40.1.1"
                object = "certificates/legacy-{i}"
                "#
            ),
        },
        Row {
            name: "an admin who never purged purging one object is not yet first_purge",
            detector: "destructive_operations",
            geoip: false,
            expect: after_fortnight(none()),
            events: r#"
            [[events]]
            at = "2024-05-01T09:00:00Z"
            days = 14
            repeat = 4
            every = "10m"
            op = "SecretGet"
            oid = "44444444-4444-4444-8444-444444444444"
            upn = "admin@contoso.com"
            object = "secrets/config-{i}"
            [[events]]
            at = "2024-05-15T10:00:00Z"
            op = "SecretPurge"
            oid = "44444444-4444-4444-8444-444444444444"
            upn = "admin@contoso.com"
            object = "deletedsecrets/old"
            "#,
        },
        Row {
            name: "the rotation pipeline purging is never first_purge",
            detector: "destructive_operations",
            geoip: false,
            expect: Expect {
                not_rule: Some("first_purge".into()),
                ..Default::default()
            },
            events: rotation_pipeline_fortnight!(),
        },
        Row {
            name: "a vault purged by a new principal",
            detector: "destructive_operations",
            geoip: false,
            expect: Expect {
                vault: Some("kv-old".into()),
                ..rule("vault_delete", Severity::Critical)
            },
            events: r#"
            [[events]]
            at = "2024-05-06T23:00:00Z"
            op = "VaultPurge"
            oid = "55555555-5555-4555-8555-555555555555"
            upn = "mallory@contoso.com"
            vault = "kv-old"
            "#,
        },
        Row {
            name: "a user with a week of reads deleting a vault for the first time",
            detector: "destructive_operations",
            geoip: false,
            expect: after_fortnight(rule("vault_delete", Severity::Critical)),
            events: r#"
            [[events]]
            at = "2024-05-01T09:00:00Z"
            days = 14
            repeat = 4
            every = "10m"
            op = "SecretGet"
            oid = "44444444-4444-4444-8444-444444444444"
            upn = "admin@contoso.com"
            object = "secrets/config-{i}"
            [[events]]
            at = "2024-05-15T10:00:00Z"
            op = "VaultDelete"
            oid = "44444444-4444-4444-8444-444444444444"
            upn = "admin@contoso.com"
            vault = "kv-prod"
            "#,
        },
    ]);
}

/// A role assignment written on `scope` (`{scope}` placeholders filled by the rows).
fn grant(at: &str, caller: &str, grantee: &str, role: &str, scope: &str, extra: &str) -> String {
    format!(
        r#"
        [[events]]
        at = "{at}"
        arm = "Microsoft.Authorization/roleAssignments/write"
        resource = "{scope}/providers/Microsoft.Authorization/roleAssignments/{grantee}"
        oid = "{caller}"
        upn = "granter@contoso.com"
        ip = "81.2.69.160"
        grantee = "{grantee}"
        role = "{role}"
        {extra}
        "#
    )
}

/// `n` days of one vault write a day at 09:30 by `caller`, from 2024-05-01: the hours
/// it makes its changes in.
fn workday(caller: &str, n: u32) -> String {
    format!(
        r#"
        [[events]]
        at = "2024-05-01T09:30:00Z"
        days = {n}
        arm = "Microsoft.KeyVault/vaults/write"
        resource = "/subscriptions/11111111-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-example"
        oid = "{caller}"
        upn = "granter@contoso.com"
        ip = "81.2.69.160"
        "#
    )
}

/// `expect`, counting only the alerts at or after `at`.
fn after(at: &str, expect: Expect) -> Expect {
    Expect {
        after: Some(at.to_owned()),
        ..expect
    }
}

/// A successful secret read by `oid` on `vault`.
fn read(at: &str, oid: &str, vault: &str) -> String {
    format!(
        r#"
        [[events]]
        at = "{at}"
        op = "SecretGet"
        oid = "{oid}"
        upn = "reader@contoso.com"
        ip = "81.2.69.160"
        vault = "{vault}"
        object = "secrets/db"
        "#
    )
}

#[test]
fn control_plane_table() {
    const SUB: &str = "/subscriptions/11111111-0000-0000-0000-000000000001";
    const VAULT: &str = "/subscriptions/11111111-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-example";
    const OTHER: &str = "/subscriptions/11111111-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-other";
    const ADMIN: &str = "5d2e4c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6";
    const BOB: &str = "22222222-2222-4222-8222-222222222222";
    const CAROL: &str = "33333333-3333-4333-8333-333333333333";
    const DAVE: &str = "44444444-4444-4444-8444-444444444444";
    const SECRETS_USER: &str = "4633458b-17de-408a-b874-0445c86b69e6";
    const KV_READER: &str = "21090545-7ca7-4776-b22c-e363652d74d2";
    const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
    const CUSTOM: &str = "0badc0de-0000-4000-8000-000000000001";
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let not = |r: &str| Expect {
        not_rule: Some(r.into()),
        ..Default::default()
    };
    let seen = read("2024-05-05T10:00:00Z", BOB, "kv-example");
    check(vec![
        Row {
            name: "Key Vault Reader reads no data: info",
            detector: "control_plane",
            geoip: false,
            expect: rule("role_grant", Severity::Info),
            events: leak(grant(
                "2024-05-06T10:00:00Z",
                ADMIN,
                BOB,
                KV_READER,
                VAULT,
                "",
            )),
        },
        Row {
            name: "Secrets User on one vault to a principal already seen: medium",
            detector: "control_plane",
            geoip: false,
            expect: rule("role_grant", Severity::Medium),
            events: leak(
                seen.clone() + &grant("2024-05-06T10:00:00Z", ADMIN, BOB, SECRETS_USER, VAULT, ""),
            ),
        },
        Row {
            name: "the same grant to a principal never seen: high",
            detector: "control_plane",
            geoip: false,
            expect: rule("role_grant", Severity::High),
            events: leak(grant(
                "2024-05-06T10:00:00Z",
                ADMIN,
                BOB,
                SECRETS_USER,
                VAULT,
                "",
            )),
        },
        Row {
            name: "a granter's third grant of a non-privileged role on one vault is routine: low",
            detector: "control_plane",
            geoip: false,
            expect: rule("role_grant", Severity::Low),
            events: leak(
                grant(
                    "2024-05-01T10:00:00Z",
                    ADMIN,
                    CAROL,
                    SECRETS_USER,
                    VAULT,
                    "",
                ) + &grant("2024-05-03T10:00:00Z", ADMIN, DAVE, SECRETS_USER, VAULT, "")
                    + &seen
                    + &grant("2024-05-06T10:00:00Z", ADMIN, BOB, SECRETS_USER, VAULT, ""),
            ),
        },
        Row {
            name: "Owner on a subscription (privileged, broad) to a seen principal: critical",
            detector: "control_plane",
            geoip: false,
            expect: rule("role_grant", Severity::Critical),
            events: leak(seen.clone() + &grant("2024-05-06T10:00:00Z", ADMIN, BOB, OWNER, SUB, "")),
        },
        Row {
            name: "a custom role kvwatch does not know is treated as reading data",
            detector: "control_plane",
            geoip: false,
            expect: rule("role_grant", Severity::Medium),
            events: leak(
                seen.clone() + &grant("2024-05-06T10:00:00Z", ADMIN, BOB, CUSTOM, VAULT, ""),
            ),
        },
        Row {
            name: "a role assignment on a storage account reaches no vault: quiet",
            detector: "control_plane",
            geoip: false,
            expect: none(),
            events: leak(grant(
                "2024-05-06T10:00:00Z",
                ADMIN,
                BOB,
                OWNER,
                &format!("{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1"),
                "",
            )),
        },
        Row {
            name: "a grant then a read of the same vault within the window: grant_then_read",
            detector: "control_plane",
            geoip: false,
            expect: rule("grant_then_read", Severity::Critical),
            events: leak(
                grant("2024-05-06T10:00:00Z", ADMIN, BOB, SECRETS_USER, VAULT, "")
                    + &read("2024-05-06T15:59:00Z", BOB, "kv-example"),
            ),
        },
        Row {
            name: "the read comes after the 6 h window: no chain",
            detector: "control_plane",
            geoip: false,
            expect: not("grant_then_read"),
            events: leak(
                grant("2024-05-06T10:00:00Z", ADMIN, BOB, SECRETS_USER, VAULT, "")
                    + &read("2024-05-06T16:01:00Z", BOB, "kv-example"),
            ),
        },
        Row {
            name: "the read is on a vault the grant does not reach: no chain",
            detector: "control_plane",
            geoip: false,
            expect: not("grant_then_read"),
            events: leak(
                grant("2024-05-06T10:00:00Z", ADMIN, BOB, SECRETS_USER, OTHER, "")
                    + &read("2024-05-06T10:05:00Z", BOB, "kv-example"),
            ),
        },
        Row {
            name: "a routine (low) grant is not followed: no chain",
            detector: "control_plane",
            geoip: false,
            expect: not("grant_then_read"),
            events: leak(
                grant(
                    "2024-05-01T10:00:00Z",
                    ADMIN,
                    CAROL,
                    SECRETS_USER,
                    VAULT,
                    "",
                ) + &grant("2024-05-03T10:00:00Z", ADMIN, DAVE, SECRETS_USER, VAULT, "")
                    + &seen
                    + &grant("2024-05-06T10:00:00Z", ADMIN, BOB, SECRETS_USER, VAULT, "")
                    + &read("2024-05-06T10:05:00Z", BOB, "kv-example"),
            ),
        },
        Row {
            name: "a refused role assignment (AuthorizationFailed) changes nothing here",
            detector: "control_plane",
            geoip: false,
            expect: none(),
            events: leak(grant(
                "2024-05-06T10:00:00Z",
                ADMIN,
                BOB,
                OWNER,
                SUB,
                "result = \"Failed.Forbidden\"\nerror = \"AuthorizationFailed\"",
            )),
        },
        Row {
            name: "the subscription's Activity Log export deleted: monitoring_disabled",
            detector: "control_plane",
            geoip: false,
            expect: rule("monitoring_disabled", Severity::Critical),
            events: leak(format!(
                r#"
                [[events]]
                at = "2024-05-06T10:00:00Z"
                arm = "Microsoft.Insights/diagnosticSettings/delete"
                resource = "{SUB}/providers/Microsoft.Insights/diagnosticSettings/activity-to-eventhub"
                result = "Succeeded.OK"
                oid = "{ADMIN}"
                "#
            )),
        },
        Row {
            name: "a grant at 03:00 by a granter whose twelve earlier changes were all at 09:30: raised, outside its usual hours",
            detector: "control_plane",
            geoip: false,
            expect: after("2024-05-13T00:00:00Z", rule("role_grant", Severity::High)),
            events: leak(
                workday(ADMIN, 12)
                    + &seen
                    + &grant("2024-05-13T03:00:00Z", ADMIN, BOB, SECRETS_USER, VAULT, ""),
            ),
        },
        Row {
            name: "the same grant at 10:00: within its usual hours, medium",
            detector: "control_plane",
            geoip: false,
            expect: after("2024-05-13T00:00:00Z", rule("role_grant", Severity::Medium)),
            events: leak(
                workday(ADMIN, 12)
                    + &seen
                    + &grant("2024-05-13T10:00:00Z", ADMIN, BOB, SECRETS_USER, VAULT, ""),
            ),
        },
        Row {
            name: "a granter with five changes so far has no usual hours yet: a 03:00 grant stays medium",
            detector: "control_plane",
            geoip: false,
            expect: after("2024-05-13T00:00:00Z", rule("role_grant", Severity::Medium)),
            events: leak(
                workday(ADMIN, 5)
                    + &seen
                    + &grant("2024-05-13T03:00:00Z", ADMIN, BOB, SECRETS_USER, VAULT, ""),
            ),
        },
        Row {
            name: "a routine granter (grants every morning) granting at 03:00 is not routine and is raised: high, not low",
            detector: "control_plane",
            geoip: false,
            expect: after("2024-05-13T00:00:00Z", rule("role_grant", Severity::High)),
            events: leak(
                workday(ADMIN, 12)
                    + &grant("2024-05-11T09:40:00Z", ADMIN, CAROL, SECRETS_USER, VAULT, "")
                    + &grant("2024-05-12T09:40:00Z", ADMIN, DAVE, SECRETS_USER, OTHER, "")
                    + &seen
                    + &grant("2024-05-13T03:00:00Z", ADMIN, BOB, SECRETS_USER, VAULT, ""),
            ),
        },
        Row {
            name: "...and the same routine granter at 09:50: low",
            detector: "control_plane",
            geoip: false,
            expect: after("2024-05-13T00:00:00Z", rule("role_grant", Severity::Low)),
            events: leak(
                workday(ADMIN, 12)
                    + &grant("2024-05-11T09:40:00Z", ADMIN, CAROL, SECRETS_USER, VAULT, "")
                    + &grant("2024-05-12T09:40:00Z", ADMIN, DAVE, SECRETS_USER, OTHER, "")
                    + &seen
                    + &grant("2024-05-13T09:50:00Z", ADMIN, BOB, SECRETS_USER, VAULT, ""),
            ),
        },
    ]);
}

#[test]
fn denied_role_assignments_count_as_failed_authentication() {
    // Eight refused attempts to assign roles on five vaults: failed_auth's
    // enumeration of denials, like eight 403s on the data plane.
    let attempts: String = (0..8)
        .map(|i| {
            format!(
                r#"
                [[events]]
                at = "2024-05-06T10:0{i}:00Z"
                arm = "Microsoft.Authorization/roleAssignments/write"
                resource = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-{v}/providers/Microsoft.Authorization/roleAssignments/a{i}"
                result = "Failed.Forbidden"
                error = "AuthorizationFailed"
                oid = "22222222-2222-4222-8222-222222222222"
                upn = "mallory@contoso.com"
                ip = "81.2.69.160"
                "#,
                v = i % 5
            )
        })
        .collect();
    check(vec![Row {
        name: "denied role assignments on five vaults",
        detector: "failed_auth",
        geoip: false,
        expect: rule("denied_enumeration", Severity::High),
        events: Box::leak(attempts.into_boxed_str()),
    }]);
}
