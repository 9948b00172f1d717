//! `kvwatch replay` with a webhook sink, through the real binary and a real receiver:
//! what a replay whose alerts dead-letter says (its exit status), and what a
//! careless receiver that echoes credentials back cannot make kvwatch repeat (its
//! logs, the outbox's `last_error`, `kvwatch outbox list`).

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Output;

use base64::Engine as _;
use support::receiver::{webhook_id, Behaviour, Receiver};
use support::PATIENCE;
use tokio::process::Command;

const KVWATCH: &str = env!("CARGO_BIN_EXE_kvwatch");

/// A config with one webhook sink posting to `url`, and the grants fixture.
fn setup(dir: &Path, url: &str) -> (PathBuf, PathBuf) {
    support::access_policy_detector_only(dir);
    let fixture = dir.join("grants.jsonl");
    support::grants_fixture(&fixture, 3, |i| format!("admin{i}@contoso.com"));
    let text = format!(
        "[detectors]\ndir = \"detectors\"\n\n[outbox]\npath = {:?}\nbackoff_initial = \"50ms\"\nbackoff_max = \"400ms\"\n\
         poll_interval = \"20ms\"\ndrain_timeout = \"60s\"\n\n[[sinks]]\nkind = \"webhook\"\nname = \"soar\"\nurl = {}\nsigning_secret = {}\n",
        dir.join("outbox.redb").display().to_string(),
        support::secret(dir, "url", url),
        support::secret(dir, "whsec", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    );
    let config = dir.join("kvwatch.toml");
    std::fs::write(&config, text).expect("write the config");
    (config, fixture)
}

async fn run(args: &[&std::ffi::OsStr]) -> Output {
    tokio::time::timeout(PATIENCE * 2, Command::new(KVWATCH).args(args).output())
        .await
        .expect("kvwatch finishes")
        .expect("kvwatch runs")
}

async fn replay(config: &Path, fixture: &Path) -> Output {
    run(&[
        "replay".as_ref(),
        "--no-progress".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
        fixture.as_os_str(),
    ])
    .await
}

async fn outbox_list(config: &Path, json: bool) -> String {
    let mut args: Vec<&std::ffi::OsStr> = vec!["outbox".as_ref(), "list".as_ref()];
    if json {
        args.push("--json".as_ref());
    }
    args.extend(["--config".as_ref(), config.as_os_str()]);
    let out = run(&args).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_whose_alerts_dead_letter_exits_with_its_own_status() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(webhook_id, None).await;
    rx.set_default(Behaviour::Status(400));
    let (config, fixture) = setup(dir.path(), &rx.url("/hook"));
    let out = replay(&config, &fixture).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(rx.raw_count() >= 1, "the receiver was asked: {stderr}");
    assert!(stderr.contains("dead-lettered"), "{stderr}");
    assert_eq!(
        out.status.code(),
        Some(4),
        "dead letters have their own exit status (README, --help): {stderr}"
    );

    // Delivered alerts leave a successful replay.
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(webhook_id, None).await;
    let (config, fixture) = setup(dir.path(), &rx.url("/hook"));
    let out = replay(&config, &fixture).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_a_receiver_echoes_back_never_reach_logs_or_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(webhook_id, None).await;
    rx.set_default(Behaviour::Echo(400));
    let url = format!(
        "http://kv-user:p%40ss-w0rd%2Fx@{}/hook/SEGMENT-SECRET-1?token=tok%2Fen%3Dsecret&v=1",
        rx.addr
    );
    let (config, fixture) = setup(dir.path(), &url);
    let out = replay(&config, &fixture).await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(rx.raw_count() >= 1, "the receiver was asked: {stderr}");
    let basic = base64::engine::general_purpose::STANDARD.encode("kv-user:p@ss-w0rd/x");
    let list = outbox_list(&config, false).await;
    let json = outbox_list(&config, true).await;
    assert!(
        list.contains("dead") && list.contains("400"),
        "the failure is listed: {list}"
    );
    for (name, text) in [
        ("log", &stderr),
        ("outbox list", &list),
        ("outbox list --json", &json),
    ] {
        for leak in [
            "tok/en=secret",
            "tok%2Fen",
            "p@ss-w0rd",
            "p%40ss",
            "SEGMENT-SECRET-1",
            basic.as_str(),
        ] {
            assert!(!text.contains(leak), "{name} shows {leak:?}:\n{text}");
        }
    }
    assert!(stderr.contains("<redacted>"), "{stderr}");
}
