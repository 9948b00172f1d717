//! Integration tests of detection: the Activity Log's alerts in every shape
//! (`activity_parity`), the Panther Activity Log records as a table of kvwatch's
//! verdicts (`panther_table`), the detector files (`detector_definitions`), the
//! detector table (`detector_table`), the evaluation on the simulated fortnight
//! (`evaluation`), the simulator (`simulate`), replay state across runs
//! (`replay_state`), streaming replay's alerts on any number of threads (`replay_streaming`),
//! the golden replay of the sample logs (`replay_golden`) and the shape of `src/detect/`
//! (`layering`: no detector imports another, no circles), the principal cap
//! under a flood of new identities (`principal_cap`), and `bulk_secret_retrieval`'s
//! day of novelty and new principals' share of a vault (`novelty_table`), and
//! `unusual_geo`'s borrowed workload identity (`borrowed_table`).
//!
//! One binary per area (see `tests/decode/main.rs`); run one module with, say,
//! `cargo test --test detect evaluation::`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unsafe_code)] // a test stops at the first surprise, with its location; it may call libc to signal and limit the processes it runs

mod activity_parity;
mod arrival_lane;
mod borrowed_table;
mod custom_roles;
mod detector_definitions;
mod detector_table;
mod evaluation;
mod layering;
mod novelty_table;
mod panther_table;
mod principal_cap;
mod replay_golden;
mod replay_state;
mod replay_streaming;
mod simulate;
