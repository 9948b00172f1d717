//! The raw command line, as clap parses it: strings and flags, no meaning yet.
//! [`super::replay`] and friends validate these into the library's options.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// kvwatch watches Azure Key Vault audit logs and alerts a SOC when a vault is attacked.
#[derive(Debug, Parser)]
#[command(name = "kvwatch", version, about, long_about = None)]
pub struct RawArgs {
    /// Log level for standard error (error, warn, info, debug, trace); overridden by RUST_LOG.
    #[arg(long, global = true, default_value = "warn")]
    pub log_level: String,
    /// Log as JSON lines instead of text.
    #[arg(long, global = true)]
    pub log_json: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the detection pipeline over archived logs (files, folders, `-` for stdin).
    Replay(RawReplayArgs),
}

/// `kvwatch replay`.
#[derive(Debug, Args)]
pub struct RawReplayArgs {
    /// Files or folders to read (recursively; the Storage layout is understood), or `-`.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Input format: auto, json-lines, event-hubs, log-analytics-json, log-analytics-csv.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// Only events at or after this time (RFC 3339, or YYYY-MM-DD).
    #[arg(long)]
    pub since: Option<String>,
    /// Only events before this time (RFC 3339, or YYYY-MM-DD).
    #[arg(long)]
    pub until: Option<String>,
    /// Only these vaults (repeat or separate with commas).
    #[arg(long, value_delimiter = ',')]
    pub vault: Vec<String>,
    /// A MaxMind-format database for caller geolocation (overrides the config).
    #[arg(long, value_name = "FILE")]
    pub geoip: Option<PathBuf>,
    /// A configuration file (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Write alerts here instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write the run summary here as JSON.
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// Stop at the first rejected record or unreadable input.
    #[arg(long)]
    pub strict: bool,
    /// Never show the progress line.
    #[arg(long)]
    pub no_progress: bool,
}
