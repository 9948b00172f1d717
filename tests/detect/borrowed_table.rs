//! `unusual_geo`'s `borrowed_identity` (a workload's token replayed from another
//! machine): its boundaries as a table of inline records (the compact form of the
//! detector files) and the result. Each row starts from four days of a function
//! app's managed identity reading its two secrets every half hour from its two Azure
//! addresses, then adds what the row is about on the fifth day.

use kvwatch::alert::Severity;
use kvwatch::detect::examples::Expect;

use super::detector_table::{check, none, rule, Row};

const GEO: &str = "unusual_geo";

/// The managed identity's four days, then (`concat!`) what follows (the compact
/// form has no defaults: the identity is spelled out in every event).
macro_rules! with_history {
    ($rest:expr) => {
        concat!(
            r#"
            [[events]]
            at = "2024-05-01T00:01:00Z"
            days = 4
            repeat = 48
            every = "30m"
            op = "SecretGet"
            oid = "aaaaaaaa-1111-4111-8111-111111111111"
            appid = "aaaaaaaa-2222-4222-8222-222222222222"
            idtyp = "app"
            mirid = "/subscriptions/0/resourcegroups/rg/providers/Microsoft.Web/sites/func"
            client = "azsdk-net-Security.KeyVault.Secrets/4.6.0"
            ip = "20.40.1.1"
            object = "secrets/orders-db"
            [[events]]
            at = "2024-05-01T00:02:00Z"
            days = 4
            repeat = 48
            every = "30m"
            op = "SecretGet"
            oid = "aaaaaaaa-1111-4111-8111-111111111111"
            appid = "aaaaaaaa-2222-4222-8222-222222222222"
            idtyp = "app"
            mirid = "/subscriptions/0/resourcegroups/rg/providers/Microsoft.Web/sites/func"
            client = "azsdk-net-Security.KeyVault.Secrets/4.6.0"
            ip = "20.40.1.2"
            object = "secrets/orders-queue"
            "#,
            $rest
        )
    };
}

/// Reads on the fifth day by the same identity: `$n` of them, `$every` apart, from
/// `$ip` with `$client`, of `$object`.
macro_rules! reads {
    ($n:literal, $every:literal, $ip:literal, $client:literal, $object:literal) => {
        concat!(
            r#"
            [[events]]
            at = "2024-05-05T10:00:00Z"
            repeat = "#,
            $n,
            r#"
            every = ""#,
            $every,
            r#""
            op = "SecretGet"
            oid = "aaaaaaaa-1111-4111-8111-111111111111"
            appid = "aaaaaaaa-2222-4222-8222-222222222222"
            idtyp = "app"
            mirid = "/subscriptions/0/resourcegroups/rg/providers/Microsoft.Web/sites/func"
            client = ""#,
            $client,
            r#""
            ip = ""#,
            $ip,
            r#""
            object = ""#,
            $object,
            r#""
            "#
        )
    };
}

fn not_borrowed() -> Expect {
    Expect {
        not_rule: Some("borrowed_identity".into()),
        ..Default::default()
    }
}

#[test]
fn borrowed_identity_table() {
    check(vec![
        Row {
            name: "six new secrets (min_new_objects) from a new Azure network",
            detector: GEO,
            geoip: true,
            expect: rule("borrowed_identity", Severity::Medium),
            events: with_history!(reads!(
                6,
                "1m",
                "20.40.77.5",
                "azsdk-net-Security.KeyVault.Secrets/4.6.0",
                "secrets/payments-{i}"
            )),
        },
        Row {
            name: "five new secrets from a new Azure network (one under)",
            detector: GEO,
            geoip: true,
            expect: none(),
            events: with_history!(reads!(
                5,
                "1m",
                "20.40.77.5",
                "azsdk-net-Security.KeyVault.Secrets/4.6.0",
                "secrets/payments-{i}"
            )),
        },
        Row {
            name: "twelve new secrets one every seven minutes: five within the network's first half hour",
            detector: GEO,
            geoip: true,
            expect: none(),
            events: with_history!(reads!(
                12,
                "7m",
                "20.40.77.5",
                "azsdk-net-Security.KeyVault.Secrets/4.6.0",
                "secrets/payments-{i}"
            )),
        },
        Row {
            name: "with a client the identity never used, one step higher",
            detector: GEO,
            geoip: true,
            expect: rule("borrowed_identity", Severity::High),
            events: with_history!(reads!(
                12,
                "1m",
                "20.40.77.5",
                "python-requests/2.32.3",
                "secrets/payments-{i}"
            )),
        },
        Row {
            name: "an SDK upgrade is not a new client",
            detector: GEO,
            geoip: true,
            expect: rule("borrowed_identity", Severity::Medium),
            events: with_history!(reads!(
                12,
                "1m",
                "20.40.77.5",
                "azsdk-net-Security.KeyVault.Secrets/4.8.1 (.NET 9.0.1)",
                "secrets/payments-{i}"
            )),
        },
        Row {
            name: "from a private address in a new subnet, the same",
            detector: GEO,
            geoip: true,
            expect: rule("borrowed_identity", Severity::Medium),
            events: with_history!(reads!(
                12,
                "1m",
                "10.20.9.4",
                "azsdk-net-Security.KeyVault.Secrets/4.6.0",
                "secrets/payments-{i}"
            )),
        },
        Row {
            name: "its usual secrets again from a new network (scale-out)",
            detector: GEO,
            geoip: true,
            expect: none(),
            events: with_history!(reads!(
                12,
                "1m",
                "20.40.77.5",
                "azsdk-net-Security.KeyVault.Secrets/4.6.0",
                "secrets/orders-db"
            )),
        },
        Row {
            name: "a person is not a workload: a user reading twelve new secrets from a new Azure network",
            detector: GEO,
            geoip: true,
            expect: not_borrowed(),
            events: r#"
            [[events]]
            at = "2024-05-01T00:01:00Z"
            days = 4
            repeat = 48
            every = "30m"
            op = "SecretGet"
            oid = "cccccccc-1111-4111-8111-111111111111"
            upn = "dev@contoso.com"
            ip = "20.40.1.1"
            object = "secrets/dev-a"
            [[events]]
            at = "2024-05-05T10:00:00Z"
            repeat = 12
            every = "1m"
            op = "SecretGet"
            oid = "cccccccc-1111-4111-8111-111111111111"
            upn = "dev@contoso.com"
            ip = "20.40.77.5"
            object = "secrets/payments-{i}"
            "#,
        },
        Row {
            name: "a workload still learning (two days old) is not judged",
            detector: GEO,
            geoip: true,
            expect: none(),
            events: r#"
            [[events]]
            at = "2024-05-01T00:01:00Z"
            days = 2
            repeat = 48
            every = "30m"
            op = "SecretGet"
            oid = "dddddddd-1111-4111-8111-111111111111"
            appid = "dddddddd-1111-4111-8111-111111111111"
            idtyp = "app"
            ip = "20.40.1.1"
            object = "secrets/a"
            [[events]]
            at = "2024-05-02T20:00:00Z"
            repeat = 12
            every = "1m"
            op = "SecretGet"
            oid = "dddddddd-1111-4111-8111-111111111111"
            appid = "dddddddd-1111-4111-8111-111111111111"
            idtyp = "app"
            ip = "20.40.77.5"
            object = "secrets/payments-{i}"
            "#,
        },
    ]);
}
