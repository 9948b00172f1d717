//! `kvwatch outbox list|retry|drop|send`: look into the delivery outbox and act on it.
//!
//! The outbox file is locked by the process that has it open: run these while the
//! kvwatch that owns it is stopped (or give each kvwatch its own `[outbox] path`).
//! `retry` and `drop` touch dead-lettered deliveries unless `--all` says every one.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};

use crate::alert::Alert;
use crate::app::delivery::DeliveryRuntime;
use crate::config::{Config, ConfigDuration};
use crate::sink::outbox::{Outbox, Selection};
use crate::sink::render::inert;

/// `kvwatch outbox`.
#[derive(Debug, Args)]
pub struct RawOutboxArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: OutboxAction,
    /// A configuration file (TOML): where the outbox is, and the sinks.
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
}

/// The outbox actions.
#[derive(Debug, Subcommand)]
pub enum OutboxAction {
    /// List waiting and dead-lettered deliveries, by sink.
    List {
        /// Only dead-lettered deliveries.
        #[arg(long)]
        dead: bool,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Make dead-lettered deliveries (with --all: every delivery) due now, with fresh tries.
    Retry(RawSelection),
    /// Remove dead-lettered deliveries (with --all: every delivery) for good.
    Drop(RawSelection),
    /// Queue alerts from JSON Lines files (as `kvwatch replay` prints them), deliver
    /// everything waiting, and exit when the outbox has drained.
    Send {
        /// Alert files (`-` for standard input); none: only deliver what is waiting.
        #[arg(value_name = "FILE")]
        files: Vec<PathBuf>,
        /// How long to wait for the outbox to drain (default: `[outbox] drain_timeout`).
        #[arg(long, value_name = "DURATION")]
        timeout: Option<String>,
    },
}

/// Which deliveries `retry` and `drop` act on.
#[derive(Debug, Args)]
pub struct RawSelection {
    /// Only this sink's deliveries.
    #[arg(long)]
    pub sink: Option<String>,
    /// Only this alert's deliveries.
    #[arg(long)]
    pub id: Option<String>,
    /// Waiting deliveries too, not only dead-lettered ones.
    #[arg(long)]
    pub all: bool,
}

impl RawSelection {
    fn selection(&self) -> Selection {
        Selection {
            sink: self.sink.clone(),
            alert_id: self.id.clone(),
            dead_only: !self.all,
        }
    }
}

/// Runs an outbox action.
pub fn run(raw: RawOutboxArgs) -> Result<ExitCode> {
    let config = match &raw.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let path = config.outbox.resolved_path();
    let open = || Outbox::open(&path).context("cannot open the outbox");
    match raw.action {
        OutboxAction::List { dead, json } => list(&open()?, &config, dead, json),
        OutboxAction::Retry(sel) => {
            let n = open()?.retry(&sel.selection(), chrono::Utc::now())?;
            eprintln!("kvwatch: {n} deliveries due again; they go out with the next kvwatch run that has these sinks");
            Ok(ExitCode::SUCCESS)
        }
        OutboxAction::Drop(sel) => {
            let n = open()?.drop_selected(&sel.selection())?;
            eprintln!("kvwatch: {n} deliveries dropped");
            Ok(ExitCode::SUCCESS)
        }
        OutboxAction::Send { files, timeout } => send(&config, &files, timeout.as_deref()),
    }
}

fn list(outbox: &Outbox, config: &Config, dead_only: bool, json: bool) -> Result<ExitCode> {
    let entries = outbox.list()?;
    let mut out = std::io::stdout().lock();
    if !json {
        writeln!(
            out,
            "{:<14} {:<8} {:>5}  {:<20} {:<24} {:<8} {:<22} LAST ERROR",
            "SINK", "STATE", "TRIES", "NEXT ATTEMPT", "ALERT", "SEVERITY", "DETECTOR"
        )?;
    }
    for p in entries.iter().filter(|p| !dead_only || p.state.dead) {
        let configured = config.sinks.iter().any(|s| s.name == p.sink);
        let state = match (p.state.dead, p.state.digest) {
            (true, _) => "dead",
            (false, true) => "digest",
            (false, false) => "waiting",
        };
        let (severity, detector) = p.alert.as_ref().map_or(("?", "?".to_owned()), |a| {
            (a.severity.as_str(), a.detector.clone())
        });
        let error = p.state.last_error.as_deref().map(inert).unwrap_or_default();
        if json {
            let line = serde_json::json!({
                "sink": p.sink, "configured": configured, "state": state, "tries": p.state.tries,
                "enqueued_at": p.state.enqueued(), "next_attempt": p.state.next(), "alert_id": p.state.alert_id,
                "severity": severity, "detector": detector, "last_error": p.state.last_error,
            });
            writeln!(out, "{line}")?;
        } else {
            let sink = if configured {
                p.sink.clone()
            } else {
                format!("{}(gone)", p.sink)
            };
            let next = if p.state.dead {
                "-".to_owned()
            } else {
                p.state.next().format("%Y-%m-%d %H:%M:%S").to_string()
            };
            writeln!(
                out,
                "{sink:<14} {state:<8} {:>5}  {next:<20} {:<24} {severity:<8} {:<22} {error}",
                p.state.tries,
                p.state.alert_id,
                inert(&detector)
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_alerts(files: &[PathBuf]) -> Result<Vec<Alert>> {
    let mut alerts = Vec::new();
    for file in files {
        let reader: Box<dyn BufRead> = if file.as_os_str() == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(std::io::BufReader::new(
                std::fs::File::open(file)
                    .with_context(|| format!("cannot open {}", file.display()))?,
            ))
        };
        for (n, line) in reader.lines().enumerate() {
            let line = line.with_context(|| format!("cannot read {}", file.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            let alert: Alert = serde_json::from_str(&line).with_context(|| {
                format!(
                    "{}:{}: not an alert (the JSON Lines `kvwatch replay` prints)",
                    file.display(),
                    n + 1
                )
            })?;
            alerts.push(alert.bounded());
        }
    }
    Ok(alerts)
}

fn send(config: &Config, files: &[PathBuf], timeout: Option<&str>) -> Result<ExitCode> {
    let limit = match timeout {
        Some(t) => t
            .parse::<ConfigDuration>()
            .map_err(anyhow::Error::msg)
            .context("--timeout")?
            .as_std(),
        None => config.outbox.drain_timeout.as_std(),
    };
    let alerts = read_alerts(files)?;
    let Some(delivery) = DeliveryRuntime::start(config, Vec::new())? else {
        bail!("the config has no enabled [[sinks]]; nothing to deliver to");
    };
    let mut sink = delivery.sink(config);
    for alert in &alerts {
        sink.deliver(alert)?;
    }
    sink.flush()?;
    let report = delivery.finish(limit)?;
    eprintln!(
        "kvwatch: {} alerts queued; {} deliveries still waiting, {} dead-lettered",
        alerts.len(),
        report.waiting,
        report.dead_lettered
    );
    Ok(if report.waiting > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
