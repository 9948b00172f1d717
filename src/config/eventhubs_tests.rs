//! Tests of `eventhubs`.

use super::*;
use crate::config::Config;
use std::path::Path;

fn parse(text: &str) -> Result<Config, String> {
    Config::parse(text, Path::new("test.toml")).map_err(|e| e.to_string())
}

#[test]
fn a_minimal_hub_gets_the_defaults() {
    let c = parse("[[eventhubs.hubs]]\nnamespace = \"ns.servicebus.windows.net\"\nhub = \"insights-logs-auditevent\"\n").unwrap();
    let h = &c.eventhubs.hubs[0];
    assert_eq!(h.consumer_group, "$Default");
    assert_eq!(h.credential, CredentialConfig::default());
    assert_eq!(
        (h.start, h.prefetch, h.owner_level),
        (StartConfig::Latest, 300, None)
    );
    assert_eq!(c.state.checkpoint_interval.as_std().as_secs(), 10);
}

#[test]
fn credentials_starts_and_targets_parse() {
    let c = parse(
        r#"
[[eventhubs.hubs]]
namespace = "a.servicebus.windows.net"
hub = "h"
consumer_group = "kvwatch"
credential = { kind = "managed_identity", client_id = "11111111-1111-1111-1111-111111111111" }
start = "2024-05-06T09:00:00Z"
owner_level = 3
partitions = ["0", "1"]

[[eventhubs.hubs]]
namespace = "b.servicebus.windows.net"
hub = "h"
credential = { kind = "connection_string", connection_string = { file = "eh.conn" } }
start = "earliest"

[route.target]
namespace = "a.servicebus.windows.net"
hub = "keyed"
credential = { kind = "client_secret", tenant_id = "t", client_id = "c" }
"#,
    )
    .unwrap();
    assert!(matches!(
        c.eventhubs.hubs[0].start,
        StartConfig::EnqueuedAt(_)
    ));
    assert_eq!(c.eventhubs.hubs[1].start, StartConfig::Earliest);
    let target = c.route.target.as_ref().unwrap();
    assert_eq!(
        target.credential,
        CredentialConfig::ClientSecret {
            tenant_id: Some("t".into()),
            client_id: Some("c".into()),
            secret: SecretRef::Env("AZURE_CLIENT_SECRET".into())
        }
    );
}

#[test]
fn mistakes_are_named() {
    let hub = "[[eventhubs.hubs]]\nnamespace = \"n\"\nhub = \"h\"\n";
    let table = [
        (format!("{hub}credential = {{ kind = \"connection_string\", connection_string = \"Endpoint=sb://x\" }}\n"), "never written in the config"),
        (format!("{hub}credential = {{ kind = \"managed_identity\", client_id = \"a\", object_id = \"b\" }}\n"), "eventhubs.hubs[0].credential"),
        (format!("{hub}credential = {{ kind = \"password\" }}\n"), "unknown variant"),
        (format!("{hub}credential = {{ kind = \"managed_identity\", clientid = \"a\" }}\n"), "unknown field"),
        (format!("{hub}start = \"yesterday\"\n"), "write latest, earliest"),
        (format!("{hub}prefetch = 0\n"), "eventhubs.hubs[0].prefetch"),
        (format!("{hub}{hub}"), "listed twice"),
        (format!("{hub}offset = 3\n"), "unknown field `offset`"),
        ("[eventhubs]\nqueue_bodies = 0\n".to_owned(), "eventhubs.queue_bodies"),
        ("[state]\ncheckpoint = \"1s\"\n".to_owned(), "unknown field `checkpoint`"),
    ];
    for (text, want) in table {
        let err = parse(&text).unwrap_err();
        assert!(err.contains(want), "{text:?} -> {err}");
    }
}
