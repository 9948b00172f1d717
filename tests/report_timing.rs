//! The report's cost: over the simulated fortnight, `kvwatch report` takes at most
//! twice as long as `kvwatch replay` of the same logs (medians of interleaved runs,
//! so both see the same machine load). Its own test binary, so no other test of
//! this crate runs beside it.

use std::path::Path;
use std::time::{Duration, Instant};

use clap::Parser;
use kvwatch::cli::args::{Command, RawArgs};

fn parse(argv: &[&str]) -> Command {
    RawArgs::try_parse_from(argv)
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"))
        .command
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

fn replay(logs: &Path, geoip: &str, out: &Path) {
    let Command::Replay(raw) = parse(&[
        "kvwatch",
        "replay",
        "--no-progress",
        logs.to_str().unwrap(),
        "--geoip",
        geoip,
        "-o",
        out.to_str().unwrap(),
    ]) else {
        panic!()
    };
    kvwatch::app::replay::replay(kvwatch::cli::replay::validate(raw).unwrap()).unwrap();
}

fn report(logs: &Path, geoip: &str, out: &Path) {
    let Command::Report(raw) = parse(&[
        "kvwatch",
        "report",
        "--no-progress",
        logs.to_str().unwrap(),
        "--geoip",
        geoip,
        "--out",
        out.to_str().unwrap(),
    ]) else {
        panic!()
    };
    kvwatch::app::report::report(kvwatch::cli::report::validate(raw).unwrap()).unwrap();
}

#[test]
fn report_takes_at_most_twice_the_replay_time() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("fortnight");
    let Command::Simulate(raw) = parse(&["kvwatch", "simulate", "--out", logs.to_str().unwrap()])
    else {
        panic!()
    };
    kvwatch::simulate::simulate(&kvwatch::cli::simulate::validate(raw).unwrap()).unwrap();
    let geoip = logs.join("_geoip.mmdb");
    let geoip = geoip.to_str().unwrap();
    let (alerts, html) = (
        dir.path().join("alerts.jsonl"),
        dir.path().join("report.html"),
    );
    // Warm the page cache and the allocator once, then interleave.
    replay(&logs, geoip, &alerts);
    let (mut replays, mut reports) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        replays.push(timed(|| replay(&logs, geoip, &alerts)));
        reports.push(timed(|| report(&logs, geoip, &html)));
    }
    let (replay_t, report_t) = (median(replays), median(reports));
    let ratio = report_t.as_secs_f64() / replay_t.as_secs_f64();
    eprintln!("simulated fortnight: replay {replay_t:?}, report {report_t:?} (medians of 5), ratio {ratio:.2}");
    assert!(
        ratio <= 2.0,
        "the report took {ratio:.2}× the replay time ({report_t:?} against {replay_t:?})"
    );
}
