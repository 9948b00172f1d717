//! The command line: parse raw arguments ([`args`]), validate them into the library's
//! options (one module per command), run the command ([`crate::app`]), and map the
//! result to an exit status. `main.rs` only calls [`main`].

pub mod args;
pub mod embedded;
pub mod outbox;
pub mod replay;
pub mod report;
pub mod route;
pub mod run;
pub mod simulate;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use args::{Command, RawArgs};

/// The exit status of a replay or report that read its inputs but found no record
/// in any of them (empty files, or not Key Vault logs): not an error, not a success.
pub const NOTHING_FOUND: u8 = 3;

/// The exit status of a replay whose alerts were dead-lettered by a sink.
pub const DEAD_LETTERED: u8 = 4;

/// Runs kvwatch with the process arguments; returns the exit status.
pub fn main() -> ExitCode {
    let raw = RawArgs::parse();
    init_logging(&raw.log_level, raw.log_json);
    // Before anything opens a file or a socket (see `app::descriptors`).
    crate::app::descriptors::raise_limit();
    match run(raw.command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("kvwatch: error: {}", error_text(&err));
            ExitCode::from(1)
        }
    }
}

/// An error and its causes on one line, each said once: many errors already quote
/// their cause, and printing the chain as well would repeat it.
pub fn error_text(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.contains(text.trim()) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(text.trim());
    }
    out
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Replay(raw) => {
            let opts = replay::validate(raw)?;
            let outcome = crate::app::replay::replay(opts)?;
            eprintln!("{}", outcome.summary.render());
            let status = replay_status(&outcome);
            if let Some(metrics) = outcome.metrics {
                metrics.linger();
            }
            Ok(status)
        }
        Command::Outbox(raw) => outbox::run(raw),
        Command::Run(raw) => run::run(raw),
        Command::Route(raw) => route::run(raw),
        Command::Report(raw) => {
            let outcome = crate::app::report::report(report::validate(raw)?)?;
            eprintln!(
                "{}\nkvwatch: report written: {} incidents, {} findings, {} bytes",
                outcome.summary.render(),
                outcome.incidents,
                outcome.findings,
                outcome.bytes
            );
            Ok(if outcome.summary.unreadable_inputs > 0 {
                ExitCode::from(1)
            } else if outcome.summary.found_nothing() {
                ExitCode::from(NOTHING_FOUND)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Simulate(raw) => {
            let report = crate::simulate::simulate(&simulate::validate(raw)?)?;
            eprintln!("{}", report.render());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A replay whose alerts were dead-lettered exits 4; one with unreadable inputs or
/// deliveries still waiting exits 1 (see [`args::REPLAY_EXIT_STATUS`]).
fn replay_status(outcome: &crate::app::replay::ReplayOutcome) -> ExitCode {
    let delivery = outcome.delivery.unwrap_or_default();
    if delivery.dead_lettered > 0 {
        ExitCode::from(DEAD_LETTERED)
    } else if outcome.summary.unreadable_inputs > 0 || delivery.waiting > 0 {
        ExitCode::from(1)
    } else if outcome.summary.found_nothing() {
        ExitCode::from(NOTHING_FOUND)
    } else {
        ExitCode::SUCCESS
    }
}

fn init_logging(level: &str, json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("kvwatch={level},warn")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // A second initialisation (tests) is harmless: keep the first.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
