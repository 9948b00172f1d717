//! Integration tests of `kvwatch report`: its content in every format (`report`) and
//! the HTML report in headless Chromium (`report_browser`).
//!
//! One binary per area (see `tests/decode/main.rs`); run one module with, say,
//! `cargo test --test report report_browser::`.

// A minimal DevTools-protocol client for headless Chromium.
#[path = "../report_support/cdp.rs"]
mod cdp;

mod report;
mod report_browser;
