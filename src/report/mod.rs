//! `kvwatch report`: what an investigator replaying archived logs needs to read, not
//! the JSON Lines machine contract: incidents on a timeline, what each principal did
//! (when, where from, with what), what changed on each vault, and which Key Vault best
//! practices the logs show are not followed.
//!
//! The report watches the replay pipeline: [`collect::Collector`] is one more
//! observer beside the summary and metrics, folding events and alerts into bounded
//! aggregates ([`stats`], [`series`], and the Activity Log's role assignments and
//! diagnostic settings in [`assignments`] and [`audit_settings`]). [`assemble`] turns them, the alerts and the
//! [`hygiene`] findings into the [`model::ReportModel`], which is the JSON form;
//! [`html`] (with [`svg`] charts) and [`markdown`] lay the same model out for people.

pub mod assemble;
mod assemble_principals;
mod assemble_vaults;
pub mod assignments;
pub mod audit_settings;
mod capped;
pub mod collect;
mod collect_control;
mod collect_requests;
pub mod html;
mod html_principals;
mod html_sections;
mod html_vaults;
pub mod hygiene;
pub mod markdown;
mod markdown_subjects;
pub mod model;
pub mod series;
pub mod stats;
pub mod svg;

use std::fmt;
use std::str::FromStr;

pub use assemble::{build, Build};
pub use collect::{Collected, Collector};
pub use model::ReportModel;

/// The report's output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReportFormat {
    /// One self-contained HTML file.
    #[default]
    Html,
    /// Markdown.
    Markdown,
    /// The model as JSON.
    Json,
}

impl ReportFormat {
    /// The format a file name's extension implies, if any.
    pub fn from_extension(path: &std::path::Path) -> Option<ReportFormat> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "html" | "htm" => Some(ReportFormat::Html),
            "md" | "markdown" => Some(ReportFormat::Markdown),
            "json" => Some(ReportFormat::Json),
            _ => None,
        }
    }
}

impl FromStr for ReportFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "html" => Ok(ReportFormat::Html),
            "md" | "markdown" => Ok(ReportFormat::Markdown),
            "json" => Ok(ReportFormat::Json),
            other => Err(format!(
                "unknown report format {other:?}; expected html, md or json"
            )),
        }
    }
}

impl fmt::Display for ReportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReportFormat::Html => "html",
            ReportFormat::Markdown => "md",
            ReportFormat::Json => "json",
        })
    }
}

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The model could not be serialised.
    #[error("cannot serialise the report: {0}")]
    Json(#[from] serde_json::Error),
}

/// Renders the model in `format`.
pub fn render(model: &ReportModel, format: ReportFormat) -> Result<String, ReportError> {
    Ok(match format {
        ReportFormat::Html => html::render(model),
        ReportFormat::Markdown => markdown::render(model),
        ReportFormat::Json => {
            let mut text = serde_json::to_string_pretty(model)?;
            text.push('\n');
            text
        }
    })
}
