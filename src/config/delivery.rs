//! `[outbox]` and `[[sinks]]`: where alerts go and how hard kvwatch tries to get them
//! there.
//!
//! Each sink is one flat table: the common keys (`kind`, `name`, `enabled`,
//! `detectors`, `min_severity`, `max_per_minute`) plus the keys of its kind, checked
//! against that kind, so a misspelt or misplaced key is an error naming the sink.
//! Secrets are never literal: a webhook URL, a signing key, an SMTP password or a
//! PagerDuty routing key is `{ env = "NAME" }` or `{ file = "path" }`.

mod kinds;

use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer};
use serde::Deserialize;

pub use kinds::{
    ChatSettings, DedupKey, EmailSettings, EmailTls, FileSettings, PagerDutySettings, SecretRef,
    SinkKind, WebhookSettings, LITERAL_SECRET,
};

use super::ConfigDuration;
use crate::alert::Severity;

/// `[outbox]`: the on-disk queue between the pipeline and the sinks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// The outbox database file. Default: `outbox.redb` in the state directory
    /// (`$STATE_DIRECTORY`, else `$XDG_STATE_HOME/kvwatch`, else
    /// `~/.local/state/kvwatch`). Relative paths are relative to the config file.
    pub path: Option<PathBuf>,
    /// Attempts per alert and sink before it is dead-lettered. Answers that only say
    /// "slow down" (429 with `Retry-After`) do not count.
    pub max_tries: u32,
    /// An alert still undelivered this long after it was enqueued is dead-lettered at
    /// its next failed attempt.
    pub max_age: ConfigDuration,
    /// The longest one delivery attempt may take (connect, send, answer).
    pub attempt_timeout: ConfigDuration,
    /// The delay before the first retry; each further retry doubles it, with jitter.
    pub backoff_initial: ConfigDuration,
    /// The longest delay between two attempts.
    pub backoff_max: ConfigDuration,
    /// How long `kvwatch replay` (with sinks) waits for the outbox to drain before it
    /// exits; whatever is left is delivered by the next kvwatch run.
    pub drain_timeout: ConfigDuration,
    /// How often idle workers look for due work (they are also woken by every commit).
    pub poll_interval: ConfigDuration,
    /// Alerts buffered before the outbox commits on its own, without waiting for the
    /// pipeline's flush (a checkpoint, the end of a replay).
    pub commit_batch: usize,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            path: None,
            max_tries: 10,
            max_age: ConfigDuration::hours(24),
            attempt_timeout: ConfigDuration::seconds(15),
            backoff_initial: ConfigDuration::seconds(2),
            backoff_max: ConfigDuration::minutes(10),
            drain_timeout: ConfigDuration::minutes(2),
            poll_interval: ConfigDuration::seconds(1),
            commit_batch: 64,
        }
    }
}

impl OutboxConfig {
    /// The database file: the configured path, or `outbox.redb` in the state directory.
    pub fn resolved_path(&self) -> PathBuf {
        self.path
            .clone()
            .unwrap_or_else(|| state_dir().join("outbox.redb"))
    }
}

/// kvwatch's state directory: `$STATE_DIRECTORY` (systemd), `$XDG_STATE_HOME/kvwatch`,
/// `~/.local/state/kvwatch`, else `.kvwatch-state` in the working directory.
pub fn state_dir() -> PathBuf {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = var("STATE_DIRECTORY") {
        return dir;
    }
    if let Some(dir) = var("XDG_STATE_HOME") {
        return dir.join("kvwatch");
    }
    match var("HOME") {
        Some(home) => home.join(".local/state/kvwatch"),
        None => PathBuf::from(".kvwatch-state"),
    }
}

/// One `[[sinks]]` table.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// A unique, stable name (the outbox keys pending deliveries by it); default: the kind.
    pub name: String,
    /// Whether the sink receives alerts (a disabled sink keeps its queued alerts).
    pub enabled: bool,
    /// Only alerts from these detectors (empty: every detector).
    pub detectors: Vec<String>,
    /// Only alerts at or above this severity.
    pub min_severity: Severity,
    /// At most this many requests a minute (default per kind: Slack 60, Teams 120,
    /// PagerDuty 120, others unlimited).
    pub max_per_minute: Option<u32>,
    /// The kind and its settings.
    pub settings: SinkSettings,
}

impl SinkConfig {
    /// The kind.
    pub fn kind(&self) -> SinkKind {
        match &self.settings {
            SinkSettings::Email(_) => SinkKind::Email,
            SinkSettings::Webhook(_) => SinkKind::Webhook,
            SinkSettings::Slack(_) => SinkKind::Slack,
            SinkSettings::Teams(_) => SinkKind::Teams,
            SinkSettings::PagerDuty(_) => SinkKind::PagerDuty,
            SinkSettings::File(_) => SinkKind::File,
        }
    }

    /// Whether an alert from `detector` at `severity` goes to this sink.
    pub fn routes(&self, detector: &str, severity: Severity) -> bool {
        self.enabled
            && severity >= self.min_severity
            && (self.detectors.is_empty() || self.detectors.iter().any(|d| d == detector))
    }
}

/// The settings of each kind.
#[derive(Debug, Clone)]
pub enum SinkSettings {
    /// `kind = "email"`.
    Email(EmailSettings),
    /// `kind = "webhook"`.
    Webhook(WebhookSettings),
    /// `kind = "slack"`.
    Slack(ChatSettings),
    /// `kind = "teams"`.
    Teams(ChatSettings),
    /// `kind = "pagerduty"`.
    PagerDuty(PagerDutySettings),
    /// `kind = "file"`.
    File(FileSettings),
}

/// The keys every sink has.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Common {
    kind: SinkKind,
    name: Option<String>,
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    detectors: Vec<String>,
    #[serde(default = "info")]
    min_severity: Severity,
    max_per_minute: Option<u32>,
}

fn yes() -> bool {
    true
}

fn info() -> Severity {
    Severity::Info
}

const COMMON_KEYS: [&str; 6] = [
    "kind",
    "name",
    "enabled",
    "detectors",
    "min_severity",
    "max_per_minute",
];

impl<'de> Deserialize<'de> for SinkConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Spanned: errors say where the table starts (see `sink_message`).
        let spanned = toml::Spanned::<toml::Table>::deserialize(d)?;
        let at = spanned.span().start;
        let table = spanned.into_inner();
        let (common, own): (toml::Table, toml::Table) = table
            .into_iter()
            .partition(|(k, _)| COMMON_KEYS.contains(&k.as_str()));
        let common: Common = toml::Value::Table(common)
            .try_into()
            .map_err(|e| de::Error::custom(keyed(at, &e)))?;
        let kind = common.kind.as_str();
        let own = toml::Value::Table(own);
        let err = |e: toml::de::Error| de::Error::custom(keyed(at, &e));
        let settings = match common.kind {
            SinkKind::Email => SinkSettings::Email(own.try_into().map_err(err)?),
            SinkKind::Webhook => SinkSettings::Webhook(own.try_into().map_err(err)?),
            SinkKind::Slack => SinkSettings::Slack(own.try_into().map_err(err)?),
            SinkKind::Teams => SinkSettings::Teams(own.try_into().map_err(err)?),
            SinkKind::PagerDuty => SinkSettings::PagerDuty(own.try_into().map_err(err)?),
            SinkKind::File => SinkSettings::File(own.try_into().map_err(err)?),
        };
        Ok(SinkConfig {
            name: common.name.unwrap_or_else(|| kind.to_owned()),
            enabled: common.enabled,
            detectors: common.detectors,
            min_severity: common.min_severity,
            max_per_minute: common.max_per_minute,
            settings,
        })
    }
}

/// A sink table's error as "[sink@OFFSET] `key`: what is wrong": where the table
/// starts and which key failed, so the loader can name the key and its line without
/// quoting the text (see `config::locate`).
fn keyed(at: usize, e: &toml::de::Error) -> String {
    let message = e.message().trim();
    // Without the text, toml's Display ends with "in `key`" when it knows the key.
    let shown = e.to_string();
    let key = shown
        .lines()
        .filter_map(|l| l.trim().strip_prefix("in `")?.strip_suffix('`'))
        .next_back()
        .map(str::to_owned)
        .or_else(|| {
            let rest = message.strip_prefix("unknown field `")?;
            rest.split('`').next().map(str::to_owned)
        });
    match key {
        Some(key) => format!("{SINK_MARK}{at}] `{key}`: {message}"),
        None => format!("{SINK_MARK}{at}] {message}"),
    }
}

const SINK_MARK: &str = "[sink@";

/// Splits a message [`keyed`] made into the table's offset, the key (when known)
/// and what is wrong.
pub fn sink_message(message: &str) -> Option<(usize, Option<&str>, &str)> {
    let rest = message.strip_prefix(SINK_MARK)?;
    let (at, rest) = rest.split_once("] ")?;
    let at = at.parse().ok()?;
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    let keyed = rest
        .strip_prefix('`')
        .and_then(|r| r.split_once("`: "))
        .filter(|(key, _)| !key.is_empty() && key.chars().all(plain));
    Some(match keyed {
        Some((key, rest)) => (at, Some(key), rest),
        None => (at, None, rest),
    })
}

/// Checks `[outbox]` and `[[sinks]]`; the error names the key.
pub fn validate(outbox: &OutboxConfig, sinks: &[SinkConfig]) -> Result<(), (String, String)> {
    let bad = |key: &str, msg: &str| Err((key.to_owned(), msg.to_owned()));
    if outbox.max_tries == 0 {
        return bad("outbox.max_tries", "must be at least 1");
    }
    if outbox.max_age.as_std().as_secs() < 60 {
        return bad("outbox.max_age", "must be at least 1m");
    }
    if outbox.attempt_timeout.as_std().as_millis() < 100 {
        return bad("outbox.attempt_timeout", "must be at least 100ms");
    }
    if outbox.backoff_initial.as_std().is_zero() {
        return bad("outbox.backoff_initial", "must be more than 0");
    }
    if outbox.backoff_max < outbox.backoff_initial {
        return bad("outbox.backoff_max", "must be at least backoff_initial");
    }
    if outbox.poll_interval.as_std().as_millis() < 10
        || outbox.poll_interval.as_std().as_secs() > 60
    {
        return bad("outbox.poll_interval", "must be between 10ms and 60s");
    }
    if outbox.commit_batch == 0 {
        return bad("outbox.commit_batch", "must be at least 1");
    }
    for (i, sink) in sinks.iter().enumerate() {
        let key = |k: &str| format!("sinks[{i}].{k}");
        if sink.name.is_empty()
            || !sink
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err((key("name"), "use letters, digits, '-', '_' or '.'".into()));
        }
        if sinks[..i].iter().any(|s| s.name == sink.name) {
            return Err((
                key("name"),
                format!(
                    "another sink is already named {:?}; give each a unique name",
                    sink.name
                ),
            ));
        }
        if sink.max_per_minute == Some(0) {
            return Err((
                key("max_per_minute"),
                "must be at least 1 (omit it for no limit)".into(),
            ));
        }
        if let SinkSettings::Email(e) = &sink.settings {
            if e.host.trim().is_empty() {
                return Err((key("host"), "must name the SMTP server".into()));
            }
            if e.to.is_empty() {
                return Err((key("to"), "give at least one recipient".into()));
            }
            if e.password.is_some() && e.username.is_none() {
                return Err((key("username"), "a password needs a user name".into()));
            }
            if e.password.is_some() && e.tls == EmailTls::None {
                return Err((key("password"), "refusing to send a password without TLS; set tls = \"starttls\" or \"implicit\"".into()));
            }
            if e.digest_every.is_some_and(|d| d.as_std().as_secs() < 60) {
                return Err((key("digest_every"), "must be at least 1m".into()));
            }
            if e.subject_prefix.chars().any(char::is_control) {
                return Err((
                    key("subject_prefix"),
                    "must not contain control characters".into(),
                ));
            }
        }
        if let SinkSettings::PagerDuty(p) = &sink.settings {
            if !(p.url.starts_with("https://") || p.url.starts_with("http://")) {
                return Err((key("url"), "must be an http(s) URL".into()));
            }
        }
    }
    Ok(())
}

/// Makes relative paths relative to the config file's folder.
pub fn resolve_paths(outbox: &mut OutboxConfig, sinks: &mut [SinkConfig], base: &Path) {
    let resolve = |p: &mut PathBuf| {
        if p.is_relative() && p.as_os_str() != "-" {
            *p = base.join(&*p);
        }
    };
    if let Some(p) = outbox.path.as_mut() {
        resolve(p);
    }
    let secret = |s: &mut SecretRef| {
        if let SecretRef::File(p) = s {
            resolve(p);
        }
    };
    for sink in sinks {
        match &mut sink.settings {
            SinkSettings::Email(e) => {
                if let Some(p) = e.ca_file.as_mut() {
                    resolve(p);
                }
                if let Some(s) = e.password.as_mut() {
                    secret(s);
                }
            }
            SinkSettings::Webhook(w) => {
                secret(&mut w.url);
                secret(&mut w.signing_secret);
            }
            SinkSettings::Slack(c) | SinkSettings::Teams(c) => secret(&mut c.url),
            SinkSettings::PagerDuty(p) => secret(&mut p.routing_key),
            SinkSettings::File(f) => resolve(&mut f.path),
        }
    }
}

#[cfg(test)]
mod tests;
