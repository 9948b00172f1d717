//! Writes the rendered sample alert email the documentation shows:
//! `docs/sample-alert-email.html` (the HTML part) and `docs/sample-alert-email.txt`
//! (the plain-text part and the subject). `tests/delivery/delivery_docs.rs` checks they match
//! what kvwatch renders today.
//!
//! Run with `cargo run --release --example sample_email`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a developer tool stops at the first surprise, with its location

use kvwatch::alert::Severity;
use kvwatch::sink::render::email;
use kvwatch::sink::sample;

fn main() -> std::io::Result<()> {
    let alert = sample::alert(1, Severity::High);
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    std::fs::write(
        docs.join("sample-alert-email.html"),
        email::html_body(&alert),
    )?;
    let text = format!(
        "Subject: {}\n\n{}",
        email::subject(&alert, "[kvwatch]"),
        email::text(&alert)
    );
    std::fs::write(docs.join("sample-alert-email.txt"), text)?;
    Ok(())
}
