//! Streaming replay, end to end through the real binary: inputs are framed so that
//! one bad line never hides the records after it (issue 16, finding 4), links that
//! cannot be followed are skipped and counted (finding 5), and a stream of any size
//! is read in bounded memory (issue 15).
//!
//! Memory is checked structurally, never against a clock: the replay's own peak RSS
//! (from `wait4`, the kernel's accounting of that child alone) must stay under a
//! generous bound that is a fraction of the stream's size.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// A valid record, distinct per `n`, `n` seconds after 2024-04-08T00:00:00Z.
fn rec(n: u64) -> String {
    let time = chrono::DateTime::from_timestamp(1_712_534_400 + n as i64, 0)
        .expect("a time")
        .format("%Y-%m-%dT%H:%M:%S");
    format!(
        r#"{{"time":"{time}.0000000Z","resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV-STREAM","operationName":"SecretGet","category":"AuditEvent","callerIpAddress":"203.0.113.7","identity":{{"claim":{{"oid":"oid-{}","upn":"user{}@contoso.com"}}}},"properties":{{"id":"https://kv-stream.vault.azure.net/secrets/s{n}","clientInfo":"agent/{n}","httpStatusCode":200}}}}"#,
        n % 50,
        n % 50
    )
}

fn twenty() -> String {
    (0..20).map(|n| format!("{}\n", rec(n))).collect()
}

/// A finished replay: exit code, standard error, summary.
struct Run {
    code: Option<i32>,
    stderr: String,
    summary: Value,
}

fn replay(dir: &Path, inputs: &[PathBuf]) -> Run {
    let summary = dir.join("summary.json");
    let out = Command::new(env!("CARGO_BIN_EXE_kvwatch"))
        .args(["replay", "--no-progress", "--summary"])
        .arg(&summary)
        .arg("--output")
        .arg(dir.join("alerts.jsonl"))
        .args(inputs)
        .output()
        .expect("kvwatch runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let text = std::fs::read(&summary).unwrap_or_else(|e| panic!("no summary ({e}):\n{stderr}"));
    Run {
        code: out.status.code(),
        stderr,
        summary: serde_json::from_slice(&text).expect("a JSON summary"),
    }
}

fn n(summary: &Value, key: &str) -> u64 {
    summary[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no {key} in {summary}"))
}

#[test]
fn a_bad_first_line_bom_or_nul_padding_never_hides_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let records = twenty();
    // (name, bytes, events, rejected)
    let table: Vec<(&str, Vec<u8>, u64, u64)> = vec![
        (
            "open-array.jsonl",
            format!("[\"x\",\n{records}").into_bytes(),
            20,
            1,
        ),
        (
            "deep-open.jsonl",
            format!("{{\"a\":[[[[\n{records}").into_bytes(),
            20,
            1,
        ),
        (
            "nul-lead.jsonl",
            [&b"\0\0\0"[..], records.as_bytes()].concat(),
            20,
            0,
        ),
        (
            "bom.jsonl",
            [&b"\xEF\xBB\xBF"[..], records.as_bytes()].concat(),
            20,
            0,
        ),
    ];
    for (name, bytes, events, rejected) in table {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let run = replay(dir.path(), &[path]);
        assert_eq!(run.code, Some(0), "{name}: {}", run.stderr);
        assert_eq!(n(&run.summary, "events"), events, "{name}: {}", run.summary);
        assert_eq!(
            n(&run.summary, "rejected"),
            rejected,
            "{name}: {}",
            run.summary
        );
    }
}

#[test]
fn an_input_without_a_record_is_a_warning_and_a_distinct_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let zeros = dir.path().join("zeros.json");
    std::fs::write(&zeros, vec![0u8; 10 * 1024 * 1024]).unwrap();
    let run = replay(dir.path(), std::slice::from_ref(&zeros));
    assert_eq!(run.code, Some(3), "nothing found is exit 3: {}", run.stderr);
    assert!(
        run.stderr.contains("zeros.json: no record found"),
        "no warning:\n{}",
        run.stderr
    );
    assert_eq!(n(&run.summary, "empty_inputs"), 1);
    assert_eq!(n(&run.summary, "records"), 0);
    // Beside an input with records, it is only a warning.
    let good = dir.path().join("good.jsonl");
    std::fs::write(&good, twenty()).unwrap();
    let run = replay(dir.path(), &[zeros, good]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("zeros.json: no record found"),
        "{}",
        run.stderr
    );
    assert_eq!(n(&run.summary, "empty_inputs"), 1);
    assert_eq!(n(&run.summary, "events"), 20);
}

#[test]
fn dangling_links_and_link_loops_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(logs.join("sub")).unwrap();
    std::fs::write(logs.join("a.jsonl"), twenty()).unwrap();
    std::os::unix::fs::symlink(dir.path().join("gone.jsonl"), logs.join("dangling.jsonl")).unwrap();
    std::os::unix::fs::symlink(&logs, logs.join("sub").join("loop")).unwrap();
    let run = replay(dir.path(), &[logs]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(n(&run.summary, "events"), 20, "{}", run.summary);
    assert_eq!(n(&run.summary, "skipped_paths"), 2, "{}", run.summary);
    assert!(
        run.stderr
            .contains("dangling.jsonl: a dangling symbolic link"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("a symbolic link loop"),
        "{}",
        run.stderr
    );
}

/// Runs a replay of standard input fed by `feed`; returns its summary and the
/// child's own peak RSS in bytes.
fn replay_stdin(dir: &Path, feed: impl FnOnce(&mut dyn Write)) -> (Value, u64) {
    let summary = dir.join("stdin-summary.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kvwatch"))
        .args(["replay", "--no-progress", "--summary"])
        .arg(&summary)
        .arg("--output")
        .arg(dir.join("stdin-alerts.jsonl"))
        .arg("-")
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kvwatch runs");
    let watcher = watch_peak_rss(child.id());
    let mut stdin = child.stdin.take().expect("a pipe");
    feed(&mut stdin);
    drop(stdin);
    let status = child.wait().expect("the replay is reaped");
    let rss = watcher.join().expect("the watcher ends with the child");
    assert!(status.success(), "the stream replay failed: {status}");
    assert!(rss > 0, "no memory figure was read for the replay");
    let text = std::fs::read(&summary).expect("a summary");
    (serde_json::from_slice(&text).expect("JSON"), rss)
}

/// Watches a running child's own peak RSS in bytes until it exits.
///
/// The peak is the kernel's high-water mark of the child's own address space
/// (`VmHWM` in `/proc/<pid>/status`), read every few milliseconds from the start (it
/// only grows, so a late reading covers every earlier moment). The child's rusage
/// (`wait4`) would not do: the kernel folds the spawning process's peak into the
/// child's `ru_maxrss` at `exec`, so a test binary whose other tests hold memory
/// would be charged to the replay.
fn watch_peak_rss(pid: u32) -> std::thread::JoinHandle<u64> {
    let status_file = format!("/proc/{pid}/status");
    std::thread::spawn(move || {
        let mut peak = 0u64;
        // A zombie's status has no VmHWM line: the child has exited.
        while let Some(bytes) = std::fs::read_to_string(&status_file).ok().and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        }) {
            peak = peak.max(bytes);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        peak
    })
}

#[test]
fn a_stream_far_larger_than_memory_allows_is_read_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    // 280 MB of records a second apart (eight days, 50 principals): kept whole, as
    // every input was before streaming, it would take more than the stream itself.
    let lines: u64 = 700_000;
    let (summary, rss) = replay_stdin(dir.path(), |stdin| {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, stdin);
        for i in 0..lines {
            writeln!(out, "{}", rec(i)).expect("the replay reads");
        }
        out.flush().expect("the replay reads");
    });
    assert_eq!(n(&summary, "events"), lines, "{summary}");
    assert_eq!(n(&summary, "duplicates"), 0, "{summary}");
    let bytes = lines * (rec(lines).len() as u64 + 1);
    assert!(bytes > 250_000_000, "{bytes}");
    // The bound is generous (a third of the stream) and has nothing to do with
    // speed: the reading buffers are a few megabytes, the rest is detector state.
    assert!(rss < bytes / 3, "peak RSS {rss} for a {bytes}-byte stream");
}

#[test]
fn a_streamed_gzip_bomb_is_refused_before_it_is_expanded() {
    let dir = tempfile::tempdir().unwrap();
    // 2 GiB of zeros pack into about 2 MiB.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..2048 {
        enc.write_all(&zeros).unwrap();
    }
    let bomb = dir.path().join("bomb.json.gz");
    std::fs::write(&bomb, enc.finish().unwrap()).unwrap();
    let good = dir.path().join("good.jsonl");
    std::fs::write(&good, twenty()).unwrap();
    let run = replay(dir.path(), &[bomb, good]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("bomb.json.gz") && run.stderr.contains("decompression bomb"),
        "{}",
        run.stderr
    );
    assert_eq!(n(&run.summary, "unreadable_inputs"), 1);
    assert_eq!(n(&run.summary, "events"), 20);
}
