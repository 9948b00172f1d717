//! Memory per tracked principal, and the process's peak RSS, at 10 000, 100 000 and
//! 1 000 000 principals: `cargo bench --bench memory` (add `-- 10000` to run one size).
//!
//! For each size, `kvwatch simulate --principals N --days 1 --scenarios none` writes a
//! day of the tenant plus N low-activity principals (each a few reads); then the real
//! `kvwatch replay` binary, a child process, replays it with the principal cap raised
//! above N and writes its final metrics. The figures come from those metrics
//! (`kvwatch_principals_tracked`, `kvwatch_state_bytes`: the detectors' own accounting
//! of what they hold) and from the replay's peak resident set size (`wait4`), which
//! also counts the reorder buffer, the deduplication window and the allocator.
//!
//! The figure the target is about is the cost of an *idle* principal: one whose
//! transient windows (a burst being counted, recent addresses) have been compacted
//! away. So after the simulated day the benchmark appends one record, seven hours
//! after the last (more than the six-hour long window of `bulk_secret_retrieval`
//! and the default `idle_after`), which moves event time on and makes every detector
//! drop what it kept only for recent activity; the final metrics are then those of
//! N idle principals. The peak RSS is the whole run's, busy part included.
//!
//! The simulated folder of the 1M size is about 1.3 GB; it lives in a temporary
//! folder removed at the end.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test or bench stops at the first surprise, with its location

use std::path::Path;
use std::process::Command;

fn metric_sum(prom: &str, name: &str) -> f64 {
    prom.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn metric_with(prom: &str, name: &str, label: &str) -> f64 {
    prom.lines()
        .filter(|l| l.starts_with(name) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Runs `cmd` to completion; returns whether it succeeded and its own peak RSS (bytes).
/// The child is reaped by `wait4` (which gives its resource usage), not `Child::wait`.
#[allow(clippy::zombie_processes)]
#[allow(unsafe_code)] // wait4 is the one way to read a reaped child's peak RSS
fn run_measured(cmd: &mut Command) -> (bool, u64) {
    let child = cmd.spawn().expect("the child starts");
    let pid = libc::pid_t::try_from(child.id()).expect("a pid");
    let mut status: libc::c_int = 0;
    // SAFETY: plain structs the kernel fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers; `pid` is our child, not yet waited for.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid, "wait4 on the child");
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    (ok, u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024)
}

/// Appends, in its own hourly blob, a copy of the newest simulated record dated
/// `hours` after it.
fn append_late_record(logs: &Path, hours: i64) {
    let newest = walkdir::WalkDir::new(logs)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name() == "PT1H.json")
        .map(walkdir::DirEntry::into_path)
        .max_by_key(|p| {
            // y=/m=/d=/h= sort as text: compare the part from "/y=" on.
            let text = p.display().to_string();
            text.find("/y=").map(|i| text[i..].to_string())
        })
        .expect("a simulated blob");
    let text = std::fs::read_to_string(&newest).expect("the newest blob");
    let last = text.lines().last().expect("a record");
    let mut record: serde_json::Value = serde_json::from_str(last).expect("a JSON record");
    let time = record["time"].as_str().expect("a time");
    let late = chrono::DateTime::parse_from_rfc3339(time).expect("an RFC 3339 time")
        + chrono::Duration::hours(hours);
    record["time"] = serde_json::Value::from(late.to_rfc3339());
    let shown = newest.display().to_string();
    let prefix = &shown[..shown.find("/y=").expect("a y= folder")];
    let blob = Path::new(prefix)
        .join(late.format("y=%Y/m=%m/d=%d/h=%H/m=00").to_string())
        .join("PT1H.json");
    std::fs::create_dir_all(blob.parent().expect("a folder")).expect("the late folder");
    std::fs::write(&blob, format!("{record}\n")).expect("the late record");
}

fn measure(principals: u64, dir: &Path) {
    let kvwatch = env!("CARGO_BIN_EXE_kvwatch");
    let logs = dir.join(format!("p{principals}"));
    let started = std::time::Instant::now();
    let status = Command::new(kvwatch)
        .args([
            "simulate",
            "--days",
            "1",
            "--scenarios",
            "none",
            "--principals",
        ])
        .arg(principals.to_string())
        .arg("--out")
        .arg(&logs)
        .status()
        .expect("kvwatch simulate runs");
    assert!(status.success(), "simulate failed");
    append_late_record(&logs, 7);
    let simulated = started.elapsed();
    let config = dir.join(format!("p{principals}.toml"));
    std::fs::write(
        &config,
        format!(
            "[detectors]\nmax_principals = {}\n\n[geoip]\ndatabase = {:?}\n",
            principals * 2 + 1000,
            logs.join("_geoip.mmdb").display().to_string()
        ),
    )
    .expect("config written");
    let prom = dir.join(format!("p{principals}.prom"));
    let started = std::time::Instant::now();
    let (ok, rss) = run_measured(
        Command::new(kvwatch)
            .arg("replay")
            .arg(&logs)
            .arg("--config")
            .arg(&config)
            .arg("--metrics-out")
            .arg(&prom)
            .args(["--no-progress", "--output", "/dev/null"]),
    );
    assert!(ok, "replay failed");
    let replayed = started.elapsed();
    let text = std::fs::read_to_string(&prom).expect("final metrics");
    let tracked = metric_with(
        &text,
        "kvwatch_principals_tracked",
        "detector=\"baselines\"",
    );
    let state = metric_sum(&text, "kvwatch_state_bytes");
    let records = metric_sum(&text, "kvwatch_records_received_total");
    println!(
        "{principals:>9} extra principals: {tracked:>9.0} tracked, {records:>9.0} records; state {:>7.1} MiB = {:>5.0} B per principal; peak RSS {:>7.1} MiB; simulate {:.1} s, replay {:.1} s",
        state / 1048576.0,
        state / tracked.max(1.0),
        rss as f64 / 1048576.0,
        simulated.as_secs_f64(),
        replayed.as_secs_f64(),
    );
    let _ = std::fs::remove_dir_all(&logs);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("memory: run with `cargo bench --bench memory`");
        return;
    }
    let sizes: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() {
        vec![10_000, 100_000, 1_000_000]
    } else {
        sizes
    };
    let dir = tempfile::tempdir().expect("a temporary folder");
    for n in sizes {
        measure(n, dir.path());
    }
}
