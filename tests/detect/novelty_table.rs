//! `bulk_secret_retrieval`'s day of novelty (`daily_novelty`, the slow thief) and its
//! judgement of new principals by the share of a vault's known inventory, as a table
//! of inline records (the compact form of the detector files) and the result.

use kvwatch::alert::Severity;
use kvwatch::detect::examples::Expect;

use super::detector_table::{check, none, rule, Row};

const BULK: &str = "bulk_secret_retrieval";

/// Five days of a workload reading one secret every hour (its handful), from
/// 2024-05-01, then (`concat!`) what follows.
macro_rules! one_secret_workload {
    ($rest:expr) => {
        concat!(
            r#"
            [[events]]
            at = "2024-05-01T00:10:00Z"
            days = 6
            repeat = 24
            every = "1h"
            op = "SecretGet"
            object = "secrets/app-key"
            oid = "55555555-5555-4555-8555-555555555555"
            appid = "55555555-5555-4555-8555-555555555555"
            idtyp = "app"
            ip = "20.40.1.1"
            "#,
            $rest
        )
    };
}

/// Three days of another application reading 50 secrets of `kv-example` (its known
/// inventory), spread over each day, then (`concat!`) what follows.
macro_rules! known_inventory {
    ($rest:expr) => {
        concat!(
            r#"
            [[events]]
            at = "2024-05-01T00:05:00Z"
            days = 3
            repeat = 50
            every = "29m"
            op = "SecretGet"
            oid = "77777777-7777-4777-8777-777777777777"
            appid = "77777777-7777-4777-8777-777777777777"
            idtyp = "app"
            ip = "20.40.1.1"
            object = "secrets/s-{i}"
            "#,
            $rest
        )
    };
}

fn after(at: &str, e: Expect) -> Expect {
    Expect {
        after: Some(at.into()),
        ..e
    }
}

#[test]
fn daily_novelty_table() {
    check(vec![
        Row {
            name: "two new secrets an hour for twenty hours across two vaults, one new to it",
            detector: BULK,
            geoip: false,
            // Medium and one step for the new vault; the vaults know too few objects
            // (under 20) for their share to count.
            expect: after(
                "2024-05-06T00:00:00Z",
                rule("daily_novelty", Severity::High),
            ),
            events: one_secret_workload!(
                r#"
            [[events]]
            at = "2024-05-06T01:00:00Z"
            repeat = 20
            every = "1h"
            op = "SecretGet"
            oid = "55555555-5555-4555-8555-555555555555"
            appid = "55555555-5555-4555-8555-555555555555"
            idtyp = "app"
            ip = "20.40.1.1"
            object = "secrets/payments-{i}"
            [[events]]
            at = "2024-05-06T01:30:00Z"
            repeat = 20
            every = "1h"
            op = "SecretGet"
            oid = "55555555-5555-4555-8555-555555555555"
            appid = "55555555-5555-4555-8555-555555555555"
            idtyp = "app"
            ip = "20.40.1.1"
            vault = "kv-payments"
            object = "secrets/card-{i}"
            "#
            ),
        },
        Row {
            name: "twelve new secrets in its own vault over twelve hours (the floor)",
            detector: BULK,
            geoip: false,
            expect: after(
                "2024-05-06T00:00:00Z",
                rule("daily_novelty", Severity::Medium),
            ),
            events: one_secret_workload!(
                r#"
            [[events]]
            at = "2024-05-06T01:00:00Z"
            repeat = 12
            every = "1h"
            op = "SecretGet"
            oid = "55555555-5555-4555-8555-555555555555"
            appid = "55555555-5555-4555-8555-555555555555"
            idtyp = "app"
            ip = "20.40.1.1"
            object = "secrets/other-{i}"
            "#
            ),
        },
        Row {
            name: "eleven new secrets in a day (under the floor)",
            detector: BULK,
            geoip: false,
            expect: none(),
            events: one_secret_workload!(
                r#"
            [[events]]
            at = "2024-05-06T01:00:00Z"
            repeat = 11
            every = "1h"
            op = "SecretGet"
            oid = "55555555-5555-4555-8555-555555555555"
            appid = "55555555-5555-4555-8555-555555555555"
            idtyp = "app"
            ip = "20.40.1.1"
            object = "secrets/other-{i}"
            "#
            ),
        },
        Row {
            name: "a principal still learning meeting thirty new secrets over a day",
            detector: BULK,
            geoip: false,
            expect: Expect {
                not_rule: Some("daily_novelty".into()),
                ..Default::default()
            },
            events: r#"
            [[events]]
            at = "2024-05-01T09:00:00Z"
            days = 2
            repeat = 30
            every = "20m"
            op = "SecretGet"
            oid = "66666666-6666-4666-8666-666666666666"
            upn = "new.hire@contoso.example"
            ip = "81.2.69.160"
            object = "secrets/day{d}-{i}"
            "#,
        },
        Row {
            name: "a new employee meeting ten new secrets every working day for a week",
            detector: BULK,
            geoip: false,
            expect: none(),
            events: r#"
            [[events]]
            at = "2024-05-01T09:00:00Z"
            days = 7
            repeat = 10
            every = "40m"
            op = "SecretGet"
            oid = "66666666-6666-4666-8666-666666666666"
            upn = "new.hire@contoso.example"
            ip = "81.2.69.160"
            object = "secrets/day{d}-{i}"
            "#,
        },
        Row {
            name: "a nightly backup of sixty objects in two vaults, after its first night",
            detector: BULK,
            geoip: false,
            expect: after("2024-05-04T00:00:00Z", none()),
            events: r#"
            [[events]]
            at = "2024-05-01T02:00:00Z"
            days = 7
            repeat = 30
            every = "5s"
            op = "SecretBackup"
            oid = "33333333-3333-4333-8333-333333333333"
            appid = "33333333-3333-4333-8333-333333333333"
            idtyp = "app"
            ip = "20.40.1.1"
            object = "secrets/a-{i}"
            [[events]]
            at = "2024-05-01T02:05:00Z"
            days = 7
            repeat = 30
            every = "5s"
            op = "SecretBackup"
            oid = "33333333-3333-4333-8333-333333333333"
            appid = "33333333-3333-4333-8333-333333333333"
            idtyp = "app"
            ip = "20.40.1.1"
            vault = "kv-other"
            object = "secrets/b-{i}"
            "#,
        },
    ]);
}

#[test]
fn new_principal_share_of_inventory_table() {
    check(vec![
        Row {
            name: "an application first seen reading its 15 of the vault's 50 known secrets",
            detector: BULK,
            geoip: false,
            expect: none(),
            events: known_inventory!(
                r#"
            [[events]]
            at = "2024-05-04T10:00:00Z"
            repeat = 15
            every = "2s"
            op = "SecretGet"
            oid = "88888888-8888-4888-8888-888888888888"
            appid = "88888888-8888-4888-8888-888888888888"
            idtyp = "app"
            ip = "20.40.1.9"
            object = "secrets/s-{i}"
            "#
            ),
        },
        Row {
            name: "the same 15 after listing the vault",
            detector: BULK,
            geoip: false,
            expect: rule("burst", Severity::High),
            events: known_inventory!(
                r#"
            [[events]]
            at = "2024-05-04T09:59:50Z"
            op = "SecretList"
            oid = "88888888-8888-4888-8888-888888888888"
            appid = "88888888-8888-4888-8888-888888888888"
            idtyp = "app"
            ip = "20.40.1.9"
            [[events]]
            at = "2024-05-04T10:00:00Z"
            repeat = 15
            every = "2s"
            op = "SecretGet"
            oid = "88888888-8888-4888-8888-888888888888"
            appid = "88888888-8888-4888-8888-888888888888"
            idtyp = "app"
            ip = "20.40.1.9"
            object = "secrets/s-{i}"
            "#
            ),
        },
        Row {
            name: "a principal first seen reading 25 of the 50 (half: the boundary)",
            detector: BULK,
            geoip: false,
            expect: after("2024-05-04T00:00:00Z", rule("burst", Severity::Medium)),
            events: known_inventory!(
                r#"
            [[events]]
            at = "2024-05-04T10:00:00Z"
            repeat = 25
            every = "2s"
            op = "SecretGet"
            oid = "99999999-9999-4999-8999-999999999999"
            appid = "99999999-9999-4999-8999-999999999999"
            idtyp = "app"
            ip = "20.40.1.9"
            object = "secrets/s-{i}"
            "#
            ),
        },
        Row {
            name: "a principal first seen reading 24 of the 50 (under half)",
            detector: BULK,
            geoip: false,
            expect: after("2024-05-04T00:00:00Z", none()),
            events: known_inventory!(
                r#"
            [[events]]
            at = "2024-05-04T10:00:00Z"
            repeat = 24
            every = "2s"
            op = "SecretGet"
            oid = "99999999-9999-4999-8999-999999999999"
            appid = "99999999-9999-4999-8999-999999999999"
            idtyp = "app"
            ip = "20.40.1.9"
            object = "secrets/s-{i}"
            "#
            ),
        },
    ]);
}
