//! Replay at investigation scale: what an analyst downloads, on this machine.
//!
//! `kvwatch simulate --principals 130 --volume 20` writes 14 days of a tenant of
//! about 160 principals (some 440 000 records in the Storage layout, about 590 MB).
//! On the same records, in one run, interleaved so every figure sees the same load:
//!
//! - the floor: a bare single-thread typed `serde_json` parse of every line
//!   (`benches/common/bare.rs`, borrowed fields, no normalisation);
//! - `kvwatch replay` of the folder on every core, and pinned to one (`taskset -c 0`);
//! - `kvwatch report` of the folder (HTML);
//!
//! each run `ROUNDS` times (medians, with the wall time and the peak RSS of the real
//! binary as a child process). Then, once each, bounded-memory streaming:
//!
//! - a JSON Lines stream of `KVWATCH_BENCH_STREAM_GB` (default 5) GB on standard
//!   input, made of consecutive simulated fortnights (so time moves on);
//! - a gzip stream expanding to `KVWATCH_BENCH_GZIP_GB` (default 10) GB of them;
//! - a gzip bomb (zeros expanding to 10 GB), which must be refused at once;
//!
//! with their peak RSS and the detector state the replay reports
//! (`kvwatch_state_bytes`). Set a size to 0 to leave that part out. Run with
//! `cargo bench --bench investigation`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test or bench stops at the first surprise, with its location

#[path = "common/bare.rs"]
mod bare;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bare::BareRecord;

const ROUNDS: usize = 5;
const KVWATCH: &str = env!("CARGO_BIN_EXE_kvwatch");

/// A finished child: wall time, peak RSS (bytes) and exit status.
struct Run {
    wall: Duration,
    rss: u64,
    status: i32,
}

/// Waits for `child` and reads its own resource usage (not every child's).
#[allow(unsafe_code)] // wait4 is the one way to read a reaped child's peak RSS
fn wait(mut child: Child, started: Instant) -> Run {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: `rusage` is plain data the kernel fills; `pid` is our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4 failed");
    let wall = started.elapsed();
    drop(child.stdin.take());
    Run {
        wall,
        rss: usage.ru_maxrss as u64 * 1024,
        status: libc::WEXITSTATUS(status),
    }
}

fn kvwatch(pinned: bool, args: &[&str]) -> Command {
    let mut cmd = if pinned {
        let mut c = Command::new("taskset");
        c.args(["-c", "0", KVWATCH]);
        c
    } else {
        Command::new(KVWATCH)
    };
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    cmd
}

fn run(mut cmd: Command) -> Run {
    let started = Instant::now();
    let run = wait(cmd.spawn().expect("kvwatch starts"), started);
    assert_eq!(run.status, 0, "{cmd:?} failed");
    run
}

fn simulate(out: &Path, start: &str) {
    let status = Command::new(KVWATCH)
        .args([
            "simulate",
            "--principals",
            "130",
            "--volume",
            "20",
            "--start",
            start,
        ])
        .arg("--out")
        .arg(out)
        .arg("--overwrite")
        .stderr(Stdio::null())
        .status()
        .expect("kvwatch simulate starts");
    assert!(status.success(), "the simulation failed");
}

/// The blobs in the order a replay reads them (hour, then path).
fn blobs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.file_name() == "PT1H.json")
        .map(walkdir::DirEntry::into_path)
        .collect();
    files.sort_by_key(|p| (kvwatch::source::files::storage_hour(p), p.clone()));
    files
}

fn bare_parse(files: &[PathBuf]) -> usize {
    let mut records = 0;
    for f in files {
        let bytes = std::fs::read(f).expect("a simulated blob");
        for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let r: BareRecord<'_> = serde_json::from_slice(line).expect("a record");
            std::hint::black_box(&r);
            records += 1;
        }
    }
    records
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn gb_from_env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The detector state a replay reported in its `--metrics-out` snapshot.
fn state_bytes(metrics: &Path) -> u64 {
    let text = std::fs::read_to_string(metrics).unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with("kvwatch_state_bytes"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Feeds `gb` GB of consecutive simulated fortnights to a replay's standard input,
/// gzipped or not; returns the run, the bytes fed (uncompressed) and the state.
fn stream(work: &Path, gb: u64, gzip: bool) -> (Run, u64, u64) {
    let metrics = work.join("stream.prom");
    let mut cmd = kvwatch(false, &["replay", "--no-progress", "-", "--metrics-out"]);
    cmd.arg(&metrics).stdin(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().expect("kvwatch starts");
    let stdin = child.stdin.take().expect("a pipe");
    let mut sink: Box<dyn Write> = if gzip {
        Box::new(flate2::write::GzEncoder::new(
            stdin,
            flate2::Compression::fast(),
        ))
    } else {
        Box::new(std::io::BufWriter::with_capacity(1 << 20, stdin))
    };
    let (target, mut fed) = (gb * 1_000_000_000, 0u64);
    let archive = work.join("stream-archive");
    let mut day = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date");
    while fed < target {
        simulate(&archive, &day.to_string());
        for blob in blobs(&archive) {
            let bytes = std::fs::read(&blob).expect("a blob");
            sink.write_all(&bytes).expect("the replay reads its input");
            fed += bytes.len() as u64;
        }
        day += chrono::Duration::days(14);
    }
    drop(sink);
    let run = wait(child, started);
    assert_eq!(run.status, 0, "the stream replay failed");
    (run, fed, state_bytes(&metrics))
}

fn bomb(work: &Path) -> Run {
    let path = work.join("bomb.jsonl.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).expect("a file"),
        flate2::Compression::best(),
    );
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..10 * 1024 {
        enc.write_all(&zeros).expect("written");
    }
    enc.finish().expect("written");
    let started = Instant::now();
    let child = kvwatch(false, &["replay", "--no-progress"])
        .arg(&path)
        .spawn()
        .expect("kvwatch starts");
    wait(child, started)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("investigation: run with `cargo bench --bench investigation`");
        return;
    }
    let work = tempfile::tempdir().expect("a temporary folder");
    let logs = work.path().join("archive");
    simulate(&logs, "2026-11-01");
    let files = blobs(&logs);
    let geoip = logs.join("_geoip.mmdb");
    let (logs_s, geoip_s) = (
        logs.to_str().expect("utf-8"),
        geoip.to_str().expect("utf-8"),
    );
    let html = work.path().join("report.html");
    let html_s = html.to_str().expect("utf-8");
    let replay_args = ["replay", "--no-progress", logs_s, "--geoip", geoip_s];
    let report_args = [
        "report",
        "--no-progress",
        logs_s,
        "--geoip",
        geoip_s,
        "--out",
        html_s,
    ];

    let records = bare_parse(&files);
    run(kvwatch(false, &replay_args));
    let (mut bare, mut all, mut one, mut rep) = (vec![], vec![], vec![], vec![]);
    let (mut rss_all, mut rss_one, mut rss_rep) = (0, 0, 0);
    for _ in 0..ROUNDS {
        let t = Instant::now();
        bare_parse(&files);
        bare.push(t.elapsed());
        let r = run(kvwatch(false, &replay_args));
        all.push(r.wall);
        rss_all = rss_all.max(r.rss);
        let r = run(kvwatch(true, &replay_args));
        one.push(r.wall);
        rss_one = rss_one.max(r.rss);
        let r = run(kvwatch(false, &report_args));
        rep.push(r.wall);
        rss_rep = rss_rep.max(r.rss);
    }
    let [bare, all, one, rep] = [bare, all, one, rep].map(median);
    let rate = |d: Duration| records as f64 / d.as_secs_f64();
    println!(
        "investigation archive: {records} records in {} blobs; medians of {ROUNDS}",
        files.len()
    );
    for (what, d, rss) in [
        ("bare typed serde_json parse, 1 thread", bare, 0),
        ("kvwatch replay, every core", all, rss_all),
        ("kvwatch replay, taskset -c 0", one, rss_one),
        ("kvwatch report (HTML), every core", rep, rss_rep),
    ] {
        let rss = if rss > 0 {
            format!("{:>7.0} MiB peak RSS", mib(rss))
        } else {
            String::new()
        };
        println!(
            "  {what:<40} {:>8.0} ms {:>9.0} records/s {rss}",
            d.as_secs_f64() * 1e3,
            rate(d)
        );
    }
    let ratio = |d: Duration| bare.as_secs_f64() / d.as_secs_f64();
    println!(
        "  replay / bare parse, every core: {:.2}x (target 0.6x)",
        ratio(all)
    );
    println!(
        "  replay / bare parse, one core:   {:.2}x (target 0.35x)",
        ratio(one)
    );
    println!(
        "  report time / replay time:       {:.2}x (target at most 1.5x)",
        rep.as_secs_f64() / all.as_secs_f64()
    );

    for (gzip, gb) in [
        (false, gb_from_env("KVWATCH_BENCH_STREAM_GB", 5)),
        (true, gb_from_env("KVWATCH_BENCH_GZIP_GB", 10)),
    ] {
        if gb == 0 {
            continue;
        }
        let (r, fed, state) = stream(work.path(), gb, gzip);
        println!(
            "  {}, {:.1} GB expanded, on standard input: {:.0} s, {:.0} MiB peak RSS, detector state {:.1} MiB (target: under 300 MiB plus the state)",
            if gzip { "gzip of JSON Lines" } else { "JSON Lines" },
            fed as f64 / 1e9,
            r.wall.as_secs_f64(),
            mib(r.rss),
            mib(state)
        );
    }
    let r = bomb(work.path());
    println!(
        "  gzip bomb (10 GiB of zeros, {} exit): refused in {:.2} s, {:.0} MiB peak RSS",
        r.status,
        r.wall.as_secs_f64(),
        mib(r.rss)
    );
}
