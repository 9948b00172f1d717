//! What an analyst reads: the alert rendered as email text and HTML, Slack Block Kit
//! and a Teams Adaptive Card, from one set of facts, evidence rows and next steps.
//!
//! Every value in an alert can come from an attacker (a UPN, an object name, a user
//! agent), so every value passes through an escaper for its medium: control and
//! bidirectional-override characters become visible `\u{..}` escapes everywhere, then
//! HTML, Slack mrkdwn or Teams markdown characters are neutralised, so markup renders
//! as the text it is.

pub mod chat;
pub mod email;

use serde_json::Value;

use crate::alert::Alert;

/// Text with control, bidi-override and zero-width characters shown as `\u{..}`.
pub fn inert(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let risky = c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}' | '\u{2028}' | '\u{2029}');
        if risky {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Escaped for HTML text and attribute values.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in inert(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escaped for a Slack `plain_text` object: `&`, `<`, `>` as entities, so no link,
/// mention or `<!channel>` can form.
pub fn slack_plain(text: &str) -> String {
    inert(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Escaped for Slack mrkdwn: as [`slack_plain`], and formatting characters get a
/// word joiner after them so they cannot pair into bold, italic, strike or code.
pub fn slack(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in inert(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '*' | '_' | '~' | '`' => {
                out.push(c);
                out.push('\u{2060}');
            }
            c => out.push(c),
        }
    }
    out
}

/// Escaped for the inside of a Slack code block (where only entities and backticks matter).
pub fn slack_code(text: &str) -> String {
    inert(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('`', "\u{2035}")
}

/// Escaped for Teams (Adaptive Card) markdown: markup characters backslash-escaped,
/// and `{{` (card template functions) broken apart.
pub fn teams(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in inert(text).chars() {
        if "\\`*_{}[]()<>#+-.!|~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// At most `max` characters, with `…` when cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// One line an analyst can triage from: `HIGH failed_auth: alice@contoso.com on kv-prod`.
pub fn headline(alert: &Alert) -> String {
    format!(
        "{} {}: {} on {}",
        alert.severity.as_str().to_uppercase(),
        alert.detector,
        alert.principal.display_name(),
        alert.vault
    )
}

/// The alert's facts, label first, unescaped.
pub fn facts(alert: &Alert) -> Vec<(&'static str, String)> {
    let p = &alert.principal;
    let mut who = format!("{} ({})", p.display_name(), p.kind);
    for (label, v) in [("upn", &p.upn), ("object id", &p.oid), ("app id", &p.appid)] {
        if let Some(v) = v.as_deref().filter(|v| *v != p.display_name()) {
            who.push_str(&format!(", {label} {v}"));
        }
    }
    vec![
        ("Severity", alert.severity.as_str().to_uppercase()),
        ("Detector", format!("{} / {}", alert.detector, alert.rule)),
        ("Principal", who),
        ("Identity", alert.identity.clone()),
        ("Vault", alert.vault.clone()),
        (
            "First seen",
            alert
                .first_seen
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ),
        (
            "Last seen",
            alert
                .last_seen
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ),
        (
            "Incident",
            format!("{} (revision {})", alert.incident_id, alert.revision),
        ),
        ("Alert id", alert.id.clone()),
    ]
}

/// Evidence keys shown first, with their labels.
const LEADING: [(&str, &str); 3] = [
    ("observed", "Observed"),
    ("baseline", "Baseline"),
    ("expected", "Threshold"),
];

/// The evidence as (label, text) rows: observed, baseline and threshold first, then
/// the rest in key order, each value clipped.
pub fn evidence_rows(alert: &Alert) -> Vec<(String, String)> {
    let map = &alert.evidence.0;
    let mut rows: Vec<(String, String)> = LEADING
        .iter()
        .filter_map(|(key, label)| {
            map.get(*key)
                .map(|v| ((*label).to_owned(), clip(&value_text(v), 600)))
        })
        .collect();
    for (key, value) in map {
        if LEADING.iter().any(|(k, _)| k == key) {
            continue;
        }
        rows.push((key.replace('_', " "), clip(&value_text(value), 600)));
    }
    rows
}

/// The baseline the alert broke, when the detector reported one.
pub fn baseline(alert: &Alert) -> Option<String> {
    alert.evidence.get("baseline").map(value_text)
}

/// A JSON value as readable text: strings bare, lists joined, objects as `k: v`.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join(", "),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}: {}", value_text(v)))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// For an alert of a detector this build does not have (say, written by another
/// version into the outbox).
const REVIEW_ACTIVITY: &str =
    "Review the principal's recent Key Vault activity around the alert's time window.";

/// Closes every list of next steps.
const RECORD_OUTCOME: &str = "Record the outcome against the incident id, so later revisions of this incident are triaged in context.";

/// What the analyst should do next: the detector's own steps (each detector keeps
/// its wording, read through the registry), then recording the outcome.
pub fn next_steps(alert: &Alert) -> Vec<&'static str> {
    let mut steps = crate::detect::registry::next_steps(&alert.detector)
        .map_or_else(|| vec![REVIEW_ACTIVITY], <[&str]>::to_vec);
    steps.push(RECORD_OUTCOME);
    steps
}

#[cfg(test)]
mod tests;
