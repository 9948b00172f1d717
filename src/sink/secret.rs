//! Secrets (SMTP passwords, webhook URLs, signing and routing keys): read from the
//! environment or a file the config names, held in a type that never prints itself,
//! and scrubbed from every error message a sink produces.
//!
//! Webhook URLs are secrets because Slack, Teams and many generic receivers put the
//! credential in the path. Transports already strip URLs from HTTP errors; the
//! [`Redactor`] is the second line: whatever text leaves a sink (outbox `last_error`,
//! logs, observer events) passes through it first.
//!
//! A secret file is read with a size limit (it holds one value; a device or a
//! mistaken path must not be read without end), and one that other accounts can
//! read is used with a warning.

use std::fmt;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub use super::redact::{Redactor, REDACTED};
use crate::config::SecretRef;

/// The largest secret file read: a URL or a key is a few hundred bytes.
pub const MAX_SECRET_BYTES: u64 = 64 * 1024;

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
    /// The file is larger than a secret can be.
    #[error("{key}: secret file {} is larger than {limit} bytes; it should hold the secret alone", path.display())]
    TooLarge {
        /// The config key.
        key: String,
        /// The file.
        path: PathBuf,
        /// [`MAX_SECRET_BYTES`].
        limit: u64,
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
            let value = read_file(path, key)?;
            warn_if_shared(path, key);
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

/// Reads a secret file, at most [`MAX_SECRET_BYTES`] of it.
fn read_file(path: &Path, key: &str) -> Result<String, SecretError> {
    let io = |source| SecretError::File {
        key: key.to_owned(),
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(MAX_SECRET_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_SECRET_BYTES {
        return Err(SecretError::TooLarge {
            key: key.to_owned(),
            path: path.to_owned(),
            limit: MAX_SECRET_BYTES,
        });
    }
    String::from_utf8(bytes).map_err(|_| SecretError::Invalid {
        key: key.to_owned(),
        from: format!("file {}", path.display()),
        problem: "is not UTF-8 text".to_owned(),
    })
}

/// Warns when accounts other than the owner can read or change a secret file.
fn warn_if_shared(path: &Path, key: &str) {
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    let mode = meta.permissions().mode() & 0o777;
    let who = match (mode & 0o040 != 0, mode & 0o004 != 0) {
        (_, true) => "every account on this machine",
        (true, false) => "its group",
        (false, false) if mode & 0o022 != 0 => {
            tracing::warn!(
                "{key}: secret file {} can be changed by other accounts (mode {mode:03o}); make it writable by kvwatch's account only (chmod 600)",
                path.display()
            );
            return;
        }
        (false, false) => return,
    };
    tracing::warn!(
        "{key}: secret file {} is readable by {who} (mode {mode:03o}); make it readable by kvwatch's account only (chmod 600)",
        path.display()
    );
}

/// Where a secret came from, for error messages about its value.
pub fn origin(reference: &SecretRef) -> String {
    match reference {
        SecretRef::Env(name) => format!("environment variable {name}"),
        SecretRef::File(path) => format!("file {}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

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

    #[test]
    fn a_secret_file_is_read_with_a_size_limit() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        std::fs::write(&big, "a".repeat(1024 * 1024)).unwrap();
        let err = resolve(&SecretRef::File(big), "sinks[0].url").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("sinks[0].url") && text.contains("big"),
            "{text}"
        );
        assert!(text.contains("larger than"), "{text}");
        let err = resolve(&SecretRef::File("/dev/zero".into()), "sinks[0].url").unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
    }

    #[test]
    fn percent_encoded_and_basic_auth_forms_are_redacted() {
        let url = Secret::new(
            "https://kv-user:p%40ss-w0rd%2Fx@hooks.example.com/hook/SEGMENT-SECRET-1?token=tok%2Fen%3Dsecret&x=1",
        );
        let mut r = Redactor::new();
        r.add(&url);
        let basic = base64::engine::general_purpose::STANDARD.encode("kv-user:p@ss-w0rd/x");
        let texts = [
            "receiver answered 401: bad token tok/en=secret".to_owned(),
            "receiver answered 401: bad password p@ss-w0rd/x".to_owned(),
            format!("receiver answered 401: Authorization: Basic {basic}"),
            "receiver answered 404: no /hook/SEGMENT-SECRET-1 here".to_owned(),
            "receiver answered 404: no %2Fhook%2FSEGMENT-SECRET-1 here".to_owned(),
            "receiver answered 400: token=tok%2fen%3dsecret".to_owned(),
        ];
        for text in texts {
            let clean = r.clean(&text);
            for leak in [
                "tok/en=secret",
                "tok%2fen",
                "p@ss-w0rd",
                "SEGMENT-SECRET",
                basic.as_str(),
            ] {
                assert!(!clean.contains(leak), "{text:?} → {clean:?}");
            }
            assert!(clean.contains(REDACTED), "{text:?} → {clean:?}");
        }
    }
}
