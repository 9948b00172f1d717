//! The bundled sample logs replayed by the real binary give exactly the reviewed
//! alerts: every alert's id and body (the JSON Lines output, byte for byte), the run
//! summary's counts, and the next steps an analyst reads for each alert. This is what
//! proves that a restructuring of the detectors kept their behaviour.
//!
//! The goldens are in `tests/detect/golden/`:
//! - `sample-logs.alerts.jsonl`: standard output of
//!   `kvwatch replay sample-logs/ --geoip sample-logs/_geoip.mmdb`;
//! - `sample-logs.summary.json`: its `--summary` without the two timing fields;
//! - `sample-logs.next-steps.json`: the rendered next steps, per detector that alerted.
//!
//! To regenerate them after an intended change of behaviour, run
//! `KVWATCH_UPDATE_GOLDEN=1 cargo test --release --test detect replay_golden::` and
//! review the diff (`git diff tests/detect/golden/`) before committing: a rewritten
//! golden is a claim that every changed alert is right. CI never sets the variable.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use kvwatch::alert::Alert;
use kvwatch::sink::render::next_steps;
use serde_json::Value;

/// Fields of the summary that measure the machine, not the replay.
const TIMING_FIELDS: [&str; 2] = ["elapsed_seconds", "records_per_second"];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn golden(name: &str) -> PathBuf {
    repo().join("tests/detect/golden").join(name)
}

fn updating() -> bool {
    std::env::var_os("KVWATCH_UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

/// The replay's standard output and its summary with the timing fields removed.
fn replay_sample_logs() -> (String, Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let summary = dir.path().join("summary.json");
    let out = Command::new(env!("CARGO_BIN_EXE_kvwatch"))
        .current_dir(repo())
        .args([
            "replay",
            "sample-logs/",
            "--geoip",
            "sample-logs/_geoip.mmdb",
        ])
        .args(["--no-progress", "--log-level", "error", "--summary"])
        .arg(&summary)
        .output()
        .expect("kvwatch runs");
    assert!(
        out.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("alerts are UTF-8");
    let text = std::fs::read_to_string(&summary).expect("the summary is written");
    let mut summary: Value = serde_json::from_str(&text).expect("the summary is JSON");
    let fields = summary.as_object_mut().expect("the summary is an object");
    for timing in TIMING_FIELDS {
        assert!(fields.remove(timing).is_some(), "summary has {timing}");
    }
    (stdout, summary)
}

/// Compares `got` with the golden file (or rewrites it when updating); returns a
/// description of the first difference.
fn compare(name: &str, got: &str) -> Option<String> {
    let path = golden(name);
    if updating() {
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("golden folder");
        std::fs::write(&path, got).expect("golden written");
        return None;
    }
    let Ok(want) = std::fs::read_to_string(&path) else {
        return Some(format!(
            "{name}: no golden file {} (run with KVWATCH_UPDATE_GOLDEN=1)",
            path.display()
        ));
    };
    if want == got {
        return None;
    }
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let line = w.iter().zip(&g).position(|(a, b)| a != b);
    Some(match line {
        Some(i) => format!(
            "{name}: line {} differs\n  golden: {}\n  now:    {}",
            i + 1,
            w[i],
            g[i]
        ),
        None => format!("{name}: {} lines in the golden, {} now", w.len(), g.len()),
    })
}

fn pretty(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).expect("serialises") + "\n"
}

#[test]
fn sample_logs_replay_gives_the_reviewed_alerts_summary_and_next_steps() {
    let (alerts, summary) = replay_sample_logs();
    let parsed: Vec<Alert> = alerts
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(parsed.len() > 10, "the sample logs raise alerts");
    assert_eq!(
        summary["alerts"].as_u64(),
        Some(parsed.len() as u64),
        "the summary counts the alerts printed"
    );
    let mut steps: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for alert in &parsed {
        steps
            .entry(alert.detector.as_str())
            .or_insert_with(|| next_steps(alert));
    }

    let failures: Vec<String> = [
        compare("sample-logs.alerts.jsonl", &alerts),
        compare("sample-logs.summary.json", &pretty(&summary)),
        compare("sample-logs.next-steps.json", &pretty(&steps)),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(
        failures.is_empty(),
        "the replay of sample-logs/ changed (if intended, regenerate with \
         KVWATCH_UPDATE_GOLDEN=1 and review the diff):\n{}",
        failures.join("\n")
    );
}
