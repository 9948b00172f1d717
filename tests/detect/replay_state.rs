//! `kvwatch replay --state FILE`: state saved by one replay and loaded by the next
//! makes two replays of consecutive periods raise exactly the alerts of one replay of
//! both; a state file written in the older JSON format still loads; an unreadable
//! or foreign state file is a clear error; `--reset-state` starts over. The real
//! binary, on the bundled sample logs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every Storage blob of the sample logs, with its day of the month.
fn blobs() -> Vec<(u32, PathBuf)> {
    let mut out: Vec<(u32, PathBuf)> = walkdir::WalkDir::new(repo().join("sample-logs"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name() == "PT1H.json")
        .filter_map(|e| {
            let path = e.into_path();
            let day = path
                .components()
                .filter_map(|c| c.as_os_str().to_str()?.strip_prefix("d=")?.parse().ok())
                .next()?;
            Some((day, path))
        })
        .collect();
    out.sort();
    out
}

fn replay(inputs: &[&Path], extra: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_kvwatch"))
        .arg("replay")
        .args(inputs)
        .arg("--geoip")
        .arg(repo().join("sample-logs/_geoip.mmdb"))
        .args(["--no-progress", "--log-level", "error"])
        .args(extra)
        .output()
        .expect("kvwatch runs");
    out
}

fn alerts(out: &Output) -> Vec<serde_json::Value> {
    assert!(
        out.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("an alert"))
        .collect()
}

#[test]
fn two_replays_sharing_state_alert_exactly_as_one_replay_of_both() {
    let blobs = blobs();
    assert!(blobs.len() > 100, "the sample logs are there");
    let all: Vec<&Path> = blobs.iter().map(|(_, p)| p.as_path()).collect();
    // The first three days, then the rest: the learning period (72 h) ends inside the
    // second replay, so only carried-over baselines can make it agree.
    let first_day = blobs[0].0;
    let (early, late): (Vec<_>, Vec<_>) = blobs.iter().partition(|(d, _)| *d < first_day + 3);
    let early: Vec<&Path> = early.iter().map(|(_, p)| p.as_path()).collect();
    let late: Vec<&Path> = late.iter().map(|(_, p)| p.as_path()).collect();
    assert!(!early.is_empty() && !late.is_empty());

    let whole = alerts(&replay(&all, &[]));
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state.redb");
    let state_arg = state.to_str().expect("utf-8 path");
    let mut split = alerts(&replay(&early, &["--state", state_arg]));
    let before_late = split.len();
    split.extend(alerts(&replay(&late, &["--state", state_arg])));
    assert!(
        split.len() > before_late,
        "the second period has alerts of its own"
    );
    assert_eq!(split, whole, "state carried over: same alerts, same order");

    // Without the state, the second period is judged by a detector that learned
    // nothing: it differs (the state matters, so this test can fail).
    let cold = alerts(&replay(&late, &[]));
    assert_ne!(cold, whole[before_late..].to_vec());
}

/// `tests/fixtures/state-v1/`: the state a build before the binary snapshot format
/// wrote (detection state as JSON) after replaying the first three days. It loads,
/// and the rest of the logs then alert exactly as in one replay of all of them.
#[test]
fn a_state_file_written_in_the_json_format_still_loads() {
    let blobs = blobs();
    let first_day = blobs[0].0;
    let (early, late): (Vec<_>, Vec<_>) = blobs.iter().partition(|(d, _)| *d < first_day + 3);
    let early: Vec<&Path> = early.iter().map(|(_, p)| p.as_path()).collect();
    let late: Vec<&Path> = late.iter().map(|(_, p)| p.as_path()).collect();
    let all: Vec<&Path> = blobs.iter().map(|(_, p)| p.as_path()).collect();
    let whole = alerts(&replay(&all, &[]));
    let before_late = alerts(&replay(&early, &[])).len();

    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state.redb");
    std::fs::copy(
        repo().join("tests/fixtures/state-v1/sample-logs-first-3-days.redb"),
        &state,
    )
    .expect("the fixture is there");
    let state_arg = state.to_str().expect("utf-8 path");
    let late_alerts = alerts(&replay(&late, &["--state", state_arg]));
    assert!(!late_alerts.is_empty());
    // A baseline that did not exist when the file was written starts empty: the
    // workloads' runs (`bulk_secret_retrieval`'s `[runs]`) are only in the evidence
    // of these alerts, which otherwise carry over exactly.
    let without_runs = |alerts: &[serde_json::Value]| -> Vec<serde_json::Value> {
        let mut alerts = alerts.to_vec();
        for a in &mut alerts {
            if let Some(evidence) = a["evidence"].as_object_mut() {
                evidence.remove("runs");
            }
        }
        alerts
    };
    assert_eq!(
        without_runs(&late_alerts),
        without_runs(&whole[before_late..]),
        "the old state carried over: the alerts of one replay of both periods"
    );
}

#[test]
fn a_foreign_or_corrupt_state_file_is_a_clear_error_and_reset_starts_over() {
    let blobs = blobs();
    let one: Vec<&Path> = blobs.iter().take(3).map(|(_, p)| p.as_path()).collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state.redb");
    std::fs::write(&state, b"this is not a kvwatch state file, it is a note").expect("write");
    let state_arg = state.to_str().expect("utf-8 path");

    let out = replay(&one, &["--state", state_arg]);
    assert!(!out.status.success(), "a corrupt state file is refused");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("state") && stderr.contains(state_arg),
        "the error names the state file: {stderr}"
    );

    let out = replay(&one, &["--state", state_arg, "--reset-state"]);
    alerts(&out);
    let again = replay(&one, &["--state", state_arg]);
    alerts(&again);
}
