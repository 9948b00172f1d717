//! A real Prometheus server for the end-to-end tests: started on a free loopback
//! port with a generated config and a temporary storage folder, queried through its
//! HTTP API, killed when dropped.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running Prometheus.
pub struct Prometheus {
    child: Child,
    /// Its base URL (`http://127.0.0.1:PORT`).
    pub url: String,
    dir: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

/// One sample of an instant query: labels and value.
pub type Sample = (BTreeMap<String, String>, f64);

/// Percent-encodes a query-string value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    l.local_addr().map(|a| a.port()).expect("its address")
}

impl Prometheus {
    /// Starts Prometheus scraping `target` (job `kvwatch`) every `interval`, and
    /// waits (bounded) until it is ready.
    pub fn start(target: SocketAddr, interval: &str) -> Prometheus {
        let binary = super::tool("KVWATCH_PROMETHEUS");
        let mut last_err = String::new();
        for _ in 0..3 {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client");
            let dir = tempfile::tempdir().expect("temp dir");
            let config = dir.path().join("prometheus.yml");
            std::fs::write(
                &config,
                format!(
                    "global:\n  scrape_interval: {interval}\n  scrape_timeout: {interval}\n  evaluation_interval: {interval}\n\
                     scrape_configs:\n  - job_name: kvwatch\n    static_configs:\n      - targets: ['{target}']\n"
                ),
            )
            .expect("config written");
            let port = free_port();
            let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log file");
            let child = Command::new(&binary)
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--storage.tsdb.retention.time=1h")
                .arg("--log.level=warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(log))
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
            let mut p = Prometheus {
                child,
                url: format!("http://127.0.0.1:{port}"),
                dir,
                runtime,
                client,
            };
            match p.wait_ready(Duration::from_secs(60)) {
                Ok(()) => return p,
                // Dropping it kills it; a port taken meanwhile gets another try.
                Err(e) => last_err = e,
            }
        }
        panic!("Prometheus did not become ready: {last_err}");
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("it exited ({status}): {}", self.log()));
            }
            let url = format!("{}/-/ready", self.url);
            let answer = self.runtime.block_on(async {
                self.client
                    .get(&url)
                    .send()
                    .await
                    .map(|r| r.status().is_success())
            });
            if matches!(answer, Ok(true)) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("not ready after {limit:?}: {}", self.log()))
    }

    /// Runs an instant query; `Err` carries Prometheus' error text.
    pub fn query(&self, expr: &str) -> Result<Vec<Sample>, String> {
        let url = format!("{}/api/v1/query", self.url);
        let body: Value = self.runtime.block_on(async {
            let resp = self
                .client
                .get(format!("{url}?query={}", encode(expr)))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            resp.json::<Value>().await.map_err(|e| e.to_string())
        })?;
        if body["status"] != "success" {
            return Err(format!("{}: {}", body["errorType"], body["error"]));
        }
        let data = &body["data"];
        let parse = |v: &Value| {
            v.as_str()
                .and_then(|s| s.parse::<f64>().ok())
                .unwrap_or(f64::NAN)
        };
        match data["resultType"].as_str() {
            Some("vector") => Ok(data["result"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    let labels = s["metric"]
                        .as_object()
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                                .collect()
                        })
                        .unwrap_or_default();
                    (labels, parse(&s["value"][1]))
                })
                .collect()),
            Some("scalar") => Ok(vec![(BTreeMap::new(), parse(&data["result"][1]))]),
            other => Err(format!("unexpected result type {other:?}")),
        }
    }

    /// Polls `expr` until `done` accepts its samples or `limit` passes; returns the
    /// last samples (the caller asserts on them).
    pub fn wait_for(
        &self,
        expr: &str,
        limit: Duration,
        done: impl Fn(&[Sample]) -> bool,
    ) -> Vec<Sample> {
        let deadline = Instant::now() + limit;
        loop {
            let samples = self.query(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
            if done(&samples) || Instant::now() >= deadline {
                return samples;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The value of a query that sums to one number (0 when it has no samples).
    pub fn scalar(&self, expr: &str) -> f64 {
        self.query(expr)
            .unwrap_or_else(|e| panic!("{expr}: {e}"))
            .iter()
            .map(|(_, v)| v)
            .sum()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
