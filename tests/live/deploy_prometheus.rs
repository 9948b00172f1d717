//! A real Prometheus with `deploy/prometheus/prometheus.yml` (its target rewritten to
//! the test's kvwatch, its rules path to the repository's) scrapes `kvwatch run
//! --embedded` on the sample logs: the target is up, kvwatch's records count reaches
//! the sample's, and the alerting rules are loaded.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use crate::deploy_files::tool;
use crate::live_support::*;
use tokio::process::Command;

/// The sample logs' records: 3417 AuditEvent and 294 Activity Log.
const SAMPLE_RECORDS: f64 = 3711.0;

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// The value of an instant query's single sample, when there is one.
async fn query(client: &reqwest::Client, base: &str, expr: &str) -> Option<f64> {
    let encoded: String = expr
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let answer: serde_json::Value = client
        .get(format!("{base}/api/v1/query?query={encoded}"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    answer["data"]["result"][0]["value"][1]
        .as_str()?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_with_the_deploy_config_scrapes_kvwatch_on_the_embedded_hub() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("kvwatch.log");
    let logs = repo.join("sample-logs");
    let mut kvwatch = Command::new(env!("CARGO_BIN_EXE_kvwatch"))
        .args([
            "run",
            "--embedded",
            "--keep-running",
            "--metrics-listen",
            "127.0.0.1:0",
            "--geoip",
        ])
        .arg(logs.join("_geoip.mmdb"))
        .arg(&logs)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .expect("start kvwatch run --embedded");
    let mut metrics = None;
    wait_until("the metrics address in the log", || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        metrics = text
            .split("serving metrics on http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .map(str::to_owned);
        metrics.is_some()
    })
    .await;
    let metrics = metrics.expect("an address");

    let shipped = std::fs::read_to_string(repo.join("deploy/prometheus/prometheus.yml")).unwrap();
    assert!(shipped.contains("\"kvwatch:9187\""), "the compose target");
    let rules = repo.join("deploy/prometheus/rules/kvwatch-alerts.rules.yml");
    let config = shipped
        .replace("\"kvwatch:9187\"", &format!("{metrics:?}"))
        .replace(
            "rules/kvwatch-alerts.rules.yml",
            &rules.display().to_string(),
        );
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut prometheus = Command::new(tool("KVWATCH_PROMETHEUS"))
        .arg(format!(
            "--config.file={}",
            dir.path().join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("prometheus.log")).unwrap())
        .kill_on_drop(true)
        .spawn()
        .expect("start prometheus");

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let scraped = async {
        loop {
            let up = query(&client, &base, "up{job=\"kvwatch\"}").await;
            let records = query(
                &client,
                &base,
                "sum(kvwatch_eventhubs_records_total{job=\"kvwatch\"})",
            )
            .await;
            if up == Some(1.0) && records == Some(SAMPLE_RECORDS) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    within(
        "Prometheus scrapes every sample record's count from kvwatch",
        scraped,
    )
    .await;
    let rules: serde_json::Value = client
        .get(format!("{base}/api/v1/rules"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = rules["data"]["groups"][0]["rules"]
        .as_array()
        .map(|r| r.iter().filter_map(|r| r["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        names.contains(&"KvwatchDown"),
        "the rules are loaded: {names:?}"
    );
    prometheus.start_kill().ok();
    kvwatch.start_kill().ok();
}
