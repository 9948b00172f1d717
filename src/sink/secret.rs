//! Secrets (SMTP passwords, webhook URLs, signing and routing keys): read from the
//! environment or a file the config names, held in a type that never prints itself,
//! and scrubbed from every error message a sink produces.
//!
//! Webhook URLs are secrets because Slack, Teams and many generic receivers put the
//! credential in the path. Transports already strip URLs from HTTP errors; the
//! [`Redactor`] is the second line: whatever text leaves a sink (outbox `last_error`,
//! logs, observer events) passes through it first.

use std::fmt;
use std::path::PathBuf;

use crate::config::SecretRef;

/// A secret value. `Debug` shows `<redacted>`; there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value (tests, values read elsewhere).
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Why a secret could not be read. Never contains the value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The environment variable is not set (or not UTF-8).
    #[error("{key}: environment variable {name} is not set")]
    MissingEnv {
        /// The config key.
        key: String,
        /// The variable.
        name: String,
    },
    /// The file could not be read.
    #[error("{key}: cannot read secret file {}: {source}", path.display())]
    File {
        /// The config key.
        key: String,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The variable or file is empty.
    #[error("{key}: the secret in {from} is empty")]
    Empty {
        /// The config key.
        key: String,
        /// Where it was looked for.
        from: String,
    },
    /// The value is not what the key needs (a URL, a `whsec_` key …).
    #[error("{key}: the secret in {from} {problem}")]
    Invalid {
        /// The config key.
        key: String,
        /// Where it came from.
        from: String,
        /// What is wrong with it (never the value).
        problem: String,
    },
}

/// Reads a secret; `key` (`sinks[1].url`) names it in errors.
pub fn resolve(reference: &SecretRef, key: &str) -> Result<Secret, SecretError> {
    let (value, from) = match reference {
        SecretRef::Env(name) => {
            let value = std::env::var(name).map_err(|_| SecretError::MissingEnv {
                key: key.to_owned(),
                name: name.clone(),
            })?;
            (value, format!("environment variable {name}"))
        }
        SecretRef::File(path) => {
            let value = std::fs::read_to_string(path).map_err(|source| SecretError::File {
                key: key.to_owned(),
                path: path.clone(),
                source,
            })?;
            (value, format!("file {}", path.display()))
        }
    };
    let value = value.trim();
    if value.is_empty() {
        return Err(SecretError::Empty {
            key: key.to_owned(),
            from,
        });
    }
    Ok(Secret(value.to_owned()))
}

/// Where a secret came from, for error messages about its value.
pub fn origin(reference: &SecretRef) -> String {
    match reference {
        SecretRef::Env(name) => format!("environment variable {name}"),
        SecretRef::File(path) => format!("file {}", path.display()),
    }
}

/// Removes known secret values (and the telling parts of secret URLs) from text.
#[derive(Clone, Default)]
pub struct Redactor {
    needles: Vec<String>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} needles)", self.needles.len())
    }
}

/// What replaces a secret in text.
pub const REDACTED: &str = "<redacted>";

impl Redactor {
    /// Redacts nothing yet.
    pub fn new() -> Self {
        Redactor::default()
    }

    /// Adds a secret. A URL also adds its path and query, which carry the token.
    pub fn add(&mut self, secret: &Secret) {
        let value = secret.expose();
        self.push(value);
        if let Ok(url) = reqwest::Url::parse(value) {
            self.push(url.as_str());
            let path = url.path();
            if path.len() > 1 {
                self.push(path);
            }
            if let Some(q) = url.query() {
                self.push(q);
            }
            if let Some(p) = url.password() {
                self.push(p);
            }
        }
        // Longest first, so a URL is replaced whole before its path is.
        self.needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        self.needles.dedup();
    }

    fn push(&mut self, needle: &str) {
        // Very short needles would mangle ordinary text and hide little.
        if needle.len() >= 6 {
            self.needles.push(needle.to_owned());
        }
    }

    /// The text with every secret replaced by `<redacted>`.
    pub fn clean(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), REDACTED);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print_and_are_redacted() {
        let s = Secret::new(
            "https://hooks.example.com/services/T000/B000/XXXXSECRETXXXX?token=abcdefgh",
        );
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        let mut r = Redactor::new();
        r.add(&s);
        let msg = "error sending request for url (https://hooks.example.com/services/T000/B000/XXXXSECRETXXXX?token=abcdefgh): refused; path /services/T000/B000/XXXXSECRETXXXX";
        let clean = r.clean(msg);
        assert!(!clean.contains("XXXXSECRETXXXX"), "{clean}");
        assert!(!clean.contains("abcdefgh"), "{clean}");
        assert!(clean.contains("refused"));
    }

    #[test]
    fn resolve_reads_env_and_file_and_never_echoes_values() {
        std::env::set_var("KVWATCH_TEST_SECRET_RESOLVE", "  s3cr3t-value \n");
        let s = resolve(
            &SecretRef::Env("KVWATCH_TEST_SECRET_RESOLVE".into()),
            "sinks[0].url",
        )
        .unwrap();
        assert_eq!(s.expose(), "s3cr3t-value");
        let err = resolve(
            &SecretRef::Env("KVWATCH_TEST_SECRET_UNSET_X".into()),
            "sinks[0].url",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("sinks[0].url")
                && err.to_string().contains("KVWATCH_TEST_SECRET_UNSET_X")
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "file-secret\n").unwrap();
        assert_eq!(
            resolve(&SecretRef::File(path), "k").unwrap().expose(),
            "file-secret"
        );
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        assert!(matches!(
            resolve(&SecretRef::File(empty), "k"),
            Err(SecretError::Empty { .. })
        ));
    }
}
