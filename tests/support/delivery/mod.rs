//! Shared pieces of the delivery tests: webhook receivers on 127.0.0.1 that verify
//! signatures and drop duplicates by alert id (as a real idempotent receiver would),
//! the aiosmtpd SMTP server, config building with secrets in files, and waiting on
//! conditions (never on fixed sleeps).

#![allow(dead_code)]

pub mod receiver;
pub mod smtp;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kvwatch::config::Config;
use kvwatch::pipeline::clock::Clock;
use kvwatch::sink::delivery::Delivery;
use kvwatch::sink::observe::Recorder;

/// The longest any condition is waited for: generous, for a loaded 2-core CI machine.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Waits (async) until `cond` holds, or panics naming `what`.
pub async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {PATIENCE:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits (blocking) until `cond` holds, or panics naming `what`.
pub fn wait_for_blocking(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {PATIENCE:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Writes a secret to a file in `dir` and returns its config reference.
pub fn secret(dir: &Path, name: &str, value: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, value).expect("write secret");
    format!("{{ file = {:?} }}", path.display().to_string())
}

/// A config with fast retry settings for tests (`outbox_extra` lines override them)
/// and the given `[[sinks]]`.
pub fn config(dir: &Path, outbox_extra: &str, sinks: &str) -> Config {
    let defaults = [
        ("backoff_initial", "\"50ms\""),
        ("backoff_max", "\"400ms\""),
        ("poll_interval", "\"20ms\""),
        ("attempt_timeout", "\"5s\""),
    ];
    let mut outbox = format!(
        "[outbox]\npath = {:?}\n",
        dir.join("outbox.redb").display().to_string()
    );
    for (key, value) in defaults {
        if !outbox_extra.contains(&format!("{key} =")) {
            outbox.push_str(&format!("{key} = {value}\n"));
        }
    }
    let text = format!("{outbox}{outbox_extra}\n{sinks}");
    let path = dir.join("kvwatch.toml");
    std::fs::write(&path, &text).expect("write config");
    Config::load(&path).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// A running delivery with a recorder watching it.
pub struct Running {
    /// The delivery.
    pub delivery: Delivery,
    /// Every delivery event.
    pub events: Recorder,
}

/// Starts delivery for `config` with `clock`.
pub fn start(config: &Config, clock: Arc<dyn Clock>) -> Running {
    let events = Recorder::default();
    let delivery =
        Delivery::from_config(config, clock, Arc::new(events.clone())).expect("start delivery");
    Running { delivery, events }
}

/// Hands alerts to the outbox the way the pipeline does (deliver, then flush).
pub fn enqueue(running: &Running, config: &Config, alerts: &[kvwatch::alert::Alert]) {
    use kvwatch::sink::AlertSink;
    let mut sink = running.delivery.sink(config);
    for a in alerts {
        sink.deliver(a).expect("deliver");
    }
    sink.flush().expect("flush");
}

/// The variable the setup script exports, or a clear failure.
pub fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with scripts/test.sh, which sets up the Python venv (aiosmtpd) and the test certificates")
    })
}

/// Key Vault records in which the detectors find one access-policy grant per vault,
/// the caller of record `i` signed in as `upn(i)`.
pub fn grants_fixture(path: &Path, n: u32, upn: impl Fn(u32) -> String) {
    let mut out = String::new();
    for i in 0..n {
        let record = serde_json::json!({
            "time": format!("2024-05-06T10:{:02}:00.000000Z", i),
            "category": "AuditEvent", "operationName": "VaultPatch", "resultType": "Success",
            "resultSignature": "OK", "correlationId": format!("kill-test-{i}"), "operationVersion": "2023-07-01",
            "durationMs": "5", "callerIpAddress": "81.2.69.160",
            "resourceId": format!("/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV-KILL-{i}"),
            "identity": { "claim": { "oid": format!("11111111-1111-4111-8111-{:012}", i), "upn": upn(i) } },
            "properties": {
                "id": format!("https://kv-kill-{i}.vault.azure.net/"),
                "requestUri": format!("https://management.azure.com/subscriptions/0/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-kill-{i}?api-version=2023-07-01"),
                "httpStatusCode": 200,
                "clientInfo": "azure-resource-manager/2.0",
                "addedAccessPolicy": { "ObjectId": format!("22222222-2222-4222-8222-{:012}", i), "Permissions": { "secrets": ["get", "list"] } }
            }
        });
        out.push_str(&record.to_string());
        out.push('\n');
    }
    std::fs::write(path, out).expect("write the fixture");
}

/// Makes `dir/detectors` hold only the access-policy detector (whose rules fire from
/// the first event); a config in `dir` selects it with `[detectors] dir = "detectors"`.
pub fn access_policy_detector_only(dir: &Path) {
    let detectors = dir.join("detectors");
    std::fs::create_dir_all(&detectors).expect("create the detectors folder");
    let definition =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("detectors/access_policy_change.toml");
    std::fs::copy(definition, detectors.join("access_policy_change.toml"))
        .expect("copy the detector");
}
