//! The command line: parse raw arguments ([`args`]), validate them into the library's
//! options (one module per command), run the command ([`crate::app`]), and map the
//! result to an exit status. `main.rs` only calls [`main`].

pub mod args;
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

/// Runs kvwatch with the process arguments; returns the exit status.
pub fn main() -> ExitCode {
    let raw = RawArgs::parse();
    init_logging(&raw.log_level, raw.log_json);
    match run(raw.command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("kvwatch: error: {err:#}");
            ExitCode::from(1)
        }
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Replay(raw) => {
            let opts = replay::validate(raw)?;
            let outcome = crate::app::replay::replay(opts)?;
            eprintln!("{}", outcome.summary.render());
            if let Some(metrics) = outcome.metrics {
                metrics.linger();
            }
            Ok(
                if outcome.summary.unreadable_inputs > 0
                    || outcome.delivery.is_some_and(|d| d.waiting > 0)
                {
                    ExitCode::from(1)
                } else if outcome.summary.found_nothing() {
                    ExitCode::from(NOTHING_FOUND)
                } else {
                    ExitCode::SUCCESS
                },
            )
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
