//! `[outbox]` and `[[sinks]]` parsing and validation: errors name the file and the key.

use std::path::Path;

use crate::config::{Config, ConfigError, SinkKind, SinkSettings};

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("test.toml"))
}

const FULL: &str = r#"
[outbox]
path = "state/outbox.redb"
max_tries = 8
max_age = "12h"

[[sinks]]
kind = "email"
name = "soc-mail"
min_severity = "low"
host = "smtp.example.com"
username = "kvwatch"
password = { env = "KVWATCH_SMTP_PASSWORD" }
from = "kvwatch <kvwatch@example.com>"
to = ["soc@example.com", "oncall@example.com"]
digest_every = "15m"

[[sinks]]
kind = "webhook"
url = { env = "KVWATCH_WEBHOOK_URL" }
signing_secret = { file = "/run/secrets/kvwatch-webhook" }

[[sinks]]
kind = "slack"
min_severity = "high"
detectors = ["failed_auth", "unusual_geo"]
url = { env = "KVWATCH_SLACK_URL" }

[[sinks]]
kind = "teams"
url = { file = "teams-url" }

[[sinks]]
kind = "pagerduty"
min_severity = "critical"
routing_key = { env = "KVWATCH_PAGERDUTY_KEY" }

[[sinks]]
kind = "file"
path = "alerts.jsonl"
"#;

#[test]
fn a_full_config_parses() {
    let c = parse(FULL).unwrap();
    assert_eq!(c.outbox.max_tries, 8);
    let kinds: Vec<SinkKind> = c.sinks.iter().map(super::SinkConfig::kind).collect();
    assert_eq!(
        kinds,
        [
            SinkKind::Email,
            SinkKind::Webhook,
            SinkKind::Slack,
            SinkKind::Teams,
            SinkKind::PagerDuty,
            SinkKind::File
        ]
    );
    assert_eq!(c.sinks[0].name, "soc-mail");
    assert_eq!(c.sinks[2].name, "slack");
    let SinkSettings::Email(e) = &c.sinks[0].settings else {
        panic!()
    };
    assert_eq!(e.effective_port(), 587);
    assert_eq!(e.to.len(), 2);
    assert!(c.sinks[2].routes("failed_auth", crate::alert::Severity::Critical));
    assert!(!c.sinks[2].routes("failed_auth", crate::alert::Severity::Medium));
    assert!(!c.sinks[2].routes("bulk_secret_retrieval", crate::alert::Severity::Critical));
}

#[test]
fn relative_paths_follow_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kvwatch.toml");
    std::fs::write(&path, FULL).unwrap();
    let c = Config::load(&path).unwrap();
    assert_eq!(
        c.outbox.resolved_path(),
        dir.path().join("state/outbox.redb")
    );
    let SinkSettings::Teams(t) = &c.sinks[3].settings else {
        panic!()
    };
    assert_eq!(
        t.url,
        crate::config::SecretRef::File(dir.path().join("teams-url"))
    );
}

#[test]
fn errors_name_the_key() {
    let table = [
        ("[[sinks]]\nkind = \"slack\"\nurl = \"https://hooks.slack.com/services/X\"\n", "never written in the config file"),
        ("[[sinks]]\nkind = \"slack\"\nurl = { env = \"X\" }\nto = [\"a@b\"]\n", "unknown field `to`"),
        ("[[sinks]]\nkind = \"sms\"\n", "unknown variant `sms`"),
        ("[[sinks]]\nkind = \"slack\"\nurl = { env = \"X\", file = \"y\" }\n", "not both"),
        ("[[sinks]]\nkind = \"email\"\nhost = \"h\"\nfrom = \"a@b\"\nto = []\n", "sinks[0].to"),
        ("[[sinks]]\nkind = \"email\"\nhost = \"h\"\nfrom = \"a@b\"\nto = [\"c@d\"]\ntls = \"none\"\nusername = \"u\"\npassword = { env = \"P\" }\n", "sinks[0].password"),
        ("[[sinks]]\nkind = \"file\"\npath = \"a\"\n[[sinks]]\nkind = \"file\"\npath = \"b\"\n", "sinks[1].name"),
        ("[[sinks]]\nkind = \"slack\"\nurl = { env = \"X\" }\nmin_severity = \"urgent\"\n", "unknown variant `urgent`"),
        ("[outbox]\nmax_tries = 0\n", "outbox.max_tries"),
        ("[outbox]\nmax_trys = 3\n", "unknown field `max_trys`"),
        ("[outbox]\nbackoff_initial = \"10s\"\nbackoff_max = \"1s\"\n", "outbox.backoff_max"),
    ];
    for (text, want) in table {
        let err = parse(text).unwrap_err().to_string();
        assert!(err.contains("test.toml"), "{err}");
        assert!(err.contains(want), "{text:?} → {err}");
    }
}
