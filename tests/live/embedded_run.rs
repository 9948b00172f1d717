//! `kvwatch run --embedded`, the binary as a user runs it: on the bundled sample logs it
//! prints the alerts `kvwatch replay` prints for them (ids and bodies); and its hub
//! takes an outside producer (the real SDK's, with the connection string the run
//! printed), whose records come out as alerts at a real webhook receiver.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::live_support::*;
use azure_messaging_eventhubs::{ProducerClient, SendEventOptions};
use kvwatch::config::Config;
use tokio::process::{Child, Command};

fn sample_logs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs")
}

/// Runs the kvwatch binary to its end; returns its standard output.
async fn kvwatch(args: &[&str], what: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_kvwatch"))
        .args(args)
        .stdin(Stdio::null())
        .output();
    let out = within(what, out).await.expect("kvwatch runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what}: {:?}\n{stderr}", out.status);
    String::from_utf8(out.stdout).expect("UTF-8 alerts")
}

fn alerts(json_lines: &str) -> Vec<kvwatch::alert::Alert> {
    json_lines
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("an alert"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_command_prints_the_alerts_replay_prints_for_the_sample_logs() {
    let logs = sample_logs();
    let logs = logs.to_str().expect("a UTF-8 path");
    let geoip = format!("{logs}/_geoip.mmdb");
    let replayed = alerts(
        &kvwatch(
            &["replay", logs, "--geoip", &geoip, "--no-progress"],
            "replay",
        )
        .await,
    );
    let live = alerts(
        &kvwatch(
            &["run", "--embedded", logs, "--geoip", &geoip],
            "run --embedded",
        )
        .await,
    );
    assert_eq!(replayed.len(), 35, "the sample logs raise 35 alerts");
    assert_eq!(ids(&live), ids(&replayed), "the same alert ids");
    for a in &replayed {
        let got = live.iter().find(|g| g.id == a.id).expect("same ids");
        assert_eq!(got, a, "field for field (left: live, right: replay)");
    }
}

/// Starts `kvwatch run --embedded` with `config`, its standard error in `log`.
fn spawn_embedded(config: &Path, log: &Path) -> Child {
    let log = std::fs::File::create(log).expect("the log file");
    Command::new(env!("CARGO_BIN_EXE_kvwatch"))
        .args(["--log-level", "info", "run", "--embedded", "--config"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("start kvwatch run --embedded")
}

/// The value printed after `prefix` on a line of the run's log, once it is there.
async fn printed(log: &Path, prefix: &str) -> String {
    let mut found = None;
    wait_until(&format!("{prefix:?} in the log"), || {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        found = text
            .lines()
            .find_map(|l| l.split_once(prefix).map(|(_, v)| v.trim().to_owned()));
        found.is_some()
    })
    .await;
    found.expect("printed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outside_sdk_producer_publishes_into_the_embedded_hub_and_alerts_reach_a_webhook() {
    init_tracing();
    let hook = Hook::start().await;
    let dir = tempfile::tempdir().unwrap();
    // Partitions idle for 2 s stop holding the watermark back, so the alerts come once
    // the producer stops, without a closing record.
    let text = format!(
        "[pipeline]\nlateness = \"5m\"\n\n[eventhubs]\nidle_after = \"2s\"\n\n\
         [outbox]\npoll_interval = \"20ms\"\nbackoff_initial = \"50ms\"\n\n{}",
        webhook_toml(dir.path(), &hook.url())
    );
    let config_path = dir.path().join("embedded.toml");
    std::fs::write(&config_path, text).unwrap();
    let config = Config::load(&config_path).expect("a valid config");
    let log = dir.path().join("kvwatch.log");
    let mut child = spawn_embedded(&config_path, &log);

    let connection_string = printed(&log, "connection string for outside producers:").await;
    let endpoint = printed(&log, "embedded Event Hubs on")
        .await
        .split_whitespace()
        .next()
        .expect("the endpoint")
        .to_owned();
    let open = ProducerClient::builder()
        .with_custom_endpoint(endpoint)
        .open_with_connection_string(&connection_string, Some("insights-logs-auditevent"));
    let producer = within("open a producer with the printed connection string", open)
        .await
        .expect("the producer connects");
    let dealt = deal(&probing_hour(), 5, 4);
    let mut bodies = Vec::new();
    for round in 0..dealt.iter().map(Vec::len).max().unwrap_or(0) {
        for (partition, list) in dealt.iter().enumerate() {
            let Some(body) = list.get(round) else {
                continue;
            };
            let options = SendEventOptions {
                partition_id: Some(partition.to_string()),
            };
            within("send", producer.send_event(body.clone(), Some(options)))
                .await
                .expect("sent");
            bodies.push(body.clone());
        }
    }
    within("close the producer", producer.close()).await.ok();
    let expected = reference_alerts(&config, &bodies);
    assert!(expected.len() >= 3, "the hour raises alerts: {expected:?}");
    hook.wait_for(expected.len()).await;

    let pid = i32::try_from(child.id().expect("running")).unwrap();
    // SAFETY: sending a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let exit = within("SIGTERM stops the run", child.wait()).await.unwrap();
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(exit.success(), "exit {exit:?}\n{output}");
    let got = hook.alerts();
    assert_eq!(
        ids(&got),
        ids(&expected),
        "exactly the replay alerts\n{output}"
    );
    for a in &expected {
        assert!(got.contains(a), "the same contract, field for field: {a:?}");
    }
}
