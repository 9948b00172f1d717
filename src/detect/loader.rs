//! How a detector file becomes a running detector, written once for every
//! detector: parse the TOML, refuse impossible values, compile the suppressions
//! (the configuration's and the file's own), build the rules, run the file's true
//! and false positive examples on fresh detectors, and hand back one to run.
//!
//! A detector supplies its file type ([`DetectorFile`]) and how its rules are made
//! from the validated file; a file whose examples fail never loads.

use serde::de::DeserializeOwned;

use super::definition::{self, Source};
use super::detector::{Detector, DetectorError};
use super::examples::{self, Example, ExampleGeo};
use super::stateful::{Rules, Stateful};
use crate::config::SuppressConfig;

/// What every detector file holds beside its own settings.
pub trait DetectorFile: DeserializeOwned {
    /// Refuses impossible values, naming the file and the key.
    fn validate(&self, src: &Source) -> Result<(), DetectorError>;

    /// The file's own suppressions, its examples and the networks they place.
    fn shared(&self) -> (&SuppressConfig, &[Example], &[ExampleGeo]);
}

/// Loads the detector file `src` (with the configuration's suppressions
/// `everywhere`) into a detector running the rules `rules` makes from it.
pub fn load<F, R>(
    src: &Source,
    everywhere: &SuppressConfig,
    rules: impl FnOnce(&F) -> R,
) -> Result<Box<dyn Detector>, DetectorError>
where
    F: DetectorFile,
    R: Rules + Clone + 'static,
{
    let file: F = definition::parse(src)?;
    file.validate(src)?;
    let (local, examples, geo) = file.shared();
    let suppressor = definition::suppressor(src, everywhere, local)?;
    let rules = rules(&file);
    let make =
        || -> Box<dyn Detector> { Box::new(Stateful::new(rules.clone(), suppressor.clone())) };
    examples::check(&src.file, examples, geo, &make)?;
    Ok(make())
}
