//! Three real `kvwatch run` processes with one config, one embedded hub and one Azurite
//! container: one is active, two stand by. `kill -9` of the active one in the middle of
//! a day: a standby takes the group over with its state (detector state, dedup,
//! positions, undelivered alerts), reads on from the last commit, and the webhook
//! receiver ends with exactly the alert ids a replay of the whole day gives, with no
//! gap counted. The day is built so that alerts after the kill depend on what the
//! detectors learned before it (checked against a replay of the second half alone).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use chrono::{DateTime, Utc};
use tokio::process::{Child, Command};

use kvwatch::embedded_hub::EmbeddedHub;

use crate::azurite::Azurite;
use crate::live_support::*;

pub(crate) const HUB: &str = "audit";
pub(crate) const CONTAINER: &str = "kvwatch-group";

/// One `kvwatch run` process and where it logs.
pub(crate) struct Instance {
    pub(crate) name: String,
    pub(crate) child: Child,
    log: PathBuf,
}

impl Instance {
    pub(crate) fn spawn(name: &str, config: &Path, dir: &Path) -> Instance {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_kvwatch"))
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
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .expect("start kvwatch run");
        Instance {
            name: name.to_owned(),
            child,
            log,
        }
    }

    /// Sends it `signal` (SIGTERM, SIGSTOP, SIGCONT).
    pub(crate) fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.child.id().expect("running")).expect("pid");
        // SAFETY: sending a signal to a child this test started.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    }

    pub(crate) fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The base URL of its metrics endpoint (from its log).
    pub(crate) async fn base_url(&self) -> String {
        let marker = "kvwatch: serving metrics on ";
        let mut found = None;
        wait_until(
            &format!("{}: the metrics address in its log", self.name),
            || {
                found = self
                    .output()
                    .split(marker)
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next())
                    .and_then(|u| u.strip_suffix("/metrics"))
                    .map(str::to_owned);
                found.is_some()
            },
        )
        .await;
        found.expect("an address")
    }
}

pub(crate) async fn get(url: &str) -> Option<String> {
    let answer = reqwest::get(url).await.ok()?;
    answer.text().await.ok()
}

/// The metric's value in one instance's scrape (the sum over its series).
pub(crate) async fn metric(base: &str, family: &str) -> Option<f64> {
    Some(metric_sum(&get(&format!("{base}/metrics")).await?, family))
}

/// Every instance's log, for a failure message.
pub(crate) fn logs(instances: &[Instance]) -> String {
    let logs: Vec<String> = instances
        .iter()
        .map(|i| format!("--- {}\n{}", i.name, i.output()))
        .collect();
    logs.join("\n")
}

/// Waits until exactly one of `bases` says it is active; returns its index.
pub(crate) async fn the_active_one(bases: &[(usize, String)], instances: &[Instance]) -> usize {
    let deadline = std::time::Instant::now() + STEP;
    loop {
        let mut active = Vec::new();
        for (i, base) in bases {
            let text = get(&format!("{base}/metrics")).await.unwrap_or_default();
            if text
                .lines()
                .any(|l| l == "kvwatch_coordination_role{role=\"active\"} 1")
            {
                active.push(*i);
            }
        }
        assert!(
            active.len() <= 1,
            "two active instances at once: {active:?}"
        );
        if let [one] = active[..] {
            return one;
        }
        if std::time::Instant::now() >= deadline {
            panic!(
                "timed out after {STEP:?} waiting for an active instance\n{}",
                logs(instances)
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

pub(crate) fn coordination_toml(dir: &Path, azurite: &Azurite) -> String {
    std::fs::write(dir.join("storage.conn"), azurite.connection_string()).expect("write");
    format!(
        "[coordination]\ncontainer = {CONTAINER:?}\ncredential = {{ kind = \"connection_string\", connection_string = {{ file = {:?} }} }}\n\
         ownership_expiry = \"6s\"\nrenew_interval = \"500ms\"\nsafety_margin = \"2s\"\nstandby_poll = \"200ms\"\noperation_timeout = \"1s\"\n",
        dir.join("storage.conn").display().to_string()
    )
}

/// The config every instance shares: the hub (connection string), the webhook,
/// then `[coordination]` on Azurite (last, so more keys can follow).
pub(crate) fn shared_config(
    dir: &Path,
    hub: &EmbeddedHub,
    hook: &Hook,
    azurite: &Azurite,
) -> String {
    shared_config_with(dir, hub, hook, &coordination_toml(dir, azurite))
}

/// As [`shared_config`], with this `[coordination]` table.
pub(crate) fn shared_config_with(
    dir: &Path,
    hub: &EmbeddedHub,
    hook: &Hook,
    coordination: &str,
) -> String {
    std::fs::write(dir.join("eh.conn"), hub.connection_string(None)).expect("write");
    format!(
        "{}credential = {{ kind = \"connection_string\", connection_string = {{ file = {:?} }} }}\n\n{}\n{}",
        hub_toml(hub, HUB, &[], None),
        dir.join("eh.conn").display().to_string(),
        webhook_toml(dir, &hook.url()),
        coordination
    )
}

/// `n` configs that differ only in the outbox (each pod has its own disk) and the
/// instance name (`nodeI`, the start of its owner id). `shared` ends with the
/// `[coordination]` table. Deliveries are retried for long (a refusing receiver
/// must not dead-letter an alert while a test holds it back).
pub(crate) fn configs(dir: &Path, shared: &str, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let own = dir.join(format!("node{i}"));
            std::fs::create_dir_all(&own).expect("dir");
            let rest = format!("{shared}instance_name = \"node{i}\"\n");
            config(&own, "run", "5m", "idle_after = \"1h\"", &rest);
            let path = own.join("run.toml");
            let text = std::fs::read_to_string(&path).expect("config");
            let text = text.replace(
                "drain_timeout = \"60s\"",
                "drain_timeout = \"60s\"\nmax_tries = 1000",
            );
            std::fs::write(&path, text).expect("config");
            path
        })
        .collect()
}

pub(crate) fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).expect("time").to_utc()
}

/// Deals `records` four to a body over `partitions` partitions of [`HUB`] and
/// publishes them, each partition's bodies followed by `last` when given; every body
/// published is added to `all` (what the replay reference reads).
pub(crate) fn publish_dealt(
    hub: &EmbeddedHub,
    records: &[(DateTime<Utc>, String)],
    partitions: usize,
    last: Option<&[u8]>,
    all: &mut Vec<Vec<u8>>,
) {
    for (p, bodies) in deal(records, 4, partitions).into_iter().enumerate() {
        for b in bodies.into_iter().chain(last.map(<[u8]>::to_vec)) {
            hub.publish(HUB, &p.to_string(), b.clone()).unwrap();
            all.push(b);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_active_one_loses_no_alert_and_keeps_what_was_learned() {
    let azurite = Azurite::start();
    azurite.client(CONTAINER).await;
    let hub = standin(&[(HUB, 2)]).await;
    let hook = Hook::start().await;
    let dir = tempfile::tempdir().unwrap();
    let shared = shared_config(dir.path(), &hub, &hook, &azurite);
    let paths = configs(dir.path(), &shared, 3);
    let reference_config = config(dir.path(), "reference", "5m", "", "");

    // The day: probing before and after the kill; trent's second burst (09:45) extends
    // the incident of the first (09:15), which only a restored detector state knows.
    let records = probing_hour();
    let split = at("2024-05-06T09:35:00Z");
    let (early, late): (Vec<_>, Vec<_>) = records.into_iter().partition(|(t, _)| *t < split);
    let early_bodies = deal(&early, 4, 2);
    let late_bodies = deal(&late, 4, 2);
    let flat = |parts: &[Vec<Vec<u8>>]| parts.iter().flatten().cloned().collect::<Vec<_>>();
    let mut all = flat(&early_bodies);
    all.extend(flat(&late_bodies));
    all.extend((0..2).map(|_| sentinel(AFTER_THE_HOUR)));
    let expected = reference_alerts(&reference_config, &all);
    let mut late_only = flat(&late_bodies);
    late_only.extend((0..2).map(|_| sentinel(AFTER_THE_HOUR)));
    let mut without_state = ids(&reference_alerts(&reference_config, &flat(&early_bodies)));
    without_state.extend(ids(&reference_alerts(&reference_config, &late_only)));
    without_state.sort();
    without_state.dedup();
    assert_ne!(
        ids(&expected),
        without_state,
        "the day must make alerts after the kill depend on what was learned before it"
    );

    for (p, bodies) in early_bodies.iter().enumerate() {
        for b in bodies {
            hub.publish(HUB, &p.to_string(), b.clone()).unwrap();
        }
    }
    let mut instances: Vec<Instance> = paths
        .iter()
        .enumerate()
        .map(|(i, p)| Instance::spawn(&format!("node{i}"), p, dir.path()))
        .collect();
    let mut bases = Vec::new();
    for (i, instance) in instances.iter().enumerate() {
        bases.push((i, instance.base_url().await));
    }
    let first = the_active_one(&bases, &instances).await;
    // Everything before the kill that the watermark released (trent's first burst
    // included) is analysed and committed: the watermark passed 09:25, then two
    // commits finished.
    let base = bases[first].1.clone();
    wait_for_metric(&base, "kvwatch_watermark_timestamp_seconds", |v| {
        v >= at("2024-05-06T09:25:00Z").timestamp() as f64
    })
    .await;
    let commits = series(&base, COMMITS_OK).await.expect("scrape");
    wait_for_series(&base, COMMITS_OK, |v| v >= commits + 2.0).await;

    instances[first].child.start_kill().expect("SIGKILL");
    let killed_at = std::time::Instant::now();
    let killed = within("the active one dies", instances[first].child.wait())
        .await
        .unwrap();
    assert!(!killed.success());
    for (p, bodies) in late_bodies.iter().enumerate() {
        for b in bodies.iter().cloned().chain([sentinel(AFTER_THE_HOUR)]) {
            hub.publish(HUB, &p.to_string(), b).unwrap();
        }
    }

    let standbys: Vec<(usize, String)> =
        bases.iter().filter(|(i, _)| *i != first).cloned().collect();
    let second = the_active_one(&standbys, &instances).await;
    // A figure for the report, not an assertion: kill -9 to a standby active (the
    // ownership expiry is 6 s here, 30 s by default).
    eprintln!(
        "takeover: {:.1} s from kill -9 to an active standby (ownership_expiry 6s)",
        killed_at.elapsed().as_secs_f64()
    );
    let second_base = bases[second].1.clone();
    let want = ids(&expected);
    wait_until("every expected alert at the webhook", || {
        let mut got = ids(&hook.alerts());
        got.dedup();
        got == want
    })
    .await;
    let readyz = get(&format!("{second_base}/readyz"))
        .await
        .unwrap_or_default();
    assert!(
        readyz.contains("coordination: ok (active under epoch 2)"),
        "{readyz}"
    );
    assert_eq!(
        metric(&second_base, "kvwatch_eventhubs_gaps_total").await,
        Some(0.0),
        "no gap after the takeover"
    );
    let third = standbys
        .iter()
        .find(|(i, _)| *i != second)
        .expect("a third");
    let readyz = get(&format!("{}/readyz", third.1))
        .await
        .unwrap_or_default();
    assert!(readyz.contains("coordination: ok (standby"), "{readyz}");

    let mut by_id = std::collections::BTreeMap::<String, Vec<kvwatch::alert::Alert>>::new();
    for a in hook.alerts() {
        by_id.entry(a.id.clone()).or_default().push(a);
    }
    for (id, copies) in &by_id {
        assert!(
            copies.windows(2).all(|w| w[0] == w[1]),
            "{id}: a redelivery is the same alert"
        );
    }
    for (i, instance) in instances.iter_mut().enumerate() {
        if i == first {
            continue;
        }
        instance.signal(libc::SIGTERM);
        let exit = within("SIGTERM stops it", instance.child.wait())
            .await
            .unwrap();
        assert!(
            exit.success(),
            "{}: {exit:?}\n{}",
            instance.name,
            instance.output()
        );
    }
}

pub(crate) const COMMITS_OK: &str = "kvwatch_coordination_commits_total{result=\"ok\"}";

/// One series' value in an instance's scrape.
pub(crate) async fn series(base: &str, series: &str) -> Option<f64> {
    let text = get(&format!("{base}/metrics")).await?;
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Waits until one instance's series satisfies `done`.
pub(crate) async fn wait_for_series(base: &str, name: &str, done: impl Fn(f64) -> bool) {
    let deadline = std::time::Instant::now() + STEP;
    loop {
        if series(base, name).await.is_some_and(&done) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {STEP:?} waiting for {name} at {base}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Waits until one instance's metric family (summed) satisfies `done`.
pub(crate) async fn wait_for_metric(base: &str, family: &str, done: impl Fn(f64) -> bool) {
    let deadline = std::time::Instant::now() + STEP;
    loop {
        if metric(base, family).await.is_some_and(&done) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {STEP:?} waiting for {family} at {base}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
