//! Detector definitions: one TOML file per detector, shipped in `detectors/` and
//! embedded in the binary, replaceable with `[detectors] dir` / `--detectors DIR`.
//!
//! Every file is parsed into its detector's typed settings (unknown keys are errors
//! that name the file, the line and the key), validated (impossible values are errors
//! that name the file and the key), given its suppressions, and then its own examples
//! are run through a fresh instance of the detector: a definition whose examples do
//! not give the result they promise is refused at start, like a failing test.

use std::collections::HashMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::suppress::Suppressor;
use super::{access_change, bulk_retrieval, failed_auth, unusual_geo, Detector, DetectorError};
use crate::config::{Config, SuppressConfig};

/// A detector file's text and the name errors use for it.
#[derive(Debug, Clone)]
pub struct Source {
    /// `detectors/failed_auth.toml` or the path it was read from.
    pub file: String,
    /// The TOML text.
    pub text: String,
}

/// The `[detector]` table every file starts with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Which detector this file configures (`failed_auth`, `unusual_geo`,
    /// `access_policy_change`, `bulk_secret_retrieval`).
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

#[derive(Deserialize)]
struct Peek {
    detector: Header,
}

/// The definitions shipped with kvwatch.
pub const BUILTIN: [(&str, &str); 4] = [
    (
        "detectors/failed_auth.toml",
        include_str!("../../detectors/failed_auth.toml"),
    ),
    (
        "detectors/unusual_geo.toml",
        include_str!("../../detectors/unusual_geo.toml"),
    ),
    (
        "detectors/access_policy_change.toml",
        include_str!("../../detectors/access_policy_change.toml"),
    ),
    (
        "detectors/bulk_secret_retrieval.toml",
        include_str!("../../detectors/bulk_secret_retrieval.toml"),
    ),
];

/// The definitions to load: the configured folder's `*.toml`, else the built-in ones.
pub fn sources(config: &Config) -> Result<Vec<Source>, DetectorError> {
    let Some(dir) = &config.detectors.dir else {
        return Ok(BUILTIN
            .iter()
            .map(|(f, t)| Source {
                file: (*f).to_owned(),
                text: (*t).to_owned(),
            })
            .collect());
    };
    read_dir(dir)
}

fn read_dir(dir: &Path) -> Result<Vec<Source>, DetectorError> {
    let err = |e: std::io::Error| {
        DetectorError::Definition(format!(
            "cannot read the detectors folder {}: {e}",
            dir.display()
        ))
    };
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(err)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(DetectorError::Definition(format!(
            "{}: no detector files (*.toml) found",
            dir.display()
        )));
    }
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).map_err(|e| {
                DetectorError::Definition(format!("cannot read {}: {e}", p.display()))
            })?;
            Ok(Source {
                file: p.display().to_string(),
                text,
            })
        })
        .collect()
}

/// Builds the configured detectors (examples checked, disabled ones left out).
pub fn build_detectors(config: &Config) -> Result<Vec<Box<dyn Detector>>, DetectorError> {
    let mut out: Vec<Box<dyn Detector>> = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    for src in sources(config)? {
        let peek: Peek = toml::from_str(&src.text).map_err(|e| {
            DetectorError::Definition(format!(
                "{}: every detector file needs a [detector] table with a name: {e}",
                src.file
            ))
        })?;
        let name = peek.detector.name;
        if let Some(other) = seen.insert(name.clone(), src.file.clone()) {
            return Err(DetectorError::Definition(format!(
                "{}: detector {name} is already defined in {other}",
                src.file
            )));
        }
        let detector: Box<dyn Detector> = match name.as_str() {
            failed_auth::NAME => failed_auth::load(&src, config)?,
            unusual_geo::NAME => unusual_geo::load(&src, config)?,
            access_change::NAME => access_change::load(&src, config)?,
            bulk_retrieval::NAME => bulk_retrieval::load(&src, config)?,
            other => {
                return Err(DetectorError::Definition(format!(
                    "{}: [detector] name = {other:?} is not a detector kvwatch has (failed_auth, unusual_geo, \
                     access_policy_change, bulk_secret_retrieval)",
                    src.file
                )))
            }
        };
        if peek.detector.enabled {
            out.push(detector);
        } else {
            tracing::info!(detector = %name, file = %src.file, "detector disabled");
        }
    }
    Ok(out)
}

/// Builds one detector by name from the configured definitions (examples checked),
/// whether or not its file enables it; for tests and tools.
pub fn build_named(config: &Config, name: &str) -> Result<Box<dyn Detector>, DetectorError> {
    for src in sources(config)? {
        let peek: Peek = match toml::from_str(&src.text) {
            Ok(p) => p,
            Err(_) => continue,
        };
        if peek.detector.name == name {
            return match name {
                failed_auth::NAME => failed_auth::load(&src, config),
                unusual_geo::NAME => unusual_geo::load(&src, config),
                access_change::NAME => access_change::load(&src, config),
                bulk_retrieval::NAME => bulk_retrieval::load(&src, config),
                other => Err(DetectorError::Definition(format!(
                    "{}: unknown detector {other}",
                    src.file
                ))),
            };
        }
    }
    Err(DetectorError::Definition(format!(
        "no definition of detector {name}"
    )))
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

/// The config's suppressions plus the file's own.
pub fn suppressor(
    src: &Source,
    config: &Config,
    local: &SuppressConfig,
) -> Result<Suppressor, DetectorError> {
    super::suppress::validate(local)
        .map_err(|(key, m)| invalid(src, &format!("suppress.{key}"), &m))?;
    Suppressor::compile(&[&config.detectors.suppress, local])
        .map_err(|(key, m)| invalid(src, &format!("suppress.{key}"), &m))
}

/// Reads a list of principal kinds (`user`, `service_principal`, `managed_identity`,
/// `anonymous`) for `#[serde(deserialize_with)]`.
pub fn kinds<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<crate::event::PrincipalKind>, D::Error> {
    use crate::event::PrincipalKind;
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
pub fn secs(d: crate::config::ConfigDuration) -> u32 {
    d.as_std().as_secs().min(u64::from(u32::MAX)) as u32
}
