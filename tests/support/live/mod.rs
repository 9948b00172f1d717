//! Shared by the `live_*` tests and the live latency benchmark: a webhook receiver on
//! 127.0.0.1 (axum), configs that point `kvwatch run` at the embedded Event Hubs,
//! records written in the detector files' compact example form, Event Hubs bodies,
//! the reference alerts (the same records through the replay pipeline), and waiting
//! on a run's status (never on sleeps). Include it at the crate root (as
//! `tests/live/main.rs` does; `benches/live_latency.rs` uses `../tests/support/...`):
//!
//! ```ignore
//! #[path = "../support/live/mod.rs"]
//! mod live_support;
//! ```

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use chrono::{DateTime, Utc};
use kvwatch::alert::Alert;
use kvwatch::app::live::{Live, LiveOptions};
use kvwatch::app::live_pipeline::LiveStatus;
use kvwatch::config::Config;
use kvwatch::decode::Format;
use kvwatch::detect::examples::{self, EventSpec};
use kvwatch::detect::Engine;
use kvwatch::pipeline::clock::SystemClock;
use kvwatch::pipeline::{Observers, Origin, Pipeline, PipelineSettings};
use kvwatch::sink::Collect;
use tokio::sync::watch;

use azure_core::credentials::TokenCredential;
use kvwatch::embedded_hub::{EmbeddedHub, EmbeddedHubConfig, HubCredential, SharedAccessKey};

/// The bound on every single await: generous, for a loaded 2-core CI machine.
pub const STEP: Duration = Duration::from_secs(90);
/// A Standard Webhooks signing secret for the test sinks.
pub const SIGNING: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Awaits `future`, failing the test if it takes longer than [`STEP`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(STEP, future)
        .await
        .unwrap_or_else(|_| panic!("timed out after {STEP:?}: {what}"))
}

/// Sends `tracing` output to the test's captured output; `RUST_LOG` filters it.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .with_ansi(false)
        .try_init();
}

/// The shared access key every embedded hub of the tests signs with, so that one
/// [`credential`] serves them all.
pub fn test_key() -> SharedAccessKey {
    SharedAccessKey::new("kvwatch-tests", "dGVzdHMtb25seS1rZXktbm90LWEtc2VjcmV0")
}

/// A credential for every embedded hub the tests start (tokens valid for a day).
pub fn credential() -> Arc<dyn TokenCredential> {
    Arc::new(HubCredential::new(
        kvwatch::embedded_hub::DEFAULT_NAMESPACE,
        test_key(),
        Duration::from_secs(24 * 3600),
    ))
}

/// The embedded hub's configuration with these hubs (name, partitions), signing with
/// [`test_key`].
pub fn hub_config(hubs: &[(&str, usize)]) -> EmbeddedHubConfig {
    let mut config = hubs.iter().fold(EmbeddedHubConfig::new(), |c, (name, n)| {
        c.with_hub(*name, *n)
    });
    config.keys = vec![test_key()];
    config
}

/// Starts an embedded hub with these hubs (name, partitions).
pub async fn standin(hubs: &[(&str, usize)]) -> EmbeddedHub {
    start_hub(hub_config(hubs)).await
}

/// Starts an embedded hub.
pub async fn start_hub(config: EmbeddedHubConfig) -> EmbeddedHub {
    init_tracing();
    within("start the embedded hub", EmbeddedHub::start(config))
        .await
        .expect("the embedded hub starts")
}

/// A webhook receiver keeping every alert it is sent (duplicates included) and the
/// instant each arrived.
#[derive(Clone)]
pub struct Hook {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<(Alert, Instant)>>>,
    count: watch::Sender<usize>,
    /// Answer 503 (and keep nothing) while set.
    refusing: Arc<std::sync::atomic::AtomicBool>,
    /// Every request, refused ones included.
    requests: Arc<std::sync::atomic::AtomicUsize>,
}

impl Hook {
    /// Listens on 127.0.0.1:0.
    pub async fn start() -> Hook {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the webhook receiver");
        let addr = listener.local_addr().expect("address");
        let (count, _) = watch::channel(0);
        let hook = Hook {
            addr,
            got: Arc::default(),
            count,
            refusing: Arc::default(),
            requests: Arc::default(),
        };
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(hook.clone());
        tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("serve the webhook receiver");
        });
        hook
    }

    /// The URL to configure.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Every alert received, in arrival order.
    pub fn alerts(&self) -> Vec<Alert> {
        self.got
            .lock()
            .expect("lock")
            .iter()
            .map(|(a, _)| a.clone())
            .collect()
    }

    /// Every alert with the instant it arrived.
    pub fn arrivals(&self) -> Vec<(Alert, Instant)> {
        self.got.lock().expect("lock").clone()
    }

    /// From now on, answer every request with 503 (`true`) or accept again (`false`).
    pub fn refuse(&self, refusing: bool) {
        self.refusing
            .store(refusing, std::sync::atomic::Ordering::SeqCst);
    }

    /// Requests received so far, refused ones included.
    pub fn requests(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits until at least `n` requests came, refused ones included.
    pub async fn wait_for_requests(&self, n: usize) {
        wait_until(&format!("{n} requests at the webhook"), || {
            self.requests() >= n
        })
        .await;
    }

    /// Waits until at least `n` alerts arrived.
    pub async fn wait_for(&self, n: usize) {
        let mut rx = self.count.subscribe();
        within(
            &format!("{n} alerts at the webhook"),
            rx.wait_for(|c| *c >= n),
        )
        .await
        .expect("receiver alive");
    }
}

async fn receive(State(hook): State<Hook>, body: axum::body::Bytes) -> StatusCode {
    hook.requests
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    if hook.refusing.load(std::sync::atomic::Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    match serde_json::from_slice::<Alert>(&body) {
        Ok(alert) => {
            let n = {
                let mut got = hook.got.lock().expect("lock");
                got.push((alert, Instant::now()));
                got.len()
            };
            hook.count.send_replace(n);
            StatusCode::NO_CONTENT
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

/// One `[[eventhubs.hubs]]` table reading `hub` through consumer group `kvwatch`.
pub fn hub_toml(
    standin: &EmbeddedHub,
    hub: &str,
    partitions: &[&str],
    owner_level: Option<i64>,
) -> String {
    let mut t = format!(
        "[[eventhubs.hubs]]\nnamespace = {:?}\nhub = {hub:?}\nconsumer_group = \"kvwatch\"\nendpoint = {:?}\nstart = \"earliest\"\nprefetch = 50\n",
        standin.namespace(),
        standin.endpoint()
    );
    if !partitions.is_empty() {
        t.push_str(&format!("partitions = {partitions:?}\n"));
    }
    if let Some(level) = owner_level {
        t.push_str(&format!("owner_level = {level}\n"));
    }
    t
}

/// A webhook sink posting to `url`, its secrets in files under `dir`.
pub fn webhook_toml(dir: &Path, url: &str) -> String {
    std::fs::write(dir.join("hook.url"), url).expect("write the url");
    std::fs::write(dir.join("hook.key"), SIGNING).expect("write the key");
    format!(
        "[[sinks]]\nkind = \"webhook\"\nname = \"soc\"\nurl = {{ file = {:?} }}\nsigning_secret = {{ file = {:?} }}\n",
        dir.join("hook.url").display().to_string(),
        dir.join("hook.key").display().to_string()
    )
}

/// A config for a live run: state and outbox under `dir` (in files named after
/// `name`), fast reconnects and delivery, the given lateness, and `rest` (hubs,
/// sinks, overrides of `[eventhubs]` keys).
pub fn config(dir: &Path, name: &str, lateness: &str, eventhubs: &str, rest: &str) -> Config {
    let text = format!(
        "[pipeline]\nlateness = {lateness:?}\n\n[eventhubs]\nreconnect_initial = \"100ms\"\nreconnect_max = \"1s\"\noperation_timeout = \"10s\"\n{eventhubs}\n\n\
         [state]\npath = {:?}\ncheckpoint_interval = \"200ms\"\n\n[outbox]\npath = {:?}\npoll_interval = \"20ms\"\nbackoff_initial = \"50ms\"\nbackoff_max = \"500ms\"\ndrain_timeout = \"60s\"\n\n{rest}\n",
        dir.join(format!("{name}.state.redb")).display().to_string(),
        dir.join(format!("{name}.outbox.redb")).display().to_string(),
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, &text).expect("write the config");
    Config::load(&path).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// Numbers the live runs of this test process (their metrics snapshot files).
static NEXT_RUN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Starts a live run authenticating with [`credential`].
pub async fn start_live(config: &Config, output: Option<PathBuf>) -> Live {
    start_live_with(config, output, credential()).await
}

/// Starts a live run authenticating with `credential`.
pub async fn start_live_with(
    config: &Config,
    output: Option<PathBuf>,
    credential: Arc<dyn TokenCredential>,
) -> Live {
    let opts = LiveOptions {
        config: config.clone(),
        output,
        metrics: kvwatch::app::metrics::MetricsOptions {
            // One file per run: two runs of one test write their snapshots at once.
            // Under the target folder (Cargo's scratch space for tests), not /tmp.
            out: Some(
                std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
                    "kvwatch-live-{}-{}.prom",
                    std::process::id(),
                    NEXT_RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                )),
            ),
            ..Default::default()
        },
        credential: Some(credential),
        clock: Arc::new(SystemClock),
        part: None,
    };
    within("start kvwatch run", Live::start(opts))
        .await
        .expect("kvwatch run starts")
}

/// Waits until the run's status satisfies `done`, and returns it.
pub async fn wait_status(
    live: &Live,
    what: &str,
    done: impl Fn(&LiveStatus) -> bool,
) -> LiveStatus {
    let mut rx = live.status();
    let got = within(what, rx.wait_for(|s| done(s))).await;
    got.map(|s| s.clone())
        .unwrap_or_else(|_| panic!("the run ended before: {what}"))
}

/// Expands compact event groups (a TOML array of `[[events]]`) into records.
pub fn records(events_toml: &str) -> Vec<(DateTime<Utc>, String)> {
    #[derive(serde::Deserialize)]
    struct Events {
        events: Vec<EventSpec>,
    }
    let events: Events = toml::from_str(events_toml).expect("event specs");
    examples::records(&events.events).expect("records")
}

/// An Event Hubs body holding `records`.
pub fn body<'a>(records: impl IntoIterator<Item = &'a String>) -> Vec<u8> {
    let joined: Vec<&str> = records.into_iter().map(String::as_str).collect();
    format!("{{\"records\":[{}]}}", joined.join(",")).into_bytes()
}

/// Records in time order, cut into bodies of `per_body`, dealt to `partitions`
/// partitions in turn: per partition, its bodies in order.
pub fn deal(
    records: &[(DateTime<Utc>, String)],
    per_body: usize,
    partitions: usize,
) -> Vec<Vec<Vec<u8>>> {
    let mut out = vec![Vec::new(); partitions];
    for (i, chunk) in records.chunks(per_body).enumerate() {
        out[i % partitions].push(body(chunk.iter().map(|(_, r)| r)));
    }
    out
}

/// A benign record at `at` (the SDK's challenge: never counted by any detector),
/// used to move every partition's event time past everything else.
pub fn sentinel(at: &str) -> Vec<u8> {
    let r = records(&format!(
        "[[events]]\nat = {at:?}\nop = \"Authentication\"\nstatus = 401\nip = \"10.9.9.9\"\n"
    ));
    body(r.iter().map(|(_, r)| r))
}

/// The alerts the replay pipeline gives for these bodies under `config`: the
/// reference a live run must match.
pub fn reference_alerts(config: &Config, bodies: &[Vec<u8>]) -> Vec<Alert> {
    let collect = Collect::default();
    let settings = PipelineSettings {
        lateness: config.pipeline.lateness.as_chrono(),
        dedup_window: config.pipeline.dedup_window.as_std(),
        reorder_capacity: config.pipeline.reorder_capacity,
        limits: config.limits(),
        ..Default::default()
    };
    let engine = Engine::from_config(config).expect("detectors");
    let mut pipeline = Pipeline::new(
        settings,
        engine,
        Box::new(collect.clone()),
        Observers::default(),
    );
    for (i, b) in bodies.iter().enumerate() {
        let origin = Origin::Inline(format!("body {i}"));
        pipeline
            .ingest(&origin, b, Format::EventHubs)
            .expect("ingest");
    }
    pipeline.finish().expect("finish");
    collect.alerts()
}

/// Alert ids, sorted.
pub fn ids(alerts: &[Alert]) -> Vec<String> {
    let mut ids: Vec<String> = alerts.iter().map(|a| a.id.clone()).collect();
    ids.sort();
    ids
}

/// Reads a JSON Lines alert file.
pub fn read_alerts(path: &Path) -> Vec<Alert> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("an alert"))
        .collect()
}

/// An hour of a tenant with three principals probing secrets (each raising a
/// `failed_auth` alert), one probing twice within an incident, and an app reading
/// secrets every 30 s; records sorted by time (09:00 to 10:00 UTC, 2024-05-06).
pub fn probing_hour() -> Vec<(DateTime<Utc>, String)> {
    let mut all = records(
        r#"
[[events]]
at = "2024-05-06T09:00:00Z"
repeat = 120
every = "30s"
op = "SecretGet"
appid = "0aaaaaaa-1111-4111-8111-000000000001"
oid = "0aaaaaaa-1111-4111-8111-00000000000a"
ip = "10.1.2.3"
object = "secrets/app-config"

[[events]]
at = "2024-05-06T09:02:00Z"
repeat = 12
every = "15s"
op = "SecretGet"
status = 403
denied = "rbac"
oid = "22222222-2222-4222-8222-222222222222"
upn = "mallory@contoso.com"
ip = "81.2.69.160"
object = "secrets/secret-{i}"

[[events]]
at = "2024-05-06T09:15:00Z"
repeat = 12
every = "15s"
op = "SecretGet"
status = 403
denied = "rbac"
oid = "33333333-3333-4333-8333-333333333333"
upn = "trent@contoso.com"
ip = "81.2.69.161"
object = "secrets/a-{i}"

[[events]]
at = "2024-05-06T09:45:00Z"
repeat = 12
every = "15s"
op = "SecretGet"
status = 403
denied = "rbac"
oid = "33333333-3333-4333-8333-333333333333"
upn = "trent@contoso.com"
ip = "81.2.69.161"
object = "secrets/b-{i}"

[[events]]
at = "2024-05-06T09:25:00Z"
repeat = 10
every = "60s"
op = "SecretGet"
status = 403
denied = "rbac"
oid = "44444444-4444-4444-8444-444444444444"
upn = "oscar@contoso.com"
ip = "81.2.69.162"
object = "secrets/c-{i}"
"#,
    );
    all.sort_by_key(|a| a.0);
    all
}

/// The sentinel time for [`probing_hour`]: well after it.
pub const AFTER_THE_HOUR: &str = "2024-05-06T13:00:00Z";

/// Waits until `cond` holds, looking every 20 ms, bounded by [`STEP`].
pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + STEP;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {STEP:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The sum of a metric family's samples in Prometheus text.
pub fn metric_sum(prom: &str, family: &str) -> f64 {
    prom.lines()
        .filter(|l| l.starts_with(family) && l[family.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
