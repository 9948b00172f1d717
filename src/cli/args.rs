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

/// How `kvwatch replay` ends (its `--help` shows it; the README repeats it).
pub const REPLAY_EXIT_STATUS: &str = "Exit status:
  0  every input was read and every alert delivered (or no sinks are configured)
  1  an error, an unreadable input, or deliveries still waiting in the outbox
     when the drain timeout passed (the next kvwatch run delivers them)
  4  alerts were dead-lettered: a sink refused them for good or they ran out of
     tries; see `kvwatch outbox list --dead`";

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the detection pipeline over archived logs (files, folders, `-` for stdin).
    #[command(after_help = REPLAY_EXIT_STATUS)]
    Replay(RawReplayArgs),
    /// Inspect and manage the alert delivery outbox (list, retry, drop, send).
    Outbox(super::outbox::RawOutboxArgs),
    /// Generate realistic Key Vault audit logs with labelled attacks (for evaluation).
    Simulate(RawSimulateArgs),
    /// Replay archived logs into a report for investigators: incidents, per-principal
    /// activity, per-vault changes and hygiene findings (HTML, Markdown or JSON).
    Report(RawReportArgs),
    /// Consume Key Vault audit logs live from Event Hubs and alert within seconds.
    Run(super::run::RawRunArgs),
    /// Re-publish audit records to a second Event Hub keyed by principal (scale-out).
    Route(super::route::RawRouteArgs),
}

/// `kvwatch simulate`.
#[derive(Debug, Args)]
pub struct RawSimulateArgs {
    /// The output folder (Storage layout, `_labels.jsonl`, `_tenant.json`, `_geoip.mmdb`).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Number of days to simulate.
    #[arg(long, default_value_t = 14)]
    pub days: u32,
    /// First day (YYYY-MM-DD, UTC).
    #[arg(long, default_value = "2026-11-01")]
    pub start: String,
    /// Random seed; the same arguments give byte-identical output.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Extra low-activity principals (scale mode, for memory benchmarks).
    #[arg(long, default_value_t = 0)]
    pub principals: u64,
    /// Output shape: storage, event-hubs or both.
    #[arg(long, default_value = "storage")]
    pub shape: String,
    /// Attack scenarios: all or none.
    #[arg(long, default_value = "all")]
    pub scenarios: String,
    /// Multiplier of machine traffic (key operations, polling, restarts).
    #[arg(long, default_value_t = 1.0)]
    pub volume: f64,
    /// Leave out the Managed HSM.
    #[arg(long)]
    pub no_hsm: bool,
    /// Also write the tenant's Activity Log (role assignments, diagnostic settings,
    /// vault deletions and their attacks) under insights-activity-logs/.
    #[arg(long)]
    pub activity_log: bool,
    /// Replace a previous simulation's output in the folder.
    #[arg(long)]
    pub overwrite: bool,
}

/// The inputs and filters `kvwatch replay` and `kvwatch report` share.
#[derive(Debug, Args)]
pub struct RawInputArgs {
    /// Files or folders to read (recursively; the Storage layout is understood), or `-`.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
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
    /// Stop at the first rejected record or unreadable input.
    #[arg(long)]
    pub strict: bool,
    /// Never show the progress line.
    #[arg(long)]
    pub no_progress: bool,
    /// Threads decoding the inputs (default: every core). The alerts are the same
    /// whatever the number.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

/// `kvwatch replay`.
#[derive(Debug, Args)]
pub struct RawReplayArgs {
    /// The inputs and filters.
    #[command(flatten)]
    pub input: RawInputArgs,
    /// Input format: auto, json-lines, event-hubs, log-analytics-json, log-analytics-csv.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// Write alerts here instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write the run summary here as JSON.
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// Serve /metrics, /healthz and /readyz during the replay, on ADDR (port 0 picks a
    /// free port) or, with no value, on the config's [metrics] listen address.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "")]
    pub metrics_listen: Option<String>,
    /// Keep serving metrics this long after the replay (30s, 5m), for a last scrape.
    #[arg(long, value_name = "DURATION", requires = "metrics_listen")]
    pub metrics_linger: Option<String>,
    /// Write the final metrics, in Prometheus text format, to this file.
    #[arg(long, value_name = "FILE")]
    pub metrics_out: Option<PathBuf>,
    /// Load detector state (baselines, open incidents, deduplication) from this file
    /// before the replay and save it after: learn from last month, detect on this week.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Start the --state file over instead of loading it (it is replaced at the end).
    #[arg(long, requires = "state")]
    pub reset_state: bool,
}

/// `kvwatch report`.
#[derive(Debug, Args)]
pub struct RawReportArgs {
    /// The inputs and filters (as for `kvwatch replay`).
    #[command(flatten)]
    pub input: RawInputArgs,
    /// Input format: auto, json-lines, event-hubs, log-analytics-json, log-analytics-csv
    /// (`--format` names the report's format here).
    #[arg(long, default_value = "auto", value_name = "FORMAT")]
    pub input_format: String,
    /// Only these principals get sections, alerts and principal findings (object id,
    /// app id or UPN; repeat or separate with commas); vault sections and findings are
    /// kept for the vaults they touched.
    #[arg(long, value_delimiter = ',', value_name = "PRINCIPAL")]
    pub principal: Vec<String>,
    /// Report format: html, md or json (default: from the --out extension, else html).
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Write the report here (default: standard output).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}
