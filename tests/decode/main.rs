//! Integration tests of the decoders: every shape of a record decodes to the same
//! event (`shapes`), the real samples against their reviewed goldens (`golden`),
//! property tests (`decode_props`, `hostile_properties`, `array_properties`), hostile input
//! (`hostile_input`), streaming replay in bounded memory (`streaming`); the Activity
//! Log's samples (`activity_log`) and its simulated log in every shape
//! (`activity_simulated`).
//!
//! The integration tests are a handful of binaries, one per area, instead of one per
//! file: each binary links the library and all its dependencies, so fewer binaries
//! build much faster. Each former file is a module here; run one of them with, say,
//! `cargo test --test decode golden::`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unsafe_code)] // a test stops at the first surprise, with its location; it may call libc to signal and limit the processes it runs

mod activity_log;
mod activity_simulated;
mod array_properties;
mod decode_props;
mod golden;
mod hostile_input;
mod hostile_properties;
mod shapes;
mod streaming;
