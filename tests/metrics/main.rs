//! Integration tests of the metrics: without external tools (`metrics`), checked by
//! promtool (`metrics_promtool`) and scraped by a real Prometheus server
//! (`metrics_prometheus_e2e`).
//!
//! One binary per area (see `tests/decode/main.rs`); run one module with, say,
//! `cargo test --test metrics metrics_promtool::`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unsafe_code)] // a test stops at the first surprise, with its location; it may call libc to signal and limit the processes it runs

// Replays with metrics, the Prometheus server and the dashboards, shared by the modules.
#[path = "../metrics_support/mod.rs"]
mod support;

mod metrics;
mod metrics_endpoint_limits;
mod metrics_prometheus_e2e;
mod metrics_promtool;
