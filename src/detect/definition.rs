//! What every detector definition shares: the file it came from, its `[detector]`
//! header, parsing into the detector's typed settings, errors that name the file and
//! the key, its suppressions, and the [`Registration`] through which a detector
//! joins the registry (`detectors/mod.rs`).
//!
//! A leaf for the detectors: every detector folder uses it, and it uses no detector,
//! so a detector can be read, changed or removed without touching another.

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::detector::{Detector, DetectorError};
use super::suppress::Suppressor;
use crate::config::maintenance;
use std::sync::Arc;

use crate::config::{ConfigDuration, SuppressConfig};
use crate::event::roles::RoleCatalog;
use crate::event::PrincipalKind;

/// A detector file's text and the name errors use for it.
#[derive(Debug, Clone)]
pub struct Source {
    /// `detectors/failed_auth.toml` or the path it was read from.
    pub file: String,
    /// The TOML text.
    pub text: String,
    /// The roles catalogue the detector judges role assignments by (the built-in
    /// one, or `[detectors] roles`).
    pub roles: Arc<RoleCatalog>,
}

/// The `[detector]` table every file starts with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Which detector this file configures: a name in the registry
    /// (`kvwatch::detect::detectors::REGISTRY`).
    pub name: String,
    /// Whether the detector runs.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// What the detector is for, in a sentence (for the README and `--help`).
    #[serde(default)]
    pub description: String,
}

fn yes() -> bool {
    true
}

/// Parses, validates and checks the examples of one definition of a detector; the
/// configuration's own suppressions (`[detectors.suppress]`) are its only other input.
pub type Load = fn(&Source, &SuppressConfig) -> Result<Box<dyn Detector>, DetectorError>;

/// One detector kvwatch has, as the registry lists it.
#[derive(Debug, Clone, Copy)]
pub struct Registration {
    /// The name alerts carry and a file's `[detector] name` selects.
    pub name: &'static str,
    /// Its shipped definition, as a path in the repository (`detectors/<name>.toml`).
    pub file: &'static str,
    /// The shipped definition's text (embedded in the binary).
    pub text: &'static str,
    /// Builds the detector from a definition.
    pub load: Load,
    /// What an analyst should do about one of its alerts, most urgent first.
    pub next_steps: &'static [&'static str],
}

/// The `[detector]` table of a file, read before anything else.
pub fn header(src: &Source) -> Result<Header, DetectorError> {
    #[derive(Deserialize)]
    struct Peek {
        detector: Header,
    }
    toml::from_str::<Peek>(&src.text)
        .map(|p| p.detector)
        .map_err(|e| {
            DetectorError::Definition(format!(
                "{}: every detector file needs a [detector] table with a name: {e}",
                src.file
            ))
        })
}

/// Parses a whole detector file into its typed form.
pub fn parse<T: DeserializeOwned>(src: &Source) -> Result<T, DetectorError> {
    toml::from_str(&src.text).map_err(|e| {
        DetectorError::Definition(format!("{}: {}", src.file, e.to_string().trim_end()))
    })
}

/// An impossible value, naming the file and the key.
pub fn invalid(src: &Source, key: &str, message: &str) -> DetectorError {
    DetectorError::Definition(format!("{}: `{key}`: {message}", src.file))
}

/// Fails with [`invalid`] unless `ok`.
pub fn require(ok: bool, src: &Source, key: &str, message: &str) -> Result<(), DetectorError> {
    if ok {
        Ok(())
    } else {
        Err(invalid(src, key, message))
    }
}

/// The configuration's suppressions (`everywhere`) plus the file's own (`local`).
pub fn suppressor(
    src: &Source,
    everywhere: &SuppressConfig,
    local: &SuppressConfig,
) -> Result<Suppressor, DetectorError> {
    maintenance::validate(&local.maintenance)
        .map_err(|(key, m)| invalid(src, &format!("suppress.{key}"), &m))?;
    Suppressor::compile(&[everywhere, local])
        .map_err(|(key, m)| invalid(src, &format!("suppress.{key}"), &m))
}

/// Reads a list of principal kinds (`user`, `service_principal`, `managed_identity`,
/// `anonymous`) for `#[serde(deserialize_with)]`.
pub fn kinds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<PrincipalKind>, D::Error> {
    let names: Vec<String> = Vec::deserialize(d)?;
    names
        .iter()
        .map(|n| {
            PrincipalKind::ALL.into_iter().find(|k| k.as_str() == n).ok_or_else(|| {
                serde::de::Error::custom(format!("unknown principal kind {n:?}; expected user, service_principal, managed_identity or anonymous"))
            })
        })
        .collect()
}

/// Seconds of a configured duration (saturating into `u32`).
pub fn secs(d: ConfigDuration) -> u32 {
    d.as_std().as_secs().min(u64::from(u32::MAX)) as u32
}
