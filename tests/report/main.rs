//! Integration tests of `kvwatch report`: its content in every format (`report`) and
//! the HTML report in headless Chromium (`report_browser`).
//!
//! One binary per area (see `tests/decode/main.rs`); run one module with, say,
//! `cargo test --test report report_browser::`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unsafe_code)] // a test stops at the first surprise, with its location; it may call libc to signal and limit the processes it runs

// A minimal DevTools-protocol client for headless Chromium.
#[path = "../report_support/cdp.rs"]
mod cdp;

mod report;
mod report_browser;
