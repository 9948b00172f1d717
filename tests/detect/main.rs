//! Integration tests of detection: the detector files (`detector_definitions`), the
//! detector table (`detector_table`), the evaluation on the simulated fortnight
//! (`evaluation`), the simulator (`simulate`), replay state across runs
//! (`replay_state`), streaming replay's alerts on any number of threads (`replay_streaming`),
//! the golden replay of the sample logs (`replay_golden`) and the shape of `src/detect/`
//! (`layering`: no detector imports another, no circles).
//!
//! One binary per area (see `tests/decode/main.rs`); run one module with, say,
//! `cargo test --test detect evaluation::`.

mod detector_definitions;
mod detector_table;
mod evaluation;
mod layering;
mod replay_golden;
mod replay_state;
mod replay_streaming;
mod simulate;
