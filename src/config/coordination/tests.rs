//! `[coordination]` as an operator writes it: defaults, every credential kind, and
//! each mistake named by its key.

use std::path::Path;

use super::*;
use crate::config::Config;

fn parse(text: &str) -> Result<Config, String> {
    Config::parse(text, Path::new("test.toml")).map_err(|e| e.to_string())
}

const HUB: &str = "[[eventhubs.hubs]]\nnamespace = \"NS.servicebus.windows.net\"\nhub = \"h\"\nconsumer_group = \"kvwatch\"\n";

#[test]
fn absent_means_single_instance_and_a_minimal_section_gets_the_defaults() {
    assert!(parse("").unwrap().coordination.is_none());
    let c = parse("[coordination]\naccount_url = \"https://acct.blob.core.windows.net\"\n")
        .unwrap()
        .coordination
        .unwrap();
    assert_eq!(c.container, "kvwatch");
    assert_eq!(c.credential, StorageCredentialConfig::default());
    let secs = |d: ConfigDuration| d.as_std().as_secs();
    assert_eq!(
        (
            secs(c.ownership_expiry),
            secs(c.renew_interval),
            secs(c.safety_margin),
            secs(c.standby_poll),
            secs(c.operation_timeout),
            c.snapshots_kept
        ),
        (30, 10, 5, 5, 5, 2)
    );
}

#[test]
fn balanced_mode_reads_one_keyed_hub() {
    let url = "account_url = \"https://acct.blob.core.windows.net\"\n";
    let c = parse(&format!(
        "{HUB}[coordination]\n{url}mode = \"balanced\"\ngroup = \"{}\"\n",
        "g".repeat(55)
    ))
    .unwrap()
    .coordination
    .unwrap();
    assert_eq!(c.mode, CoordinationMode::Balanced);
    let layout = crate::coordinate::GroupLayout::new(&c.group.unwrap()).unwrap();
    assert_eq!(layout.partition_group("31").unwrap().group().len(), 59);
    let default = parse(&format!("[coordination]\n{url}"))
        .unwrap()
        .coordination
        .unwrap();
    assert_eq!(default.mode, CoordinationMode::ActiveStandby);
}

#[test]
fn every_credential_kind_parses() {
    let table = [
        (
            "credential = { kind = \"managed_identity\", client_id = \"c\" }",
            true,
        ),
        ("credential = { kind = \"workload_identity\" }", true),
        (
            "credential = { kind = \"client_secret\", tenant_id = \"t\", client_id = \"c\" }",
            true,
        ),
        (
            "credential = { kind = \"shared_key\", account = \"devstoreaccount1\", key = { env = \"K\" } }",
            false,
        ),
        ("credential = { kind = \"sas\", token = { file = \"sas.txt\" } }", false),
    ];
    for (line, identity) in table {
        let text = format!(
            "[coordination]\naccount_url = \"http://127.0.0.1:10000/devstoreaccount1\"\n{line}\n"
        );
        let c = parse(&text).unwrap().coordination.unwrap();
        assert_eq!(c.credential.as_identity().is_some(), identity, "{line}");
    }
    let c = parse("[coordination]\ncredential = { kind = \"connection_string\", connection_string = { env = \"CS\" } }\n")
        .unwrap()
        .coordination
        .unwrap();
    assert!(c.account_url.is_none());
}

#[test]
fn relative_files_resolve_against_the_config_folder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kvwatch.toml");
    std::fs::write(
        &path,
        "[coordination]\naccount_url = \"https://a.blob.core.windows.net\"\nca_file = \"ca.pem\"\ncredential = { kind = \"sas\", token = { file = \"sas.txt\" } }\n",
    )
    .unwrap();
    let c = Config::load(&path).unwrap().coordination.unwrap();
    assert_eq!(c.ca_file, Some(dir.path().join("ca.pem")));
    assert_eq!(
        c.credential,
        StorageCredentialConfig::Sas {
            token: SecretRef::File(dir.path().join("sas.txt"))
        }
    );
}

#[test]
fn the_group_is_derived_from_the_hubs_whatever_their_order_or_case() {
    let one = parse(&format!(
        "{HUB}[[eventhubs.hubs]]\nnamespace = \"b\"\nhub = \"x\"\npartitions = [\"1\", \"0\"]\n"
    ))
    .unwrap();
    let two = parse(&format!(
        "[[eventhubs.hubs]]\nnamespace = \"B\"\nhub = \"X\"\npartitions = [\"0\", \"1\"]\n{}",
        HUB.replace("NS.", "ns.")
    ))
    .unwrap();
    let other = parse(HUB).unwrap();
    let config = CoordinationConfig::default();
    let name = config.group_name(&one.eventhubs);
    assert!(name.starts_with("run-"), "{name}");
    assert!(crate::coordinate::layout::check_group_name(&name).is_ok());
    assert_eq!(name, config.group_name(&two.eventhubs));
    assert_ne!(name, config.group_name(&other.eventhubs));
    let named = CoordinationConfig {
        group: Some("prod".into()),
        ..CoordinationConfig::default()
    };
    assert_eq!(named.group_name(&one.eventhubs), "prod");
}

#[test]
fn mistakes_are_named() {
    let url = "account_url = \"https://acct.blob.core.windows.net\"\n";
    let table = [
        (String::new(), "coordination.account_url"),
        (format!("{url}credential = {{ kind = \"connection_string\", connection_string = {{ env = \"X\" }} }}\n"), "leave it out with a connection string"),
        ("account_url = \"ftp://x\"\n".to_owned(), "coordination.account_url"),
        ("account_url = \"https://a.blob.core.windows.net/?sv=1&sig=2\"\n".to_owned(), "without a query"),
        (format!("{url}container = \"Bad_Name\"\n"), "coordination.container"),
        (format!("{url}group = \"a/b\"\n"), "coordination.group"),
        (format!("{url}instance_name = \"has space\"\n"), "coordination.instance_name"),
        (format!("{url}credential = {{ kind = \"sas\", token = \"sv=1&sig=2\" }}\n"), "never written in the config"),
        (format!("{url}credential = {{ kind = \"shared_key\" }}\n"), "missing field `key`"),
        (format!("{url}credential = {{ kind = \"managed_identity\", client_id = \"a\", object_id = \"b\" }}\n"), "coordination.credential"),
        (format!("{url}renew = \"1s\"\n"), "unknown field `renew`"),
        (format!("{url}safety_margin = \"1s\"\n"), "coordination.safety_margin"),
        (format!("{url}ownership_expiry = \"20s\"\n"), "must be more than renew_interval + operation_timeout + safety_margin"),
        (format!("{url}ownership_expiry = \"1h\"\n"), "at most 10m"),
        (format!("{url}standby_poll = \"1m\"\n"), "coordination.standby_poll"),
        (format!("{url}hand_over_after = \"1s\"\n"), "coordination.hand_over_after"),
        (format!("{url}snapshots_kept = 0\n"), "coordination.snapshots_kept"),
        (format!("{url}max_snapshot_bytes = 10\n"), "coordination.max_snapshot_bytes"),
        (format!("{HUB}owner_level = 1\n[coordination]\n{url}"), "eventhubs.hubs[0].owner_level"),
        (format!("{url}mode = \"spread\"\n"), "unknown variant `spread`"),
        (format!("{url}mode = \"balanced\"\n"), "balanced mode reads exactly one hub"),
        (format!("{HUB}{}[coordination]\n{url}mode = \"balanced\"\n", HUB.replace("hub = \"h\"", "hub = \"h2\"")), "(2 [[eventhubs.hubs]] configured)"),
        (format!("{HUB}[coordination]\n{url}mode = \"balanced\"\ngroup = \"{}\"\n", "g".repeat(56)), "at most 55 characters in balanced mode"),
    ];
    for (body, want) in table {
        let text = if body.contains("[coordination]") {
            body.clone()
        } else {
            format!("[coordination]\n{body}")
        };
        let err = parse(&text).unwrap_err();
        assert!(err.contains(want), "{text:?} -> {err}");
    }
}
