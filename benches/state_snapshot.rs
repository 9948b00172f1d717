//! The `--state` snapshot at scale: `cargo bench --bench state_snapshot` (add `--
//! 200000` to run one size; the default runs 200 000 and 1 000 000 principals).
//!
//! For each size, the detection engine (all default detectors, the principal cap
//! raised above the size) reads two records of every principal (a secret read from
//! a public address, then another an hour later), then one record seven hours
//! later, so every principal is idle, as the memory bench measures them. Its state
//! is then saved the way `kvwatch replay --state` saves it (`Engine::save` into the
//! redb state store, one durable transaction), timed, with the peak resident set
//! during the save (the kernel's high-water mark, reset just before) and the file's
//! size. A second process (this bench again, `--load FILE`) then opens the file and
//! restores it into a fresh engine, timed, with its whole peak RSS.
//!
//! With `--azurite` (and `KVWATCH_AZURITE` from `scripts/setup/azurite.sh`), each
//! size's state also goes the way `[coordination]` commits it, to a real Azurite
//! on 127.0.0.1: packed into a snapshot (gzip, sha256 in the manifest), committed
//! by an active owner, then loaded by the next owner taking the group over and
//! restored into a fresh engine, each step timed. Azurite keeps blobs in memory,
//! capped at 64 MB here, so use sizes up to about 100 000 principals for it
//! (`cargo bench --bench state_snapshot -- 50000 --azurite`).
//!
//! "State" is the engine's own accounting (`Engine::memory`: baselines plus every
//! detector), the figure `kvwatch_state_bytes` reports; the process's RSS before the
//! save is printed too, as what that state really occupies with the allocator's
//! slack.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test or bench stops at the first surprise, with its location

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kvwatch::app::live_snapshot;
use kvwatch::config::Config;
use kvwatch::coordinate::{
    Coordinator, CoordinatorSettings, GroupLayout, PartitionRef, Resume, Started,
};
use kvwatch::detect::Engine;
use kvwatch::pipeline::clock::SystemClock;
use kvwatch::state::{Checkpoint, StateStore};

#[path = "../tests/support/azurite.rs"]
mod azurite;

const T0: i64 = 1_772_442_000; // 2026-03-02T09:00:00Z

fn record(t: i64, i: u64, secret: u32) -> String {
    let time = chrono::DateTime::from_timestamp(t, 0)
        .unwrap_or_default()
        .to_rfc3339();
    format!(
        r#"{{"time":"{time}","category":"AuditEvent","operationName":"SecretGet","resultType":"Success","callerIpAddress":"81.2.{}.{}","identity":{{"claim":{{"oid":"5ca1ab1e-0000-4000-8000-{i:012}","appid":"04b07795-8ddb-461a-bbee-02f9e1bf7b46"}}}},"properties":{{"id":"https://kv{}.vault.azure.net/secrets/s{secret}","httpStatusCode":200,"clientInfo":"app/1.0"}},"resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV{}"}}"#,
        69 + (i % 8),
        1 + (i % 250),
        i % 20,
        i % 20
    )
}

fn engine(principals: u64) -> Engine {
    let mut config = Config::default();
    config.detectors.max_principals = principals as usize * 2 + 1000;
    Engine::from_config(&config).expect("default detectors")
}

fn state_bytes(engine: &Engine) -> usize {
    let m = engine.memory();
    let b = m.baselines;
    b.principal_bytes
        + b.pair_bytes
        + b.population_bytes
        + m.detectors
            .iter()
            .map(|(_, d)| d.learned_bytes + d.transient_bytes)
            .sum::<usize>()
}

/// A line of `/proc/self/status` in bytes (`VmRSS`, `VmHWM`).
fn status_bytes(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
        * 1024
}

fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / 1048576.0)
}

fn save(principals: u64, dir: &Path, azurite: bool) {
    let mut engine = engine(principals);
    let started = Instant::now();
    for (t, pass) in [(T0, 0u32), (T0 + 3600, 1)] {
        for i in 0..principals {
            let line = record(t + (i % 3000) as i64, i, pass);
            let event = kvwatch::decode::decode_record(line.as_bytes()).expect("a record");
            engine.process(&event, &mut |_| {});
        }
    }
    let late = record(T0 + 8 * 3600 + 3000, 0, 2);
    let event = kvwatch::decode::decode_record(late.as_bytes()).expect("a record");
    engine.process(&event, &mut |_| {});
    let built = started.elapsed();
    let state = state_bytes(&engine);
    let tracked = engine.memory().baselines.principals;
    let rss_before = status_bytes("VmRSS:");
    // Resets the high-water mark to the current RSS (Linux 4.0+).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let path = dir.join(format!("p{principals}.redb"));
    let started = Instant::now();
    let bytes = engine.save();
    let encoded = started.elapsed();
    let checkpoint = Checkpoint {
        detectors: bytes,
        ..Default::default()
    };
    let store = StateStore::open(&path).expect("the state store");
    store.commit(&checkpoint).expect("the checkpoint");
    drop(store);
    let saved = started.elapsed();
    let peak = status_bytes("VmHWM:");
    let file = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "{principals:>9} principals ({tracked} tracked, built in {:.1} s): state {} (RSS {}); \
         save {:.2} s (encode {:.2} s), peak RSS during save {} (+{} = {:.2}x the state \
         over the RSS before); file {} = {:.2}x the state",
        built.as_secs_f64(),
        mib(state as f64),
        mib(rss_before as f64),
        saved.as_secs_f64(),
        encoded.as_secs_f64(),
        mib(peak as f64),
        mib(peak.saturating_sub(rss_before) as f64),
        peak.saturating_sub(rss_before) as f64 / state as f64,
        mib(file as f64),
        file as f64 / state as f64,
    );
    drop(engine);
    if azurite {
        through_azurite(&checkpoint, principals);
    }
    drop(checkpoint);
    let out = Command::new(std::env::current_exe().expect("this bench"))
        .arg("--load")
        .arg(&path)
        .output()
        .expect("the loading process runs");
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_file(&path);
}

/// Commits `checkpoint` to a real Azurite as the active owner of a group, then
/// takes the group over as a second owner and restores its state, timing each step.
fn through_azurite(checkpoint: &Checkpoint, principals: u64) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let azurite = azurite::Azurite::start();
        let client = azurite.client("bench").await;
        let partition = PartitionRef::new("ns.servicebus.windows.net", "audit", "kvwatch", "0");
        let settings = |owner: &str| CoordinatorSettings {
            layout: GroupLayout::new("bench").expect("group"),
            owner_id: owner.to_owned(),
            ownership_expiry: Duration::from_secs(30),
            renew_interval: Duration::from_secs(10),
            safety_margin: Duration::from_secs(5),
            standby_poll: Duration::from_millis(200),
            snapshots_kept: 2,
            max_snapshot_bytes: 1 << 30,
        };
        let start = |owner: &str| {
            let coordinator = Coordinator::new(
                client.clone(),
                settings(owner),
                std::slice::from_ref(&partition),
                None,
                Arc::new(SystemClock),
            )
            .expect("a coordinator");
            async move {
                match coordinator.start().await.expect("coordination starts") {
                    Started::Active(a) => *a,
                    Started::Standby(_) => panic!("the group is free: active at once"),
                }
            }
        };
        let mut first = start("bench-a").await;
        let began = Instant::now();
        let (sections, _) =
            live_snapshot::pack(checkpoint, &BTreeMap::new(), &[], 1 << 20).expect("packed");
        let packed = began.elapsed();
        let committed = first
            .commit(sections, &BTreeMap::new())
            .await
            .expect("committed");
        let commit = began.elapsed();
        first.release().await.expect("released");
        let began = Instant::now();
        let mut second = start("bench-b").await;
        let Some(Resume::Snapshot(mut restored)) = second.take_resume() else {
            panic!("the next owner finds the snapshot");
        };
        let taken = began.elapsed();
        let unpacked = live_snapshot::unpack(std::mem::take(&mut restored.sections)).expect("unpacked");
        let mut engine = engine(principals);
        engine
            .restore_owned(unpacked.checkpoint.detectors)
            .expect("the state restores");
        let restored_in = began.elapsed();
        println!(
            "{principals:>9} principals through Azurite: snapshot {} (gzip); pack and commit {:.2} s (pack {:.2} s); takeover with the snapshot's download and check {:.2} s, restored into a fresh engine at {:.2} s",
            mib(committed.bytes as f64),
            commit.as_secs_f64(),
            packed.as_secs_f64(),
            taken.as_secs_f64(),
            restored_in.as_secs_f64(),
        );
        second.release().await.expect("released");
    });
}

/// The second process: opens and restores `path`, then reports.
fn load(path: &Path, principals_hint: u64) {
    let started = Instant::now();
    let store = StateStore::open(path).expect("the state store");
    let checkpoint = store
        .load()
        .expect("the checkpoint reads")
        .expect("a checkpoint");
    drop(store);
    let mut engine = engine(principals_hint);
    engine
        .restore_owned(checkpoint.detectors)
        .expect("the state restores");
    let loaded = started.elapsed();
    let state = state_bytes(&engine);
    let peak = status_bytes("VmHWM:");
    let settled = status_bytes("VmRSS:");
    println!(
        "{:>9} principals loaded in {:.2} s: state {}, peak RSS of the loading process {} = {:.2}x the state; RSS once the file's bytes are dropped {} = {:.2}x",
        engine.memory().baselines.principals,
        loaded.as_secs_f64(),
        mib(state as f64),
        mib(peak as f64),
        peak as f64 / state as f64,
        mib(settled as f64),
        settled as f64 / state as f64,
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "--load") {
        let path = Path::new(args.get(at + 1).expect("--load FILE"));
        load(path, 2_000_000);
        return;
    }
    if !args.iter().any(|a| a == "--bench") {
        println!("state_snapshot: run with `cargo bench --bench state_snapshot`");
        return;
    }
    let sizes: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() {
        vec![200_000, 1_000_000]
    } else {
        sizes
    };
    let through = args.iter().any(|a| a == "--azurite");
    let dir = tempfile::tempdir().expect("a temporary folder");
    for n in sizes {
        save(n, dir.path(), through);
    }
}
