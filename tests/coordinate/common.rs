//! What the coordination tests share: one group's partitions, short timings that
//! still satisfy `[coordination]`'s rules, coordinators on an Azurite (directly or
//! through a forwarder), and waiting on conditions with a generous deadline.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use kvwatch::coordinate::blob::BlobClient;
use kvwatch::coordinate::{
    Active, Coordinator, CoordinatorSettings, GroupLayout, MirrorPosition, PartitionRef, Sections,
    Standby, Started,
};
use kvwatch::metrics::CoordinationMetrics;
use kvwatch::pipeline::clock::SystemClock;

/// The longest any condition is waited for (a noisy 2-core CI box).
pub const PATIENCE: Duration = Duration::from_secs(90);

/// Four partitions, named in mixed case as an operator might.
pub fn partitions() -> Vec<PartitionRef> {
    (0..4)
        .map(|p| {
            PartitionRef::new(
                "KVW-Test.servicebus.windows.net",
                "Insights-Logs-AuditEvent",
                "$Default",
                &p.to_string(),
            )
        })
        .collect()
}

/// Settings for `owner` in group `group`: an expiry of `expiry_secs`, renewals
/// every 500 ms, a 2 s safety margin, standby polls every 200 ms.
pub fn settings(group: &str, owner: &str, expiry_secs: u64) -> CoordinatorSettings {
    CoordinatorSettings {
        layout: GroupLayout::new(group).expect("group"),
        owner_id: owner.to_owned(),
        ownership_expiry: Duration::from_secs(expiry_secs),
        renew_interval: Duration::from_millis(500),
        safety_margin: Duration::from_secs(2),
        standby_poll: Duration::from_millis(200),
        snapshots_kept: 2,
        max_snapshot_bytes: 8 << 20,
    }
}

/// Fresh coordination metrics (their own registry).
pub fn metrics() -> CoordinationMetrics {
    CoordinationMetrics::register(&prometheus::Registry::new()).expect("metrics")
}

/// A coordinator for the four partitions.
pub fn coordinator(
    client: &BlobClient,
    settings: CoordinatorSettings,
    metrics: Option<CoordinationMetrics>,
) -> Coordinator {
    Coordinator::new(
        client.clone(),
        settings,
        &partitions(),
        metrics,
        Arc::new(SystemClock),
    )
    .expect("coordinator")
}

/// Starts and expects to be active.
pub async fn start_active(coordinator: Coordinator) -> Active {
    match coordinator.start().await.expect("start") {
        Started::Active(a) => *a,
        Started::Standby(s) => panic!("expected to be active; held by {:?}", s.owners()),
    }
}

/// Starts and expects to stand by.
pub async fn start_standby(coordinator: Coordinator) -> Standby {
    match coordinator.start().await.expect("start") {
        Started::Standby(s) => s,
        Started::Active(a) => panic!("expected to stand by; active under epoch {}", a.epoch()),
    }
}

/// Sections whose content says which commit wrote them.
pub fn sections(tag: &str) -> Sections {
    Sections {
        positions: format!("positions {tag}").into_bytes(),
        detectors: format!("detectors {tag} ").repeat(1000).into_bytes(),
        dedup: format!("dedup {tag}").into_bytes(),
        outbox: format!("outbox {tag}").into_bytes(),
    }
}

/// A position per partition, `base` + the partition number.
pub fn positions(base: i64) -> BTreeMap<PartitionRef, MirrorPosition> {
    partitions()
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let sequence_number = base + i as i64;
            (
                p,
                MirrorPosition {
                    sequence_number,
                    offset: (sequence_number * 1024).to_string(),
                },
            )
        })
        .collect()
}

/// Waits until `check` holds, polling every 50 ms, for at most [`PATIENCE`].
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let give_up = tokio::time::Instant::now() + PATIENCE;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "gave up waiting ({PATIENCE:?}) for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Awaits a future for at most [`PATIENCE`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("gave up waiting ({PATIENCE:?}) for: {what}"))
}
