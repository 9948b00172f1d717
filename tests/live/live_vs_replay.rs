//! The same simulated day, replayed from its Storage archive by `kvwatch replay` and
//! consumed live by `kvwatch run` from Event Hubs bodies (the simulator writes both
//! shapes of the same records), gives the same alerts, field for field.
//!
//! Both runs use the same config, so the same bounded lateness. Live, the days end with
//! a benign record six hours later on every partition; replay gets the same record as a
//! Storage blob of that later hour, so both watermarks end past every real event.

use std::path::Path;

use crate::live_support::*;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use kvwatch::simulate::{OutputShape, SimulationSpec};

const HUB: &str = "insights-logs-auditevent";
const PARTITIONS: usize = 4;

/// The Event Hubs bodies the simulator wrote, in file (arrival) order.
fn bodies(out: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<_> = std::fs::read_dir(out.join("_eventhubs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut bodies = Vec::new();
    for f in files {
        let text = std::fs::read(&f).unwrap();
        bodies.extend(
            text.split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec),
        );
    }
    bodies
}

/// Writes the sentinel record as a Storage blob of its hour.
fn sentinel_blob(out: &Path, at: DateTime<Utc>) {
    let record = records(&format!(
        "[[events]]\nat = {:?}\nop = \"Authentication\"\nstatus = 401\nip = \"10.9.9.9\"\n",
        at.to_rfc3339()
    ));
    let dir = out.join(format!(
        "resourceId=/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV-EXAMPLE/y={}/m={}/d={}/h={}/m=00",
        at.format("%Y"),
        at.format("%m"),
        at.format("%d"),
        at.format("%H")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("PT1H.json"), format!("{}\n", record[0].1)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_consumed_live_alerts_exactly_as_its_replay() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sim");
    let mut spec = SimulationSpec::new(&out);
    spec.days = 2;
    spec.shape = OutputShape::Both;
    spec.seed = 7;
    let start = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    spec.start = start;
    kvwatch::simulate::simulate(&spec).expect("simulate");
    // Six hours after the last simulated record: past every real event, and well
    // within the day by which event time may run ahead of the watermark before the
    // deduplication memory stops following the watermark (`pipeline::dedup::MAX_SKEW`).
    let end =
        start.and_hms_opt(0, 0, 0).unwrap().and_utc() + Duration::days(2) + Duration::hours(6);
    sentinel_blob(&out, end);

    let standin = standin(&[(HUB, PARTITIONS)]).await;
    let geoip = format!(
        "[geoip]\ndatabase = {:?}\n",
        out.join("_geoip.mmdb").display().to_string()
    );
    let hubs = hub_toml(&standin, HUB, &[], None).replace("prefetch = 50", "prefetch = 300");
    let config = config(
        dir.path(),
        "day",
        "15m",
        "idle_after = \"1h\"\nqueue_bodies = 64",
        &format!("{hubs}\n{geoip}"),
    );

    // Replay, as the command does.
    let replayed = dir.path().join("replay.jsonl");
    let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_kvwatch"))
        .arg("replay")
        .arg(&out)
        .arg("--config")
        .arg(dir.path().join("day.toml"))
        .arg("--output")
        .arg(&replayed)
        .arg("--no-progress")
        .status();
    assert!(within("kvwatch replay", status).await.unwrap().success());
    let expected = read_alerts(&replayed);
    assert!(
        expected.len() >= 5,
        "a simulated day has attacks: {} alerts",
        expected.len()
    );

    // Live: the same records as Event Hubs bodies, dealt over the partitions.
    let bodies = bodies(&out);
    for (i, b) in bodies.iter().enumerate() {
        standin
            .publish(HUB, &(i % PARTITIONS).to_string(), b.clone())
            .unwrap();
    }
    let last = sentinel(&end.to_rfc3339());
    for p in 0..PARTITIONS {
        standin.publish(HUB, &p.to_string(), last.clone()).unwrap();
    }
    let output = dir.path().join("live.jsonl");
    let live = start_live(&config, Some(output.clone())).await;
    let done = wait_status(&live, "the whole day taken", |s| {
        s.watermark == Some(end - Duration::minutes(15))
    })
    .await;
    assert_eq!(done.bodies, (bodies.len() + PARTITIONS) as u64);
    live.shutdown();
    within("the run stops", live.wait()).await.unwrap();
    let got = read_alerts(&output);

    assert_eq!(
        ids(&got),
        ids(&expected),
        "live and replay raise the same alerts"
    );
    for a in &expected {
        let live = got.iter().find(|g| g.id == a.id).expect("same ids");
        assert_eq!(live, a, "field for field (left: live, right: replay)");
    }
    let same_order = got.iter().map(|a| &a.id).eq(expected.iter().map(|a| &a.id));
    eprintln!(
        "{} alerts, {} bodies; same order: {same_order}",
        got.len(),
        bodies.len()
    );
}
