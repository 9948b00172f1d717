//! Validates `kvwatch report` arguments into [`ReportOptions`].
//!
//! The inputs and filters are validated exactly as for `kvwatch replay`
//! ([`super::replay::validate_input`]); the report adds its format (from `--format`,
//! else the `--out` extension, else HTML), the output file and `--principal`.

use anyhow::{bail, Result};

use super::args::RawReportArgs;
use super::replay::validate_input;
use crate::app::report::ReportOptions;
use crate::report::ReportFormat;

/// Turns raw arguments into options, or says what to fix.
pub fn validate(raw: RawReportArgs) -> Result<ReportOptions> {
    let input = validate_input(raw.input, &raw.input_format)?;
    let from_extension = raw.out.as_deref().and_then(ReportFormat::from_extension);
    let format = match raw.format.as_deref() {
        Some(text) => text
            .parse::<ReportFormat>()
            .map_err(|e| anyhow::anyhow!("--format: {e}"))?,
        None => from_extension.unwrap_or_default(),
    };
    if let (Some(out), Some(implied)) = (&raw.out, from_extension) {
        if implied != format {
            bail!(
                "--out {} looks like {implied} but --format is {format}; make them agree",
                out.display()
            );
        }
    }
    if let Some(out) = &raw.out {
        if out.is_dir() {
            bail!(
                "--out {}: is a folder; give a file name such as report.html",
                out.display()
            );
        }
        if out
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .is_some_and(|d| !d.is_dir())
        {
            bail!("--out {}: its folder does not exist", out.display());
        }
    }
    let principals: Vec<String> = raw
        .principal
        .iter()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    Ok(ReportOptions {
        input,
        principals,
        format,
        out: raw.out,
    })
}
