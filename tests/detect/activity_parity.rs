//! The same Activity Log in every shape an analyst meets it gives the same alerts:
//! Storage JSON Lines (a subscription's diagnostic setting), Event Hubs bodies
//! (`{"records":[…]}`), and `AzureActivity` rows (JSON lines and a CSV export), each
//! replayed beside the same AuditEvent folder. The alerts must include the Activity
//! Log's own (a grant followed by a read, a diagnostic setting deleted, a vault
//! deleted), so agreement cannot come from the Activity Log being ignored.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDate;
use kvwatch::decode::log_analytics::export::{azure_activity_row, to_csv, CsvStyle};
use kvwatch::simulate::{simulate, SimulationSpec};
use serde_json::Value;

fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(walkdir::DirEntry::into_path)
        .collect();
    out.sort();
    out
}

/// `kvwatch replay <inputs…>`: the alerts, as comparable lines.
fn replay(inputs: &[&Path], geoip: &Path, out: &Path) -> Vec<String> {
    let status = Command::new(env!("CARGO_BIN_EXE_kvwatch"))
        .arg("replay")
        .args(inputs)
        .arg("--geoip")
        .arg(geoip)
        .arg("--output")
        .arg(out)
        .args(["--no-progress", "--log-level", "error"])
        .status()
        .expect("kvwatch runs");
    assert!(status.success(), "replay failed: {status}");
    std::fs::read_to_string(out)
        .expect("alerts")
        .lines()
        .map(|l| {
            let a: Value = serde_json::from_str(l).expect("alert");
            format!(
                "{} {} {} {} {} {} {} {}: {}",
                a["first_seen"],
                a["revision"],
                a["detector"],
                a["rule"],
                a["severity"],
                a["identity"],
                a["vault"],
                a["last_seen"],
                a["summary"]
            )
        })
        .collect()
}

#[test]
fn every_shape_of_the_activity_log_gives_the_same_alerts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sim = dir.path().join("sim");
    let mut spec = SimulationSpec::new(&sim);
    spec.days = 5;
    spec.seed = 42;
    spec.volume = 0.2;
    spec.start = NaiveDate::from_ymd_opt(2026, 11, 2).expect("date");
    spec.activity_log = true;
    simulate(&spec).expect("simulates");
    let audit = sim.join("resourceId=");
    let storage = sim.join("insights-activity-logs");
    let geoip = sim.join("_geoip.mmdb");
    // Each shape is written hour by hour in the same folders as the Storage blobs
    // (as an hourly export or an Event Hubs capture would be), so replay orders
    // them by hour exactly as it orders the blobs.
    let (hubs, rows_dir, csv_dir) = (
        dir.path().join("hubs"),
        dir.path().join("azure_activity_json"),
        dir.path().join("azure_activity_csv"),
    );
    let mut records = 0;
    for blob in files_under(&storage) {
        let rel = blob
            .parent()
            .and_then(|p| p.strip_prefix(&storage).ok())
            .expect("a blob under the folder");
        let lines: Vec<String> = std::fs::read_to_string(&blob)
            .expect("blob")
            .lines()
            .map(str::to_owned)
            .collect();
        records += lines.len();
        let rows: Vec<Value> = lines
            .iter()
            .map(|l| azure_activity_row(&serde_json::from_str(l).expect("json")).expect("row"))
            .collect();
        let row_lines: Vec<String> = rows.iter().map(Value::to_string).collect();
        let bodies: Vec<String> = lines
            .chunks(20)
            .map(|c| format!("{{\"records\":[{}]}}", c.join(",")))
            .collect();
        for (root, file, text) in [
            (&hubs, "body.json", bodies.join("\n")),
            (&rows_dir, "rows.json", row_lines.join("\n")),
            (
                &csv_dir,
                "rows.csv",
                to_csv(&rows, CsvStyle::Plain).expect("CSV"),
            ),
        ] {
            let d = root.join(rel);
            std::fs::create_dir_all(&d).expect("mkdir");
            std::fs::write(d.join(file), text).expect("write");
        }
    }
    assert!(records > 100, "{records} Activity Log records");

    let out = |n: &str| dir.path().join(format!("{n}.jsonl"));
    let base = replay(&[&audit, &storage], &geoip, &out("storage"));
    for wanted in [
        "\"control_plane\" \"grant_then_read\" \"critical\"",
        "\"control_plane\" \"monitoring_disabled\" \"critical\"",
        "\"destructive_operations\" \"vault_delete\" \"critical\"",
    ] {
        assert!(
            base.iter().any(|a| a.contains(wanted)),
            "no {wanted} alert in {base:#?}"
        );
    }
    for (name, input) in [
        ("event hubs bodies", &hubs),
        ("AzureActivity JSON lines", &rows_dir),
        ("AzureActivity CSV", &csv_dir),
    ] {
        let got = replay(&[input, &audit], &geoip, &out(&name.replace(' ', "_")));
        assert_eq!(got, base, "{name}");
    }
}
