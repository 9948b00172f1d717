//! Balanced mode with three real `kvwatch run` processes on a hub keyed by principal
//! (as `kvwatch route` writes it), one embedded hub and one Azurite container:
//! - alone, the first instance holds all four partitions;
//! - when two more join, it gives its surplus up and the partitions spread (no
//!   instance above its fair share of two, every partition held once);
//! - `kill -9` of the instance holding the partition where an incident is open: the
//!   survivors take its partitions with their state, and the webhook ends with
//!   exactly the alerts of a replay of each partition on its own, no gap counted.
//!   The day is built so that one alert after the kill depends on state learned
//!   before it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use kvwatch::coordinate::{BlobClient, PartitionRef};

use crate::azurite::Azurite;
use crate::live_support::*;
use crate::processes::*;

const PARTITIONS: usize = 4;
/// Where the tenant's principals land (route keys by principal): mallory on 0,
/// oscar on 1, the app and trent on 2 (the app's traffic moves trent's
/// partition's watermark past his first burst), nobody on 3.
const KEYS: [(&str, usize); 4] = [
    ("mallory@", 0),
    ("oscar@", 1),
    ("0aaaaaaa-1111-4111-8111-00000000000a", 2),
    ("trent@", 2),
];
const TRENT: usize = 2;

fn keyed(records: &[(DateTime<Utc>, String)]) -> Vec<Vec<(DateTime<Utc>, String)>> {
    let mut out = vec![Vec::new(); PARTITIONS];
    for r in records {
        let p = KEYS
            .iter()
            .find(|(k, _)| r.1.contains(k))
            .map_or_else(|| panic!("no key for {}", r.1), |(_, p)| *p);
        out[p].push(r.clone());
    }
    out
}

fn bodies(records: &[(DateTime<Utc>, String)]) -> Vec<Vec<u8>> {
    records
        .chunks(4)
        .map(|c| body(c.iter().map(|(_, r)| r)))
        .collect()
}

/// The alert ids of replaying each partition's bodies on its own.
fn per_partition(config: &kvwatch::config::Config, parts: &[Vec<Vec<u8>>]) -> Vec<String> {
    let mut all: Vec<String> = parts
        .iter()
        .flat_map(|bodies| ids(&reference_alerts(config, bodies)))
        .collect();
    all.sort();
    all.dedup();
    all
}

/// Which instance (`nodeI`) holds each partition, from the ownership blobs.
async fn holders(storage: &BlobClient, namespace: &str) -> Vec<Option<usize>> {
    let mut out = Vec::new();
    for p in 0..PARTITIONS {
        let blob = PartitionRef::new(namespace, HUB, "kvwatch", &p.to_string()).ownership_blob();
        let owner = match storage.properties(&blob).await {
            Ok(props) => props.metadata.get("ownerid").cloned().unwrap_or_default(),
            Err(_) => String::new(),
        };
        out.push(
            owner
                .strip_prefix("node")
                .and_then(|rest| rest.split('-').next())
                .and_then(|n| n.parse().ok()),
        );
    }
    out
}

async fn held(base: &str) -> f64 {
    series(base, "kvwatch_coordination_partitions_held")
        .await
        .unwrap_or(-1.0)
}

/// Waits until every instance in `bases` holds at most `max` and together they
/// hold every partition; returns the holders.
async fn spread(
    storage: &BlobClient,
    namespace: &str,
    bases: &[(usize, String)],
    max: f64,
    instances: &[Instance],
) -> Vec<usize> {
    let deadline = std::time::Instant::now() + STEP;
    loop {
        let mut counts = Vec::new();
        for (_, base) in bases {
            counts.push(held(base).await);
        }
        let who = holders(storage, namespace).await;
        let by_alive: Vec<usize> = who.iter().flatten().copied().collect();
        let all_alive = by_alive.len() == PARTITIONS
            && by_alive.iter().all(|h| bases.iter().any(|(i, _)| i == h));
        if all_alive
            && counts.iter().sum::<f64>() == PARTITIONS as f64
            && counts.iter().all(|c| *c <= max)
        {
            return by_alive;
        }
        if std::time::Instant::now() >= deadline {
            panic!(
                "timed out after {STEP:?}: held {counts:?}, holders {who:?}\n{}",
                logs(instances)
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balanced_instances_share_the_partitions_and_take_over_with_state() {
    let azurite = Azurite::start();
    let storage = azurite.client(CONTAINER).await;
    let hub = standin(&[(HUB, PARTITIONS)]).await;
    let hook = Hook::start().await;
    let dir = tempfile::tempdir().unwrap();
    let coordination = format!(
        "{}mode = \"balanced\"\n",
        coordination_toml(dir.path(), &azurite)
    );
    let shared = shared_config_with(dir.path(), &hub, &hook, &coordination);
    let paths = configs(dir.path(), &shared, 3);
    let reference_config = config(dir.path(), "reference", "5m", "", "");

    let split = at("2024-05-06T09:35:00Z");
    let parts = keyed(&probing_hour());
    let early: Vec<Vec<Vec<u8>>> = parts
        .iter()
        .map(|p| {
            bodies(
                &p.iter()
                    .filter(|r| r.0 < split)
                    .cloned()
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let late: Vec<Vec<Vec<u8>>> = parts
        .iter()
        .map(|p| {
            let mut b = bodies(
                &p.iter()
                    .filter(|r| r.0 >= split)
                    .cloned()
                    .collect::<Vec<_>>(),
            );
            b.push(sentinel(AFTER_THE_HOUR));
            b
        })
        .collect();
    let whole: Vec<Vec<Vec<u8>>> = early
        .iter()
        .zip(&late)
        .map(|(e, l)| e.iter().chain(l).cloned().collect())
        .collect();
    let want = per_partition(&reference_config, &whole);
    let mut without_state = per_partition(&reference_config, &early);
    without_state.extend(per_partition(&reference_config, &late));
    without_state.sort();
    without_state.dedup();
    assert_ne!(
        want, without_state,
        "an alert after the kill must depend on what was learned before it"
    );
    // The last early body of trent's partition with one of his first burst's records:
    // once the checkpoint covers it, the committed state holds his open incident.
    let trent_first = early[TRENT]
        .iter()
        .rposition(|b| String::from_utf8_lossy(b).contains("trent@"))
        .expect("trent's first burst");

    for (p, bodies) in early.iter().enumerate() {
        for b in bodies {
            hub.publish(HUB, &p.to_string(), b.clone()).unwrap();
        }
    }
    let mut instances = vec![Instance::spawn("node0", &paths[0], dir.path())];
    let mut bases = vec![(0, instances[0].base_url().await)];
    let alone = spread(&storage, hub.namespace(), &bases, 4.0, &instances).await;
    assert_eq!(alone, [0; PARTITIONS], "alone, node0 holds every partition");

    for i in 1..3 {
        instances.push(Instance::spawn(&format!("node{i}"), &paths[i], dir.path()));
        bases.push((i, instances[i].base_url().await));
    }
    let who = spread(&storage, hub.namespace(), &bases, 2.0, &instances).await;
    let mut per_instance = BTreeMap::<usize, usize>::new();
    for h in &who {
        *per_instance.entry(*h).or_default() += 1;
    }
    assert!(per_instance.values().all(|n| *n <= 2), "{who:?}");
    assert!(per_instance.len() >= 2, "the partitions spread: {who:?}");

    let checkpoint =
        PartitionRef::new(hub.namespace(), HUB, "kvwatch", &TRENT.to_string()).checkpoint_blob();
    let deadline = std::time::Instant::now() + STEP;
    loop {
        let committed = match storage.properties(&checkpoint).await {
            Ok(props) => props
                .metadata
                .get("sequencenumber")
                .and_then(|s| s.parse::<usize>().ok()),
            Err(_) => None,
        };
        if committed.is_some_and(|n| n >= trent_first) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for trent's first burst in a committed checkpoint ({committed:?})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Whoever holds trent's partition now resumed from that state or wrote it.
    let victim = holders(&storage, hub.namespace()).await[TRENT].expect("a holder");
    let trent_bodies =
        format!("kvwatch_eventhubs_bodies_total{{hub=\"{HUB}\",partition=\"{TRENT}\"}}");
    let mut before = 0.0;
    for (i, base) in &bases {
        if *i != victim {
            before += series(base, &trent_bodies).await.unwrap_or(0.0);
        }
    }
    instances[victim].child.start_kill().expect("SIGKILL");
    let killed_at = std::time::Instant::now();
    let killed = within("the holder dies", instances[victim].child.wait())
        .await
        .unwrap();
    assert!(!killed.success());
    for (p, bodies) in late.iter().enumerate() {
        for b in bodies {
            hub.publish(HUB, &p.to_string(), b.clone()).unwrap();
        }
    }
    let survivors: Vec<(usize, String)> = bases
        .iter()
        .filter(|(i, _)| *i != victim)
        .cloned()
        .collect();
    spread(&storage, hub.namespace(), &survivors, 4.0, &instances).await;
    eprintln!(
        "balanced takeover: {:.1} s from kill -9 to every partition held again (ownership_expiry 6s)",
        killed_at.elapsed().as_secs_f64()
    );
    wait_until("every expected alert at the webhook", || {
        let mut got = ids(&hook.alerts());
        got.dedup();
        got == want
    })
    .await;
    // The survivor resumed trent's partition from the victim's checkpoint: it did
    // not read the partition again from its start.
    let mut after = 0.0;
    for (_, base) in &survivors {
        after += series(base, &trent_bodies).await.unwrap_or(0.0);
    }
    let everything = (early[TRENT].len() + late[TRENT].len()) as f64;
    assert!(
        after - before < everything,
        "read {} bodies of trent's partition after the kill, of {everything}",
        after - before
    );
    for (_, base) in &survivors {
        assert_eq!(
            metric(base, "kvwatch_eventhubs_gaps_total").await,
            Some(0.0),
            "no gap after the takeover"
        );
        let readyz = get(&format!("{base}/readyz")).await.unwrap_or_default();
        assert!(
            readyz.contains("coordination: ok (balanced: holding ["),
            "{readyz}"
        );
    }

    for (i, _) in &survivors {
        let instance = &mut instances[*i];
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
    assert_eq!(
        holders(&storage, hub.namespace()).await,
        vec![None; PARTITIONS],
        "a clean stop releases every partition"
    );
}
