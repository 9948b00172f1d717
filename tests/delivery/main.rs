//! Integration tests of alert delivery: webhooks and chat sinks against real HTTP
//! receivers (`delivery_webhooks`), email against a real SMTP server
//! (`delivery_email`), faults and dead letters (`delivery_faults`), crash recovery of
//! the real binary (`delivery_kill`), the `outbox` subcommand (`outbox_cli`), escaping
//! in every renderer (`render_safety`) and the delivery documentation
//! (`delivery_docs`).
//!
//! One binary per area (see `tests/decode/main.rs`); run one module with, say,
//! `cargo test --test delivery delivery_email::`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unsafe_code)] // a test stops at the first surprise, with its location; it may call libc to signal and limit the processes it runs

// Receivers, the SMTP server and the delivery helpers, shared by the modules.
#[path = "../support/delivery/mod.rs"]
mod support;

mod alert_limits;
mod delivery_docs;
mod delivery_email;
mod delivery_faults;
mod delivery_kill;
mod delivery_webhooks;
mod file_modes;
mod outbox_cli;
mod render_safety;
mod replay_with_sinks;
