//! Crash recovery with the real binary: `kvwatch` is killed with SIGKILL while a
//! delivery is in flight (the receiver holds the request), then started again; the
//! idempotent receiver ends up with every alert id, none missing, duplicates allowed
//! only as repeats of the same id (at-least-once).

use crate::support;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use kvwatch::alert::Severity;
use kvwatch::sink::sample;
use support::receiver::{webhook_id, Behaviour, Receiver};
use support::{secret, wait_for, PATIENCE};
use tokio::process::Command;

const KVWATCH: &str = env!("CARGO_BIN_EXE_kvwatch");

fn write_config(dir: &Path, rx: &Receiver) -> std::path::PathBuf {
    let text = format!(
        "[detectors]\ndir = \"detectors\"\n\n[outbox]\npath = {:?}\nbackoff_initial = \"50ms\"\nbackoff_max = \"400ms\"\npoll_interval = \"20ms\"\n\
         attempt_timeout = \"60s\"\ndrain_timeout = \"120s\"\n\n\
         [[sinks]]\nkind = \"webhook\"\nname = \"hook\"\nurl = {}\nsigning_secret = {}\n",
        dir.join("outbox.redb").display().to_string(),
        secret(dir, "url", &rx.url("/hook")),
        secret(dir, "whsec", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    );
    let path = dir.join("kvwatch.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts kvwatch, waits until the receiver holds a request, kills it with SIGKILL.
async fn run_and_kill(mut cmd: Command, rx: &Receiver, in_flight_at: usize) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start kvwatch");
    wait_for("the stalled delivery to be in flight", || {
        rx.raw_count() >= in_flight_at
    })
    .await;
    child.start_kill().expect("SIGKILL");
    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .expect("kvwatch exits")
        .unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "killed by SIGKILL, not finished: {status:?}"
    );
}

/// Runs kvwatch to completion.
async fn run_to_end(mut cmd: Command) {
    let status = tokio::time::timeout(
        PATIENCE * 2,
        cmd.stdout(Stdio::null()).stderr(Stdio::inherit()).status(),
    )
    .await
    .expect("kvwatch finishes")
    .unwrap();
    assert!(status.success(), "{status:?}");
}

fn assert_each_once(rx: &Receiver, expected: &[String]) {
    let accepted = rx.accepted();
    let mut want = expected.to_vec();
    want.sort();
    want.dedup();
    assert_eq!(
        accepted.keys().cloned().collect::<Vec<_>>(),
        want,
        "the receiver has every alert id, and no other"
    );
    let raw: usize = accepted.values().sum();
    assert!(
        raw >= want.len() && rx.raw_count() > want.len(),
        "at-least-once: {raw} accepted, {} requests",
        rx.raw_count()
    );
    assert_eq!(rx.bad_signatures(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_delivery_then_restart_delivers_every_queued_alert() {
    let dir = tempfile::tempdir().unwrap();
    let key =
        kvwatch::sink::webhook::generic::decode_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    let rx = Receiver::start(webhook_id, key).await;
    // Three answered at once, the fourth held until long after the kill.
    rx.plan(&[
        Behaviour::Accept,
        Behaviour::Accept,
        Behaviour::Accept,
        Behaviour::Stall(Duration::from_secs(300)),
    ]);
    let config = write_config(dir.path(), &rx);
    let alerts: Vec<_> = (1..=20).map(|n| sample::alert(n, Severity::High)).collect();
    let file = dir.path().join("alerts.jsonl");
    std::fs::write(
        &file,
        alerts
            .iter()
            .map(|a| a.to_json_line() + "\n")
            .collect::<String>(),
    )
    .unwrap();

    let mut first = Command::new(KVWATCH);
    first
        .args(["outbox", "send"])
        .arg(&file)
        .arg("--config")
        .arg(&config);
    run_and_kill(first, &rx, 4).await;
    assert_eq!(rx.accepted().len(), 3);

    // The restarted process only drains what the killed one left in the outbox.
    let mut second = Command::new(KVWATCH);
    second.args(["outbox", "send", "--config"]).arg(&config);
    run_to_end(second).await;
    let ids: Vec<String> = alerts.iter().map(|a| a.id.clone()).collect();
    assert_each_once(&rx, &ids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_replay_delivery_then_replaying_again_delivers_every_alert() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("grants.jsonl");
    support::grants_fixture(&fixture, 12, |i| format!("admin{i}@contoso.com"));
    // Only the access-policy detector, whose rules fire from the first event.
    support::access_policy_detector_only(dir.path());
    let plain_config = dir.path().join("plain.toml");
    std::fs::write(&plain_config, "[detectors]\ndir = \"detectors\"\n").unwrap();
    // What the detector raises from the fixture, without sinks.
    let plain = Command::new(KVWATCH)
        .args(["replay", "--no-progress", "--config"])
        .arg(&plain_config)
        .arg(&fixture)
        .output()
        .await
        .unwrap();
    assert!(
        plain.status.success(),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    let expected: Vec<String> = String::from_utf8_lossy(&plain.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<kvwatch::alert::Alert>(l)
                .expect("alert line")
                .id
        })
        .collect();
    assert!(
        expected.len() >= 3,
        "the detectors raised {} alerts from the access-policy fixture; this test needs at least 3",
        expected.len()
    );

    let rx = Receiver::start(webhook_id, None).await;
    rx.plan(&[
        Behaviour::Accept,
        Behaviour::Accept,
        Behaviour::Stall(Duration::from_secs(300)),
    ]);
    let config = write_config(dir.path(), &rx);
    let replay = || {
        let mut c = Command::new(KVWATCH);
        c.args(["replay", "--no-progress", "--config"])
            .arg(&config)
            .arg(&fixture);
        c
    };
    run_and_kill(replay(), &rx, 3).await;
    // Replaying again re-derives the same alerts (same ids): the outbox keeps one
    // delivery per id, and the receiver drops the repeats of the two it already had.
    run_to_end(replay()).await;
    assert_each_once(&rx, &expected);
}
