//! Integration tests of live mode over real AMQP against the embedded Event Hubs
//! (`kvwatch::embedded_hub`): the embedded hub itself driven by the real SDK
//! (`embedded_sdk`), `kvwatch
//! run` end to end (`live_e2e`), the Activity Log and AuditEvent hubs together
//! (`live_activity_log`), one hub lagging the others (`live_hub_lag`), partition ownership (`live_ownership`), the real
//! binary killed and stopped (`live_process`), restarts and outages
//! (`live_restart`), `kvwatch route` (`live_route`) and live against replay
//! (`live_vs_replay`).
//!
//! One binary per area (see `tests/decode/main.rs`); run one module with, say,
//! `cargo test --test live live_restart::`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unsafe_code)] // a test stops at the first surprise, with its location; it may call libc to signal and limit the processes it runs

// The live helpers (also used by benches/live_latency.rs).
#[path = "../support/live/mod.rs"]
mod live_support;

mod deploy_files;
mod deploy_prometheus;
mod embedded_faults;
mod embedded_retention;
mod embedded_run;
mod embedded_sdk;
mod live_activity_log;
mod live_e2e;
mod live_hub_lag;
mod live_ownership;
mod live_process;
mod live_restart;
mod live_route;
mod live_vs_replay;
