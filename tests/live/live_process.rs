//! The `kvwatch run` binary against the embedded hub, authenticating with a connection
//! string from a file: killed with SIGKILL mid-stream and started again, it loses no
//! alert (a crash may deliver an alert again, with the same id and content: receivers
//! drop it by id); SIGTERM drains, checkpoints and exits 0.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;

use crate::live_support::*;
use chrono::DateTime;
use kvwatch::state::StateStore;
use tokio::process::{Child, Command};

const HUB: &str = "audit";

fn spawn(config: &Path, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_kvwatch"))
        .args([
            "--log-level",
            "info",
            "run",
            "--metrics-listen",
            "127.0.0.1:0",
            "--config",
        ])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("start kvwatch run")
}

/// The metrics URL the second process printed (the last one in the log).
async fn metrics_url(log: &Path) -> String {
    let mut found = None;
    wait_until("the metrics address in the log", || {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let starts = text.matches("kvwatch: serving metrics on ").count();
        found = text
            .rsplit("kvwatch: serving metrics on ")
            .next()
            .and_then(|r| r.split_whitespace().next())
            .map(str::to_owned);
        starts >= 2
    })
    .await;
    found.expect("an address")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_nothing_and_sigterm_drains_and_checkpoints() {
    let standin = standin(&[(HUB, 2)]).await;
    let hook = Hook::start().await;
    let dir = tempfile::tempdir().unwrap();
    let conn = standin.connection_string(None);
    std::fs::write(dir.path().join("eh.conn"), conn).unwrap();
    let hubs = hub_toml(&standin, HUB, &[], None)
        + &format!("credential = {{ kind = \"connection_string\", connection_string = {{ file = {:?} }} }}\n", dir.path().join("eh.conn").display().to_string());
    let config_text = config(
        dir.path(),
        "proc",
        "5m",
        "idle_after = \"1h\"",
        &format!("{hubs}\n{}", webhook_toml(dir.path(), &hook.url())),
    );
    let config_path = dir.path().join("proc.toml");
    let log = dir.path().join("kvwatch.log");

    let records = probing_hour();
    let (early, late) = records.split_at(records.len() / 2);
    let mut all = Vec::new();
    for (p, bodies) in deal(early, 4, 2).iter().enumerate() {
        for b in bodies {
            standin.publish(HUB, &p.to_string(), b.clone()).unwrap();
            all.push(b.clone());
        }
    }
    let mut child = spawn(&config_path, &log);
    hook.wait_for(1).await;
    child.start_kill().expect("SIGKILL");
    let killed = within("the process dies", child.wait()).await.unwrap();
    assert!(!killed.success());

    for (p, bodies) in deal(late, 4, 2).iter().enumerate() {
        for b in bodies.iter().cloned().chain([sentinel(AFTER_THE_HOUR)]) {
            standin.publish(HUB, &p.to_string(), b.clone()).unwrap();
            all.push(b);
        }
    }
    let expected = reference_alerts(&config_text, &all);
    let mut child = spawn(&config_path, &log);
    let want = ids(&expected);
    wait_until("every expected alert at the webhook", || {
        let mut got = ids(&hook.alerts());
        got.dedup();
        got == want
    })
    .await;
    // Wait for the sentinels too (the metrics endpoint tells), so the final checkpoint
    // is past every real body.
    let end = DateTime::parse_from_rfc3339(AFTER_THE_HOUR)
        .unwrap()
        .to_utc()
        - chrono::Duration::minutes(5);
    let url = metrics_url(&log).await;
    let client = reqwest::Client::new();
    loop {
        let text = within("scrape", client.get(&url).send())
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metric_sum(&text, "kvwatch_watermark_timestamp_seconds") == end.timestamp() as f64 {
            break;
        }
        within(
            "the next scrape",
            tokio::time::sleep(std::time::Duration::from_millis(50)),
        )
        .await;
    }
    let pid = i32::try_from(child.id().expect("running")).unwrap();
    // SAFETY: sending a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let exit = within("SIGTERM stops the process", child.wait())
        .await
        .unwrap();
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(exit.success(), "exit {exit:?}\n{output}");
    assert!(
        output.contains("draining the queue and writing a checkpoint"),
        "{output}"
    );

    let mut by_id: BTreeMap<String, Vec<kvwatch::alert::Alert>> = BTreeMap::new();
    for a in hook.alerts() {
        by_id.entry(a.id.clone()).or_default().push(a);
    }
    assert_eq!(
        by_id.keys().cloned().collect::<Vec<_>>(),
        want,
        "no alert lost"
    );
    for (id, copies) in &by_id {
        assert!(
            copies.windows(2).all(|w| w[0] == w[1]),
            "{id}: a redelivery is the same alert"
        );
    }

    let state = StateStore::open(&dir.path().join("proc.state.redb"))
        .expect("the process released its state");
    let checkpoint = state.load().unwrap().expect("a checkpoint");
    assert_eq!(
        checkpoint.meta.watermark,
        Some(end),
        "the final checkpoint is past everything but the sentinels"
    );
    for p in 0..2 {
        let key =
            kvwatch::state::partition_key(standin.namespace(), HUB, "kvwatch", &p.to_string());
        let last = standin.events(HUB, &p.to_string()).unwrap().len() as i64 - 1;
        assert_eq!(
            checkpoint.partitions[&key].resume_after,
            Some(last - 1),
            "partition {p}"
        );
    }
}
