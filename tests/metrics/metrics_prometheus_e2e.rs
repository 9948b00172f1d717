//! End to end: a real Prometheus server (Debian's package, from
//! scripts/setup/prometheus.sh) scrapes a running `kvwatch replay` on 127.0.0.1 and
//! holds exactly the counts the replay reports, and every dashboard query runs on it.
//!
//! So that rates mean something, the replay is paced: each input is a named pipe the
//! test fills in order, and every few inputs it waits for a scrape that came after
//! kvwatch finished the previous ones. Waits are bounded polls, never fixed sleeps.
//!
//! `KVWATCH_REFRESH_DOCS=1` also rewrites the panel-values table of docs/metrics.md
//! from this run (the values change with the inputs and the time of the run).

use crate::support;

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kvwatch::source::files::{plan, Input};
use support::dashboards;
use support::prom::{Prometheus, Sample};

const SCRAPE: &str = "1s";
const PACING_STEPS: usize = 6;
const LIMIT: Duration = Duration::from_secs(90);

/// The replay; killed when the test ends, however it ends.
struct Running(Child, mpsc::Receiver<String>);

impl Running {
    /// Fails the test with kvwatch's standard error if it has exited.
    fn assert_alive(&mut self, doing: &str) {
        if let Ok(Some(status)) = self.0.try_wait() {
            let stderr: Vec<String> = self.1.try_iter().collect();
            panic!("kvwatch exited ({status}) {doing}:\n{}", stderr.join("\n"));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn files_in_order(paths: &[PathBuf]) -> Vec<PathBuf> {
    plan(paths)
        .expect("plannable inputs")
        .groups
        .into_iter()
        .flat_map(|g| g.inputs)
        .filter_map(|i| match i {
            Input::File(p) => Some(p),
            Input::Stdin => None,
        })
        .collect()
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).expect("no NUL in the path");
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(
        rc,
        0,
        "mkfifo {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

/// Opens a pipe for writing once kvwatch opens it for reading (which it does after
/// finishing every earlier input); fails if kvwatch exits first.
fn open_when_read(path: &Path, replay: &mut Running) -> File {
    let deadline = Instant::now() + LIMIT;
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
        {
            Ok(file) => {
                let fd = file.as_raw_fd();
                // SAFETY: `fd` is an open descriptor owned by `file`.
                unsafe {
                    let flags = libc::fcntl(fd, libc::F_GETFL);
                    libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
                }
                return file;
            }
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {}
            Err(e) => panic!("open {}: {e}", path.display()),
        }
        replay.assert_alive(&format!("before reading {}", path.display()));
        assert!(
            Instant::now() < deadline,
            "kvwatch did not open {} in {LIMIT:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Waits until Prometheus holds a kvwatch sample scraped after `after`.
fn wait_for_scrape_after(prom: &Prometheus, after: f64) {
    let samples = prom.wait_for(
        "max(timestamp(kvwatch_build_info{job=\"kvwatch\"}))",
        LIMIT,
        |s| s.first().is_some_and(|(_, t)| *t > after),
    );
    assert!(
        samples.first().is_some_and(|(_, t)| *t > after),
        "no scrape after {after}: {samples:?}"
    );
}

fn start_replay(fifos: &[PathBuf], dir: &Path) -> (Running, SocketAddr) {
    let child = Command::new(env!("CARGO_BIN_EXE_kvwatch"))
        .arg("replay")
        .args(fifos)
        .args([
            "--no-progress",
            "--metrics-listen",
            "127.0.0.1:0",
            "--metrics-linger",
            "10m",
            "--summary",
        ])
        .arg(dir.join("summary.json"))
        .arg("-o")
        .arg(dir.join("alerts.jsonl"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kvwatch starts");
    let mut child = child;
    let stderr = child.stderr.take().expect("stderr piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + LIMIT;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if let Some(rest) = line.strip_prefix("kvwatch: serving metrics on http://") {
                let addr = rest
                    .split('/')
                    .next()
                    .and_then(|a| a.parse().ok())
                    .expect("an address");
                return (Running(child, rx), addr);
            }
            seen.push(line);
        }
    }
    panic!("kvwatch never said where it serves metrics: {seen:?}");
}

fn summary(dir: &Path, replay: &mut Running) -> serde_json::Value {
    let path = dir.join("summary.json");
    let deadline = Instant::now() + LIMIT;
    while Instant::now() < deadline {
        if let Ok(bytes) = std::fs::read(&path) {
            if let Ok(v) = serde_json::from_slice(&bytes) {
                return v;
            }
        }
        replay.assert_alive("without writing a summary");
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no summary after {LIMIT:?}");
}

fn by_label(samples: &[Sample], label: &str) -> BTreeMap<String, f64> {
    samples
        .iter()
        .map(|(l, v)| (l.get(label).cloned().unwrap_or_default(), *v))
        .collect()
}

fn summary_map(v: &serde_json::Value) -> BTreeMap<String, f64> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_f64().unwrap_or(f64::NAN)))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn prometheus_scrapes_a_running_replay() {
    support::tool("KVWATCH_PROMETHEUS");
    let inputs = support::sample_inputs();
    let files = files_in_order(std::slice::from_ref(&inputs));
    assert!(!files.is_empty(), "no inputs in {}", inputs.display());

    // The same tree of files, as named pipes.
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("in");
    let mut pipes = Vec::new();
    for file in &files {
        let pipe = root.join(file.strip_prefix(&inputs).expect("inside the inputs"));
        std::fs::create_dir_all(pipe.parent().expect("a parent")).expect("folders");
        mkfifo(&pipe);
        pipes.push((pipe, file.clone()));
    }
    let order = files_in_order(&pipes.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>());
    let source: BTreeMap<PathBuf, PathBuf> = pipes.into_iter().collect();

    let (mut replay, addr) = start_replay(&order, dir.path());
    let prom = Prometheus::start(addr, SCRAPE);
    replay.assert_alive("while Prometheus started");
    let started = unix_now();
    let up = prom.wait_for("up{job=\"kvwatch\"}", LIMIT, |s| {
        s.first().is_some_and(|(_, v)| *v == 1.0)
    });
    replay.assert_alive("while Prometheus waited for its first scrape");
    assert_eq!(
        up.first().map(|(_, v)| *v),
        Some(1.0),
        "Prometheus never reached kvwatch: {up:?}"
    );
    assert_eq!(support::http_get(addr, "/healthz").0, 200);
    let (status, body) = support::http_get(addr, "/readyz");
    assert_eq!(status, 200, "{body}");

    // Feed the pipes in kvwatch's reading order, pausing for a scrape now and then.
    let step = order.len().div_ceil(PACING_STEPS).max(1);
    for (i, pipe) in order.iter().enumerate() {
        let mut writer = open_when_read(pipe, &mut replay);
        if i > 0 && i % step == 0 {
            wait_for_scrape_after(&prom, unix_now());
        }
        let bytes = std::fs::read(&source[pipe]).expect("input readable");
        writer.write_all(&bytes).expect("kvwatch reads the pipe");
    }
    let s = summary(dir.path(), &mut replay);
    wait_for_scrape_after(&prom, unix_now());

    // Exactly what the replay counted.
    let q = |e: &str| prom.scalar(&format!("sum({e}{{job=\"kvwatch\"}})"));
    let num = |k: &str| s[k].as_f64().unwrap_or(f64::NAN);
    assert!(num("records") > 0.0, "{s}");
    assert_eq!(q("kvwatch_records_received_total"), num("records"));
    assert_eq!(q("kvwatch_records_decoded_total"), num("events"));
    assert_eq!(q("kvwatch_records_rejected_total"), num("rejected"));
    assert_eq!(q("kvwatch_records_skipped_total"), num("skipped"));
    assert_eq!(q("kvwatch_duplicates_dropped_total"), num("duplicates"));
    assert_eq!(q("kvwatch_events_late_total"), num("late"));
    assert_eq!(q("kvwatch_events_total"), num("processed"));
    assert_eq!(q("kvwatch_alerts_total"), num("alerts"));
    let rejected = prom
        .query("sum by (reason) (kvwatch_records_rejected_total{job=\"kvwatch\"})")
        .expect("query");
    assert_eq!(
        by_label(&rejected, "reason"),
        summary_map(&s["rejected_by_reason"])
    );
    let alerts = prom
        .query("sum by (detector) (kvwatch_alerts_total{job=\"kvwatch\"})")
        .expect("query");
    assert_eq!(
        by_label(&alerts, "detector"),
        summary_map(&s["alerts_by_detector"])
    );
    let latency = prom.scalar(
        "sum(kvwatch_processing_latency_seconds_count{job=\"kvwatch\", stage=\"processed\"})",
    );
    assert_eq!(latency, num("processed"), "every processed event was timed");

    // Vault activity as an in-process replay of the same files counts it.
    let (metrics, _) = support::replay_with_metrics(&inputs, &[]);
    let expected = support::sum_by(
        &metrics.registry().gather(),
        "kvwatch_events_total",
        Some("vault"),
    );
    let vaults = prom
        .query("sum by (vault) (kvwatch_events_total{job=\"kvwatch\"})")
        .expect("query");
    assert_eq!(by_label(&vaults, "vault"), expected);
    let classes = prom
        .query("sum by (class, outcome) (kvwatch_events_total{job=\"kvwatch\"})")
        .expect("query");
    assert!(!classes.is_empty());

    // The counters grew while Prometheus watched, so rates are real.
    let window = format!("{}s", (unix_now() - started).ceil() as u64 + 5);
    let grew = prom.scalar(&format!(
        "sum(increase(kvwatch_records_received_total{{job=\"kvwatch\"}}[{window}]))"
    ));
    assert!(grew > 0.0, "the replay's records arrived between scrapes");

    // Every dashboard query runs, over the replay's window.
    let mut rows = Vec::new();
    for query in dashboards::queries() {
        let expr = dashboards::substitute(&query.expr, &window);
        let samples = prom
            .query(&expr)
            .unwrap_or_else(|e| panic!("{} / {}: {expr}: {e}", query.dashboard, query.panel));
        rows.push((query, samples));
    }
    let core = [
        "Records received by shape",
        "Operations by vault",
        "Operations by class",
        "Event-time lag",
        "Processing latency",
    ];
    for name in core {
        assert!(
            rows.iter().any(|(q, s)| q.panel == name && !s.is_empty()),
            "panel {name} shows no data"
        );
    }
    if std::env::var_os("KVWATCH_REFRESH_DOCS").is_some() {
        refresh_docs(&rows, &window, &inputs, &s);
    }
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v == v.trunc() && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.4}")
    }
}

fn format_samples(samples: &[Sample]) -> String {
    if samples.is_empty() {
        return "*(no series)*".to_owned();
    }
    let mut parts: Vec<String> = samples
        .iter()
        .map(|(labels, v)| {
            let shown: Vec<String> = labels
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "job" | "instance"))
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            if shown.is_empty() {
                format_value(*v)
            } else {
                format!("{}: {}", shown.join(" "), format_value(*v))
            }
        })
        .collect();
    parts.sort();
    let more = parts.len().saturating_sub(8);
    parts.truncate(8);
    let mut text = parts.join("<br>");
    if more > 0 {
        text.push_str(&format!("<br>… {more} more"));
    }
    text
}

fn refresh_docs(
    rows: &[(dashboards::Query, Vec<Sample>)],
    window: &str,
    inputs: &Path,
    s: &serde_json::Value,
) {
    let path = support::repo().join("docs/metrics.md");
    let docs = std::fs::read_to_string(&path).expect("docs/metrics.md");
    let (begin, end) = (
        "<!-- BEGIN GENERATED: panel values -->",
        "<!-- END GENERATED: panel values -->",
    );
    let (head, rest) = docs.split_once(begin).expect("the begin marker");
    let (_, tail) = rest.split_once(end).expect("the end marker");
    let shown = inputs
        .strip_prefix(support::repo())
        .unwrap_or(inputs)
        .display()
        .to_string();
    let mut table = format!(
        "{begin}\nGenerated by `KVWATCH_REFRESH_DOCS=1 cargo test --release --test metrics metrics_prometheus_e2e::` on {}: \
         Prometheus {} scraped `kvwatch replay {shown}` every {SCRAPE} while the test fed it; the replay read {} records \
         ({} events processed, {} rejected, {} skipped, {} alerts). Grafana's `$__rate_interval` and `$__range` are \
         replaced by the whole run (`{window}`), `$instance` and `$vault` by `.*`; each query was run once, as an \
         instant query at the end.\n\n| Dashboard | Panel | Query | Value at the end of the run |\n|---|---|---|---|\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        prometheus_version(),
        s["records"],
        s["processed"],
        s["rejected"],
        s["skipped"],
        s["alerts"],
    );
    for (q, samples) in rows {
        let expr = q.expr.replace('|', "\\|");
        table.push_str(&format!(
            "| {} | {} | `{}` | {} |\n",
            q.dashboard_title.replace('|', "\\|"),
            q.panel.replace('|', "\\|"),
            expr,
            format_samples(samples).replace('|', "\\|")
        ));
    }
    table.push_str(end);
    std::fs::write(&path, format!("{head}{table}{tail}")).expect("docs written");
}

fn prometheus_version() -> String {
    let out = Command::new(support::tool("KVWATCH_PROMETHEUS"))
        .arg("--version")
        .output()
        .expect("prometheus --version");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.split_whitespace().nth(2).unwrap_or("?").to_owned()
}
