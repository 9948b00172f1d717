//! The kinds of sink and their own settings, and secret references: the typed
//! halves of a `[[sinks]]` table once its common keys are read (see the parent module).

use std::fmt;
use std::path::PathBuf;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::alert::Severity;
use crate::config::ConfigDuration;

/// Why a secret written literally in the config is refused (the value is never shown).
pub const LITERAL_SECRET: &str =
    "secrets are never written in the config file; write { env = \"NAME\" } or { file = \"path\" }";

/// A secret's location: an environment variable or a file, never the value itself.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// `{ env = "NAME" }`: the value of an environment variable.
    Env(String),
    /// `{ file = "path" }`: a file's content, surrounding whitespace removed.
    File(PathBuf),
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "{{ env = {name:?} }}"),
            SecretRef::File(path) => write!(f, "{{ file = {:?} }}", path.display()),
        }
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SecretRef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("{ env = \"NAME\" } or { file = \"path\" }")
            }
            // A literal of any type is refused without echoing it (serde's default
            // "invalid type" message would quote the value).
            fn visit_str<E: de::Error>(self, _: &str) -> Result<SecretRef, E> {
                Err(E::custom(LITERAL_SECRET))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<SecretRef, E> {
                Err(E::custom(LITERAL_SECRET))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<SecretRef, E> {
                Err(E::custom(LITERAL_SECRET))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<SecretRef, E> {
                Err(E::custom(LITERAL_SECRET))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<SecretRef, E> {
                Err(E::custom(LITERAL_SECRET))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<SecretRef, A::Error> {
                Err(de::Error::custom(LITERAL_SECRET))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretRef, A::Error> {
                let mut found = None;
                while let Some(key) = map.next_key::<String>()? {
                    let value = match key.as_str() {
                        "env" => SecretRef::Env(map.next_value()?),
                        "file" => SecretRef::File(map.next_value()?),
                        other => return Err(de::Error::unknown_field(other, &["env", "file"])),
                    };
                    if found.replace(value).is_some() {
                        return Err(de::Error::custom("give either env or file, not both"));
                    }
                }
                found.ok_or_else(|| {
                    de::Error::custom("expected { env = \"NAME\" } or { file = \"path\" }")
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// The kinds of sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    /// SMTP email.
    Email,
    /// A generic JSON webhook, signed per Standard Webhooks.
    Webhook,
    /// A Slack incoming webhook (Block Kit).
    Slack,
    /// A Microsoft Teams Workflows webhook (Adaptive Card).
    Teams,
    /// PagerDuty Events API v2.
    PagerDuty,
    /// JSON Lines to a file or standard output.
    File,
}

impl SinkKind {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SinkKind::Email => "email",
            SinkKind::Webhook => "webhook",
            SinkKind::Slack => "slack",
            SinkKind::Teams => "teams",
            SinkKind::PagerDuty => "pagerduty",
            SinkKind::File => "file",
        }
    }
}

/// How an SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailTls {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Implicit,
    /// No TLS at all: only for a relay on the same host or network.
    None,
}

/// `kind = "email"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    /// The SMTP server (the name its TLS certificate must carry).
    pub host: String,
    /// The port; default 587 with STARTTLS, 465 with implicit TLS, 25 without TLS.
    pub port: Option<u16>,
    /// `starttls` (default), `implicit` or `none` (a local relay; sends in clear).
    #[serde(default)]
    pub tls: EmailTls,
    /// A PEM file of CA certificates to trust instead of the system's (a private CA).
    pub ca_file: Option<PathBuf>,
    /// The SMTP user name, when the server wants authentication.
    pub username: Option<String>,
    /// The SMTP password (needs `username`, and TLS).
    pub password: Option<SecretRef>,
    /// The sender: `kvwatch@example.com` or `kvwatch <kvwatch@example.com>`.
    pub from: String,
    /// The recipients, one or more.
    pub to: Vec<String>,
    /// Batch alerts at or below `digest_max_severity` into one digest email this often
    /// (absent: every alert gets its own email).
    pub digest_every: Option<ConfigDuration>,
    /// The most severe alert that waits for the digest (default `low`).
    #[serde(default = "low")]
    pub digest_max_severity: Severity,
    /// Text at the start of every subject (default `[kvwatch]`).
    #[serde(default = "subject_prefix")]
    pub subject_prefix: String,
}

fn low() -> Severity {
    Severity::Low
}

fn subject_prefix() -> String {
    "[kvwatch]".into()
}

impl EmailSettings {
    /// The port to connect to.
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            EmailTls::Starttls => 587,
            EmailTls::Implicit => 465,
            EmailTls::None => 25,
        })
    }
}

/// `kind = "webhook"`: the alert contract as JSON, signed per Standard Webhooks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// The endpoint (a secret: URLs often carry a token).
    pub url: SecretRef,
    /// The Standard Webhooks signing secret (`whsec_` followed by base64).
    pub signing_secret: SecretRef,
}

/// `kind = "slack"` or `kind = "teams"`: an incoming-webhook URL.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatSettings {
    /// The incoming-webhook (Slack) or Workflows (Teams) URL; a secret.
    pub url: SecretRef,
}

/// Which id PagerDuty groups on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DedupKey {
    /// The incident id: escalations update the same PagerDuty alert (default).
    #[default]
    Incident,
    /// The alert id: every revision is its own PagerDuty alert.
    Alert,
}

/// `kind = "pagerduty"`: PagerDuty Events API v2.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutySettings {
    /// The integration's routing key; a secret.
    pub routing_key: SecretRef,
    /// The Events API endpoint (default `https://events.pagerduty.com/v2/enqueue`).
    #[serde(default = "pagerduty_url")]
    pub url: String,
    /// `incident` (default) or `alert`: what `dedup_key` carries.
    #[serde(default)]
    pub dedup_key: DedupKey,
}

fn pagerduty_url() -> String {
    "https://events.pagerduty.com/v2/enqueue".into()
}

/// `kind = "file"`: the alert contract as JSON Lines.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    /// The file to append to, or `-` for standard output.
    pub path: PathBuf,
}
