//! Integration tests of coordination against a real Azurite (one per test): the
//! blob client's calls and credentials (`blob_calls`), ownership claims and renewals
//! (`claims`), takeover by a standby (`takeover`), fencing of an old owner
//! (`fencing`), storage outages through a TCP forwarder that is cut and restored
//! (`outage`), an active instance cut off from Event Hubs handing over
//! (`process_handover`), balanced mode's partitions spread over real processes and taken
//! over with their state (`process_balanced`), snapshots and their damage (`snapshots`), and the blobs other Event
//! Hubs tools read, with the SDK's own `CheckpointStore` trait over our client
//! (`interop`).
//!
//! One binary for this area (see `tests/decode/main.rs`); run one module with, say,
//! `cargo test --test coordinate takeover::`. Azurite comes from
//! `scripts/setup/azurite.sh` (`KVWATCH_AZURITE`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unsafe_code)] // a test stops at the first surprise, with its location; it may call libc to signal and limit the processes it runs

#[path = "../support/azurite.rs"]
mod azurite;
mod common;
#[path = "../support/live/mod.rs"]
mod live_support;
#[path = "../support/tcp_cut.rs"]
mod tcp_cut;

mod blob_calls;
mod claims;
mod fencing;
mod interop;
mod outage;
mod process_balanced;
mod process_fencing;
mod process_growth;
mod process_handover;
mod process_outage;
mod processes;
mod snapshots;
mod takeover;
