//! Streaming replay on every core gives the alerts of one thread, byte for byte,
//! and the same records give the same alerts whatever their container: a Storage
//! folder, one concatenated JSON Lines file, a multi-member gzip of it, standard
//! input. The real binary, on a simulated fortnight (26 000 records: more than an
//! input may hold in the reorder buffer before its watermark moves, so the watermark
//! moves inside the single-input runs too).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use kvwatch::source::files::storage_hour;

fn kvwatch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kvwatch"))
}

/// Replays `inputs` (with `stdin` fed to `-`), returning the alerts' bytes.
fn alerts(inputs: &[&Path], extra: &[&str], geoip: &Path, stdin: Option<&[u8]>) -> Vec<u8> {
    let mut child = kvwatch()
        .arg("replay")
        .args(inputs)
        .arg("--geoip")
        .arg(geoip)
        .args(["--no-progress", "--log-level", "error"])
        .args(extra)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kvwatch runs");
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().expect("a pipe");
        // Written from here while the replay reads: the pipe holds far less.
        let bytes = bytes.to_vec();
        std::thread::spawn(move || pipe.write_all(&bytes).expect("the replay reads"));
    }
    let out = child.wait_with_output().expect("kvwatch ends");
    assert!(
        out.status.success(),
        "replay {inputs:?} {extra:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("in memory");
    enc.finish().expect("in memory")
}

#[test]
fn every_core_and_every_container_give_the_alerts_of_one_thread() {
    let dir = tempfile::tempdir().expect("temp dir");
    let logs = dir.path().join("logs");
    let status = kvwatch()
        .args(["simulate", "--out"])
        .arg(&logs)
        .stderr(Stdio::null())
        .status()
        .expect("kvwatch simulate runs");
    assert!(status.success());
    let geoip = logs.join("_geoip.mmdb");

    // The blobs in the order a replay of the folder reads them: hour, then path.
    let mut blobs: Vec<PathBuf> = walkdir::WalkDir::new(&logs)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name() == "PT1H.json")
        .map(walkdir::DirEntry::into_path)
        .collect();
    blobs.sort_by_key(|p| (storage_hour(p), p.clone()));
    let mut joined = Vec::new();
    for blob in &blobs {
        joined.extend(std::fs::read(blob).expect("a blob"));
    }
    assert!(joined.len() > 20 << 20, "{} bytes", joined.len());
    let file = dir.path().join("all.jsonl");
    std::fs::write(&file, &joined).expect("written");
    // Two gzip members, as `cat a.gz b.gz` makes: cut at a line break.
    let half = joined[..joined.len() / 2]
        .iter()
        .rposition(|&b| b == b'\n')
        .expect("lines")
        + 1;
    let gz = dir.path().join("all.jsonl.gz");
    std::fs::write(&gz, [gzip(&joined[..half]), gzip(&joined[half..])].concat()).expect("written");

    let one = alerts(&[&logs], &["--threads", "1"], &geoip, None);
    assert!(one.len() > 1000, "the fortnight raises alerts");
    let runs: Vec<(&str, Vec<u8>)> = vec![
        (
            "folder, 4 threads",
            alerts(&[&logs], &["--threads", "4"], &geoip, None),
        ),
        ("folder, every core", alerts(&[&logs], &[], &geoip, None)),
        (
            "one file, 1 thread",
            alerts(&[&file], &["--threads", "1"], &geoip, None),
        ),
        (
            "one file, 3 threads",
            alerts(&[&file], &["--threads", "3"], &geoip, None),
        ),
        (
            "gzip, 2 threads",
            alerts(&[&gz], &["--threads", "2"], &geoip, None),
        ),
        (
            "standard input, 2 threads",
            alerts(
                &[Path::new("-")],
                &["--threads", "2"],
                &geoip,
                Some(&joined),
            ),
        ),
    ];
    for (what, got) in runs {
        assert!(got == one, "{what}: the alerts differ from one thread's");
    }
}
