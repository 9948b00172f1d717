//! Whole-pipeline speed on the project's simulated fortnight (`kvwatch simulate`
//! defaults: two weeks of a tenant, every attack scenario):
//!
//! - the floor: read every `PT1H.json` and parse each line with serde_json into a
//!   struct of borrowed fields (`benches/common/bare.rs`), and into a
//!   `serde_json::Value`;
//! - `kvwatch replay` of the folder, in-process, all detectors, alerts to a file;
//! - `kvwatch report` of the folder (the HTML report).
//!
//! Each is run five times, interleaved so all see the same machine load; medians are
//! printed with the ratios the issues ask for (replay at least half as fast as the
//! bare parse; the report at most twice the replay time). Run with
//! `cargo bench --bench fortnight`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test or bench stops at the first surprise, with its location

#[path = "common/bare.rs"]
mod bare;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bare::BareRecord;
use clap::Parser;
use kvwatch::cli::args::{Command, RawArgs};

const ROUNDS: usize = 5;

fn parse(argv: &[&str]) -> Command {
    RawArgs::try_parse_from(argv)
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"))
        .command
}

fn record_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.file_name() == "PT1H.json")
        .map(walkdir::DirEntry::into_path)
        .collect();
    files.sort();
    files
}

/// Reads and parses every line; returns the records parsed.
fn bare_parse(files: &[PathBuf], into_value: bool) -> usize {
    let mut records = 0;
    for f in files {
        let bytes = std::fs::read(f).expect("a simulated blob");
        for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            if into_value {
                let v: serde_json::Value = serde_json::from_slice(line).expect("valid JSON");
                std::hint::black_box(&v);
            } else {
                let r: BareRecord<'_> = serde_json::from_slice(line).expect("a record");
                std::hint::black_box(&r);
            }
            records += 1;
        }
    }
    records
}

fn replay(logs: &Path, geoip: &str, out: &Path) {
    let Command::Replay(raw) = parse(&[
        "kvwatch",
        "replay",
        "--no-progress",
        logs.to_str().expect("utf-8 path"),
        "--geoip",
        geoip,
        "-o",
        out.to_str().expect("utf-8 path"),
    ]) else {
        unreachable!("a replay command line")
    };
    let opts = kvwatch::cli::replay::validate(raw).expect("valid replay arguments");
    kvwatch::app::replay::replay(opts).expect("the replay runs");
}

fn report(logs: &Path, geoip: &str, out: &Path) {
    let Command::Report(raw) = parse(&[
        "kvwatch",
        "report",
        "--no-progress",
        logs.to_str().expect("utf-8 path"),
        "--geoip",
        geoip,
        "--out",
        out.to_str().expect("utf-8 path"),
    ]) else {
        unreachable!("a report command line")
    };
    let opts = kvwatch::cli::report::validate(raw).expect("valid report arguments");
    kvwatch::app::report::report(opts).expect("the report runs");
}

fn timed(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and
    // expects a quick check, which the simulation alone would not be.
    if !std::env::args().any(|a| a == "--bench") {
        println!("fortnight: run with `cargo bench --bench fortnight`");
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    let logs = dir.path().join("fortnight");
    let Command::Simulate(raw) = parse(&[
        "kvwatch",
        "simulate",
        "--out",
        logs.to_str().expect("utf-8 path"),
    ]) else {
        unreachable!("a simulate command line")
    };
    kvwatch::simulate::simulate(&kvwatch::cli::simulate::validate(raw).expect("valid"))
        .expect("the simulation runs");
    let geoip = logs.join("_geoip.mmdb");
    let geoip = geoip.to_str().expect("utf-8 path");
    let files = record_files(&logs);
    let (alerts, html) = (
        dir.path().join("alerts.jsonl"),
        dir.path().join("report.html"),
    );

    // Warm the page cache and the allocator once, then interleave.
    let records = bare_parse(&files, false);
    replay(&logs, geoip, &alerts);
    let mut times: [Vec<Duration>; 4] = Default::default();
    for _ in 0..ROUNDS {
        times[0].push(timed(|| {
            bare_parse(&files, false);
        }));
        times[1].push(timed(|| {
            bare_parse(&files, true);
        }));
        times[2].push(timed(|| replay(&logs, geoip, &alerts)));
        times[3].push(timed(|| report(&logs, geoip, &html)));
    }
    let [bare, value, replayed, reported] = times.map(median);
    let rate = |d: Duration| records as f64 / d.as_secs_f64();
    println!(
        "simulated fortnight: {records} records in {} blobs; medians of {ROUNDS}",
        files.len()
    );
    for (what, d) in [
        ("bare parse, borrowed struct", bare),
        ("bare parse, serde_json::Value", value),
        ("kvwatch replay (all detectors)", replayed),
        ("kvwatch report (HTML)", reported),
    ] {
        println!(
            "  {what:<32} {:>9.1} ms  {:>10.0} records/s",
            d.as_secs_f64() * 1e3,
            rate(d)
        );
    }
    println!(
        "  replay speed / bare borrowed parse: {:.2}x (issue 3: at least 0.5x)",
        bare.as_secs_f64() / replayed.as_secs_f64()
    );
    println!(
        "  report time / replay time:          {:.2}x (issue 8: at most 2x)",
        reported.as_secs_f64() / replayed.as_secs_f64()
    );
}
