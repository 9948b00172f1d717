//! `kvwatch route` then two `kvwatch run`s over real AMQP: route re-publishes the
//! diagnostic-setting hub keyed by principal; two runs each own half the keyed hub's
//! partitions; together they raise exactly the alerts one replay of everything gives,
//! each principal's alerts from the run that owns its partition.

use crate::live_support::*;
use chrono::DateTime;
use kvwatch::app::route::{RouteOptions, Router};
use kvwatch::pipeline::clock::SystemClock;

const RAW: &str = "insights-logs-auditevent";
const KEYED: &str = "kvwatch-keyed";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_then_two_runs_split_the_keyed_hub_and_miss_nothing() {
    let standin = standin(&[(RAW, 2), (KEYED, 4)]).await;
    let dir = tempfile::tempdir().unwrap();
    let records = probing_hour();
    let mut raw_bodies = Vec::new();
    for (p, bodies) in deal(&records, 7, 2).iter().enumerate() {
        for b in bodies {
            standin.publish(RAW, &p.to_string(), b.clone()).unwrap();
            raw_bodies.push(b.clone());
        }
    }

    let route_toml = format!(
        "{}\n[route]\nstate_path = {:?}\ncheckpoint_interval = \"200ms\"\nmax_records_per_body = 5\n\n[route.target]\nnamespace = {:?}\nhub = {KEYED:?}\nendpoint = {:?}\n",
        hub_toml(&standin, RAW, &[], None),
        dir.path().join("route.redb").display().to_string(),
        standin.namespace(),
        standin.endpoint(),
    );
    let route_config = config(dir.path(), "route", "5m", "", &route_toml);
    let opts = RouteOptions {
        config: route_config.clone(),
        credential: Some(credential()),
        clock: std::sync::Arc::new(SystemClock),
        metrics: kvwatch::app::metrics::MetricsOptions {
            out: Some(dir.path().join("route.prom")),
            ..Default::default()
        },
    };
    let router = within("start route", Router::start(opts)).await.unwrap();
    let mut status = router.status();
    let total = records.len() as u64;
    within(
        "route re-publishes every record",
        status.wait_for(|s| s.records == total),
    )
    .await
    .unwrap();
    router.shutdown();
    let (end, routed) = within("route stops", router.wait()).await.unwrap();
    assert_eq!(end, kvwatch::app::route::RouteEnd::Stopped);
    assert_eq!(routed.bodies, raw_bodies.len() as u64);
    // Route reports its reading as run does: bodies read and gaps (none) per partition.
    let prom = std::fs::read_to_string(dir.path().join("route.prom")).expect("route's metrics");
    assert_eq!(
        metric_sum(&prom, "kvwatch_eventhubs_bodies_total"),
        raw_bodies.len() as f64
    );
    assert_eq!(metric_sum(&prom, "kvwatch_eventhubs_gaps_total"), 0.0);
    assert!(
        prom.contains("kvwatch_eventhubs_gaps_total{hub="),
        "the gap counters exist at 0"
    );
    for (key, position) in &routed.positions {
        let partition = key.rsplit('/').next().unwrap();
        let last = standin.events(RAW, partition).unwrap().len() as i64 - 1;
        assert_eq!(
            position.resume_after,
            Some(last),
            "{key}: route's checkpoint covers every body it sent"
        );
    }

    // Every record of a principal sits in one keyed partition, under its key.
    let mut keyed_records = 0;
    for p in 0..4 {
        for event in standin.events(KEYED, &p.to_string()).unwrap() {
            let key = event.partition_key.clone().expect("a partition key");
            assert_eq!(
                standin.partition_for_key(KEYED, &key).unwrap(),
                p.to_string()
            );
            let body: serde_json::Value = serde_json::from_slice(&event.body).unwrap();
            keyed_records += body["records"].as_array().unwrap().len();
        }
        standin
            .publish(KEYED, &p.to_string(), sentinel(AFTER_THE_HOUR))
            .unwrap();
    }
    assert_eq!(keyed_records as u64, total, "nothing lost, nothing doubled");

    let runs = [("a", ["0", "1"]), ("b", ["2", "3"])];
    let mut outputs = Vec::new();
    let mut lives = Vec::new();
    for (name, partitions) in runs {
        // Route merges the raw partitions in whatever order its readers get them, so
        // one principal's records can reach the keyed hub up to an hour out of order
        // here: the runs allow that much lateness (docs/scaling.md says so).
        let c = config(
            dir.path(),
            name,
            "2h",
            "idle_after = \"1h\"",
            &hub_toml(&standin, KEYED, &partitions, Some(1)),
        );
        let output = dir.path().join(format!("{name}.jsonl"));
        lives.push((start_live(&c, Some(output.clone())).await, partitions));
        outputs.push(output);
    }
    let end = DateTime::parse_from_rfc3339(AFTER_THE_HOUR)
        .unwrap()
        .to_utc()
        - chrono::Duration::hours(2);
    for (live, _) in &lives {
        wait_status(live, "the run reads its partitions to the sentinel", |s| {
            s.watermark == Some(end)
        })
        .await;
    }
    for (live, _) in &lives {
        live.shutdown();
    }
    let mut all = Vec::new();
    for ((live, partitions), output) in lives.into_iter().zip(&outputs) {
        within("the run stops", live.wait()).await.unwrap();
        let alerts = read_alerts(output);
        for a in &alerts {
            let home = standin.partition_for_key(KEYED, &a.identity).unwrap();
            assert!(
                partitions.contains(&home.as_str()),
                "{} alerted by the run owning {partitions:?}, not {home}",
                a.identity
            );
        }
        all.extend(alerts);
    }
    let expected = reference_alerts(&route_config, &raw_bodies);
    assert!(expected.len() >= 3);
    assert_eq!(
        ids(&all),
        ids(&expected),
        "the two runs together alert as one replay of everything"
    );
}

/// The real `kvwatch route` binary, ready once it reads both source partitions,
/// exits with status 3 when a reader with a higher owner level takes every one of
/// them (here a `kvwatch run` on the same consumer group): a supervisor restarts it
/// or lets it go, and the log says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_exits_3_once_another_reader_owns_every_source_partition() {
    let standin = standin(&[(RAW, 2), (KEYED, 2)]).await;
    let dir = tempfile::tempdir().unwrap();
    let conn = dir.path().join("eh.conn");
    std::fs::write(&conn, standin.connection_string(None)).unwrap();
    let credential = format!(
        "credential = {{ kind = \"connection_string\", connection_string = {{ file = {:?} }} }}\n",
        conn.display().to_string()
    );
    for p in ["0", "1"] {
        standin.publish(RAW, p, sentinel(AFTER_THE_HOUR)).unwrap();
    }
    let route_toml = format!(
        "{}{credential}\n[route]\nstate_path = {:?}\ncheckpoint_interval = \"200ms\"\n\n[route.target]\nnamespace = {:?}\nhub = {KEYED:?}\nendpoint = {:?}\n{credential}",
        hub_toml(&standin, RAW, &[], Some(1)),
        dir.path().join("route.redb").display().to_string(),
        standin.namespace(),
        standin.endpoint(),
    );
    config(dir.path(), "route", "5m", "", &route_toml);
    let log = dir.path().join("route.log");
    let mut route = tokio::process::Command::new(env!("CARGO_BIN_EXE_kvwatch"))
        .args([
            "--log-level",
            "info",
            "route",
            "--metrics-listen",
            "127.0.0.1:0",
            "--config",
        ])
        .arg(dir.path().join("route.toml"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let mut base = None;
    wait_until("route's metrics address in its log", || {
        base = read_log()
            .split("serving metrics on ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|u| u.strip_suffix("/metrics"))
            .map(str::to_owned);
        base.is_some()
    })
    .await;
    let readyz = format!("{}/readyz", base.unwrap());
    let client = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..600 {
        if let Ok(r) = client.get(&readyz).send().await {
            if r.status().is_success() {
                ready = true;
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "route never became ready:\n{}", read_log());
    for p in ["0", "1"] {
        within(
            "route holds the partition at owner level 1",
            standin.wait_for_receivers(RAW, "kvwatch", p, |r| {
                r.len() == 1 && r[0].owner_level == Some(1)
            }),
        )
        .await;
    }

    let run_config = config(
        dir.path(),
        "run",
        "5m",
        "idle_after = \"1h\"",
        &hub_toml(&standin, RAW, &[], Some(2)),
    );
    let run = start_live(&run_config, None).await;
    wait_status(&run, "the run takes both partitions", |s| s.bodies == 2).await;
    let status = within("route exits", route.wait()).await.unwrap();
    assert_eq!(
        status.code(),
        Some(3),
        "exit 3: every source partition taken over\n{}",
        read_log()
    );
    assert!(
        read_log().contains("every source partition was taken over by another reader"),
        "the log says why:\n{}",
        read_log()
    );
    run.shutdown();
    within("the run stops", run.wait()).await.unwrap();
}
