//! Building detectors from their definitions, through the registry
//! ([`super::detectors::REGISTRY`]): the definitions to load (the configured folder's
//! `*.toml`, else the ones shipped in the binary), the detector each file names, the
//! error when it names none, and the next steps an alert's renderer shows.
//!
//! Every file is parsed into its detector's typed settings (unknown keys are errors
//! that name the file, the line and the key), validated (impossible values are errors
//! that name the file and the key), given its suppressions, and then its own examples
//! are run through a fresh instance of the detector: a definition whose examples do
//! not give the result they promise is refused at start, like a failing test.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::baseline::BaselineSettings;
use super::definition::{self, Registration, Source};
use super::detector::{Detector, DetectorError};
use super::detectors::REGISTRY;
use super::engine::{enricher_from_config, Engine};
use super::enrichment::Enricher;
use super::incident::IncidentPolicy;
use crate::config::{Config, DetectorsConfig};
use crate::event::roles::RoleCatalog;

/// The registered detector of this name.
pub fn registered(name: &str) -> Option<&'static Registration> {
    REGISTRY.iter().find(|r| r.name == name)
}

/// What an analyst should do about an alert of this detector (`None`: a detector
/// this build does not have, say in an alert written by another version).
pub fn next_steps(detector: &str) -> Option<&'static [&'static str]> {
    registered(detector).map(|r| r.next_steps)
}

/// The definitions shipped in the binary, in the registry's order, judging roles by
/// the built-in roles file.
pub fn builtin() -> Vec<Source> {
    builtin_with(&Arc::new(RoleCatalog::builtin().clone()))
}

fn builtin_with(roles: &Arc<RoleCatalog>) -> Vec<Source> {
    REGISTRY
        .iter()
        .map(|r| Source {
            file: r.file.to_owned(),
            text: r.text.to_owned(),
            roles: roles.clone(),
        })
        .collect()
}

/// The roles catalogue the configuration names (`[detectors] roles`), else the
/// built-in one.
pub fn roles(config: &DetectorsConfig) -> Result<Arc<RoleCatalog>, DetectorError> {
    match &config.roles {
        Some(path) => Ok(Arc::new(RoleCatalog::load(path)?)),
        None => Ok(Arc::new(RoleCatalog::builtin().clone())),
    }
}

/// The definitions to load: the configured folder's `*.toml`, else the built-in ones,
/// each with the configured roles catalogue.
pub fn sources(config: &DetectorsConfig) -> Result<Vec<Source>, DetectorError> {
    let roles = roles(config)?;
    match &config.dir {
        Some(dir) => read_dir(dir, &roles),
        None => Ok(builtin_with(&roles)),
    }
}

fn read_dir(dir: &Path, roles: &Arc<RoleCatalog>) -> Result<Vec<Source>, DetectorError> {
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
                roles: roles.clone(),
            })
        })
        .collect()
}

/// The registration a file's `[detector] name` selects; the error lists the names.
fn registration(src: &Source, name: &str) -> Result<&'static Registration, DetectorError> {
    registered(name).ok_or_else(|| {
        let names: Vec<&str> = REGISTRY.iter().map(|r| r.name).collect();
        DetectorError::Definition(format!(
            "{}: [detector] name = {name:?} is not a detector kvwatch has ({})",
            src.file,
            names.join(", ")
        ))
    })
}

/// Builds the configured detectors (examples checked, disabled ones left out).
pub fn build_detectors(config: &DetectorsConfig) -> Result<Vec<Box<dyn Detector>>, DetectorError> {
    let mut out: Vec<Box<dyn Detector>> = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    for src in sources(config)? {
        let header = definition::header(&src)?;
        let name = header.name;
        if let Some(other) = seen.insert(name.clone(), src.file.clone()) {
            return Err(DetectorError::Definition(format!(
                "{}: detector {name} is already defined in {other}",
                src.file
            )));
        }
        let detector = (registration(&src, &name)?.load)(&src, &config.suppress)?;
        if header.enabled {
            out.push(detector);
        } else {
            tracing::info!(detector = %name, file = %src.file, "detector disabled");
        }
    }
    Ok(out)
}

/// Builds one detector by name from the configured definitions (examples checked),
/// whether or not its file enables it; for tests and tools.
pub fn build_named(
    config: &DetectorsConfig,
    name: &str,
) -> Result<Box<dyn Detector>, DetectorError> {
    for src in sources(config)? {
        let Ok(header) = definition::header(&src) else {
            continue;
        };
        if header.name == name {
            return (registration(&src, name)?.load)(&src, &config.suppress);
        }
    }
    Err(DetectorError::Definition(format!(
        "no definition of detector {name}"
    )))
}

impl Engine {
    /// Everything from the configuration: detector files, GeoIP, learning settings.
    pub fn from_config(config: &Config) -> Result<Self, DetectorError> {
        Engine::from_config_sharing(config, enricher_from_config(config)?)
    }

    /// As [`Engine::from_config`], with an enricher built once and shared (the
    /// partitions of a balanced `kvwatch run` share one GeoIP database in memory,
    /// not a copy each).
    pub fn from_config_sharing(config: &Config, enricher: Enricher) -> Result<Self, DetectorError> {
        let detectors = build_detectors(&config.detectors)?;
        let policy = IncidentPolicy {
            gap: config.incidents.gap.as_chrono(),
        };
        Ok(Engine::new(detectors, policy)
            .with_enricher(enricher)
            .with_baselines(BaselineSettings::from_config(&config.detectors)))
    }
}
