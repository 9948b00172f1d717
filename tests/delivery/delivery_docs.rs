//! The delivery documentation stays true: the config example in docs/alerting.md
//! parses and validates, and the rendered sample email matches today's rendering.

use std::path::{Path, PathBuf};

use kvwatch::alert::Severity;
use kvwatch::config::{Config, SinkKind};
use kvwatch::sink::render::email;
use kvwatch::sink::sample;

fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs")
}

#[test]
fn the_documented_config_is_valid_and_has_every_sink_kind() {
    let text = std::fs::read_to_string(docs().join("alerting.md")).unwrap();
    let start = text
        .find("```toml\n# kvwatch.toml")
        .expect("the complete example")
        + "```toml\n".len();
    let end = start + text[start..].find("```").unwrap();
    let config = Config::parse(&text[start..end], Path::new("docs/alerting.md"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut kinds: Vec<SinkKind> = config
        .sinks
        .iter()
        .map(kvwatch::config::SinkConfig::kind)
        .collect();
    kinds.dedup();
    for kind in [
        SinkKind::Email,
        SinkKind::Webhook,
        SinkKind::Slack,
        SinkKind::Teams,
        SinkKind::PagerDuty,
        SinkKind::File,
    ] {
        assert!(kinds.contains(&kind), "the example lacks a {kind:?} sink");
    }
}

#[test]
fn the_sample_email_matches_the_renderer() {
    let alert = sample::alert(1, Severity::High);
    let html = std::fs::read_to_string(docs().join("sample-alert-email.html")).unwrap();
    assert!(
        html == email::html_body(&alert),
        "docs/sample-alert-email.html is stale: run `cargo run --release --example sample_email`"
    );
    let text = std::fs::read_to_string(docs().join("sample-alert-email.txt")).unwrap();
    assert!(
        text.ends_with(&email::text(&alert)),
        "docs/sample-alert-email.txt is stale: run the sample_email example"
    );
}
