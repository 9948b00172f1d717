//! Hardening of the config loader: every duration and size is bounded at load, naming
//! the key (so nothing downstream can overflow), and every error names the key and
//! its line without ever echoing a secret's text.

use std::path::Path;

use crate::config::{Config, ConfigError};

fn error(text: &str) -> String {
    match Config::parse(text, Path::new("kv.toml")) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

const EMAIL: &str = "[[sinks]]\nkind = \"email\"\nhost = \"smtp.example.com\"\nfrom = \"kvwatch@example.com\"\nto = [\"soc@example.com\"]\n";

#[test]
fn durations_and_sizes_are_bounded_at_load_naming_the_key() {
    let huge = "\"1000000000d\"";
    let max_i64 = "9223372036854775807";
    let table: Vec<(String, &str)> = vec![
        (
            format!("[outbox]\nbackoff_initial = {huge}\nbackoff_max = {huge}\n"),
            "outbox.backoff_initial",
        ),
        (
            format!("[outbox]\nbackoff_max = {huge}\n"),
            "outbox.backoff_max",
        ),
        (format!("[outbox]\nmax_age = {huge}\n"), "outbox.max_age"),
        (
            format!("[outbox]\nattempt_timeout = {huge}\n"),
            "outbox.attempt_timeout",
        ),
        (
            format!("[outbox]\ndrain_timeout = {huge}\n"),
            "outbox.drain_timeout",
        ),
        (
            "[outbox]\nmax_tries = 4294967295\n".to_owned(),
            "outbox.max_tries",
        ),
        (
            format!("[outbox]\ncommit_batch = {max_i64}\n"),
            "outbox.commit_batch",
        ),
        (
            format!("[pipeline]\ndedup_window = {huge}\n"),
            "pipeline.dedup_window",
        ),
        (
            format!("[pipeline]\nreorder_capacity = {max_i64}\n"),
            "pipeline.reorder_capacity",
        ),
        (
            format!("[pipeline]\nmax_record_bytes = {max_i64}\n"),
            "pipeline.max_record_bytes",
        ),
        (
            format!("[pipeline]\nmax_expansion_ratio = {max_i64}\n"),
            "pipeline.max_expansion_ratio",
        ),
        (format!("[incidents]\ngap = {huge}\n"), "incidents.gap"),
        (
            "[detectors]\nidle_after = \"400d\"\nforget_after = \"3000d\"\n".to_owned(),
            "detectors.idle_after",
        ),
        (
            format!("[detectors]\nforget_after = {huge}\n"),
            "detectors.forget_after",
        ),
        (
            format!("[detectors]\nmax_principals = {max_i64}\n"),
            "detectors.max_principals",
        ),
        (
            format!("{EMAIL}digest_every = {huge}\n"),
            "sinks[0].digest_every",
        ),
        (
            format!("{EMAIL}max_per_minute = 4294967295\n"),
            "sinks[0].max_per_minute",
        ),
        (
            format!("[eventhubs]\nreconnect_max = {huge}\n"),
            "eventhubs.reconnect_max",
        ),
        (
            "[eventhubs]\nreconnect_max = \"30d\"\n".to_owned(),
            "eventhubs.reconnect_max",
        ),
        (
            "[outbox]\nbackoff_initial = \"2h\"\nbackoff_max = \"3h\"\n".to_owned(),
            "outbox.backoff_initial",
        ),
        (
            format!("[eventhubs]\noperation_timeout = {huge}\n"),
            "eventhubs.operation_timeout",
        ),
        (
            format!("[eventhubs]\nqueue_bodies = {max_i64}\n"),
            "eventhubs.queue_bodies",
        ),
        (
            format!("[state]\ncheckpoint_interval = {huge}\n"),
            "state.checkpoint_interval",
        ),
        (
            format!("[route]\nmax_records_per_body = {max_i64}\n"),
            "route.max_records_per_body",
        ),
        (
            format!("[report]\ndormant_after = {huge}\n"),
            "report.dormant_after",
        ),
        (
            format!("[report]\nrotation_tiers = [\"90d\", {huge}]\n"),
            "report.rotation_tiers",
        ),
        (
            format!("[report]\nmax_principals = {max_i64}\n"),
            "report.max_principals",
        ),
    ];
    for (text, key) in &table {
        let err = error(text);
        assert!(err.contains(key), "{text:?} → {err}");
    }
}

#[test]
fn a_literal_secret_is_refused_naming_its_key_and_line_never_its_value() {
    let text = format!("{EMAIL}username = \"kvwatch\"\npassword = \"hunter2-literal\"\n");
    let err = error(&text);
    assert!(err.contains("sinks[0].password"), "{err}");
    assert!(err.contains("line 7"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    let text = "[outbox]\nmax_tries = 3\n\n[[sinks]]\nkind = \"slack\"\nname = \"soc\"\nurl = \"https://hooks.slack.com/services/T0/B0/literal-token\"\n";
    let err = error(text);
    assert!(
        err.contains("sinks[0].url") && err.contains("line 7"),
        "{err}"
    );
    assert!(!err.contains("literal-token"), "{err}");
    let text = "[[eventhubs.hubs]]\nnamespace = \"ns.servicebus.windows.net\"\nhub = \"h\"\ncredential = { kind = \"connection_string\", connection_string = \"Endpoint=sb://ns/;SharedAccessKey=abcdefSECRET\" }\n";
    let err = error(text);
    assert!(
        err.contains("connection_string") && err.contains("line 4"),
        "{err}"
    );
    assert!(!err.contains("abcdefSECRET"), "{err}");
}

#[test]
fn a_bad_sink_value_names_its_key_and_line() {
    let err = error(&format!("{EMAIL}port = 70000\n"));
    assert!(
        err.contains("sinks[0].port") && err.contains("line 6"),
        "{err}"
    );
    let err = error(&format!(
        "{EMAIL}\n[[sinks]]\nkind = \"slack\"\nurl = {{ env = \"X\" }}\ncolour = \"red\"\n"
    ));
    assert!(err.contains("sinks[1]") && err.contains("colour"), "{err}");
    assert!(err.contains("line 10"), "{err}");
    let err = error("[outbox]\nmax_tries = 0\n");
    assert!(
        err.contains("outbox.max_tries") && err.contains("line 2"),
        "{err}"
    );
}

#[test]
fn a_syntax_error_on_a_secret_line_shows_the_key_only() {
    let text = format!("{EMAIL}username = \"kvwatch\"\npassword = \"hunter2-unterminated\n");
    let err = error(&text);
    assert!(!err.contains("hunter2"), "{err}");
    assert!(err.contains("password") && err.contains("line 7"), "{err}");
    let text = "[[sinks]]\nkind = \"webhook\"\nsigning_secret = whsec_BARE-SECRET-TEXT\n";
    let err = error(text);
    assert!(!err.contains("BARE-SECRET"), "{err}");
    assert!(
        err.contains("signing_secret") && err.contains("line 3"),
        "{err}"
    );
}

#[test]
fn errors_keep_their_kind() {
    let e = Config::parse("[outbox]\nmax_tries = 0\n", Path::new("kv.toml")).unwrap_err();
    assert!(matches!(e, ConfigError::Invalid { .. }), "{e:?}");
}

#[test]
fn no_text_makes_the_loader_panic() {
    // Every cut and every one-character damage of a config using each section: the
    // error locator walks spans and slices text, and must hold on all of them.
    let text = format!(
        "[pipeline]\nlateness = \"10m\"\n[outbox]\nmax_tries = 3\n{EMAIL}password = {{ env = \"P\" }}\nusername = \"ü\"\n\
         [[sinks]]\nkind = \"slack\"\nurl = {{ file = \"u\" }}\n[[eventhubs.hubs]]\nnamespace = \"n\"\nhub = \"h\"\n\
         credential = {{ kind = \"connection_string\", connection_string = {{ env = \"C\" }} }}\n[metrics]\nmax_connections = 4\n"
    );
    let path = Path::new("kv.toml");
    let mut cases = 0;
    for (i, _) in text.char_indices() {
        let _ = Config::parse(&text[..i], path);
        for c in ['"', '[', ']', '=', '{', '\n', 'é', '`'] {
            let mut damaged = text.clone();
            let next = text[i..].chars().next().map_or(0, char::len_utf8);
            damaged.replace_range(i..i + next, &c.to_string());
            let _ = Config::parse(&damaged, path);
            cases += 1;
        }
    }
    assert!(cases > 1000);
}
