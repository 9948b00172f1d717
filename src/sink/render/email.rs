//! Email rendering: a subject an analyst can triage from, and a plain-text and an HTML
//! body with the summary, what was observed against the baseline, the facts, the
//! evidence and the next steps. Digests list several low-severity alerts in one email.
//! HTML uses inline styles and tables only, which every mail client renders.

use std::collections::BTreeSet;

use super::{baseline, clip, evidence_rows, facts, headline, html, inert, next_steps};
use crate::alert::{Alert, Severity};

/// The subject: `[kvwatch] HIGH failed_auth: alice@contoso.com on kv-prod`.
pub fn subject(alert: &Alert, prefix: &str) -> String {
    clip(&inert(&format!("{prefix} {}", headline(alert))), 200)
}

/// The plain-text body.
pub fn text(alert: &Alert) -> String {
    let mut out = format!(
        "{}\n\n{}\n\n",
        inert(&headline(alert)),
        inert(&alert.summary)
    );
    out.push_str("Observed against the baseline\n");
    out.push_str(&format!("  {}\n\n", inert(&baseline_line(alert))));
    out.push_str("Details\n");
    for (label, value) in facts(alert) {
        out.push_str(&format!("  {label:<11} {}\n", inert(&value)));
    }
    let rows = evidence_rows(alert);
    if !rows.is_empty() {
        out.push_str("\nEvidence\n");
        for (label, value) in rows {
            out.push_str(&format!("  {}: {}\n", inert(&label), inert(&value)));
        }
    }
    out.push_str("\nNext steps\n");
    for (i, step) in next_steps(alert).iter().enumerate() {
        out.push_str(&format!("  {}. {step}\n", i + 1));
    }
    out.push_str(&format!(
        "\n-- \nkvwatch alert {} (the alert id is stable: a repeat of it is the same alert)\n",
        inert(&alert.id)
    ));
    out
}

fn baseline_line(alert: &Alert) -> String {
    match (
        alert.evidence.get("observed").map(super::value_text),
        baseline(alert),
    ) {
        (Some(o), Some(b)) => format!("observed {o}; baseline {b}"),
        (None, Some(b)) => format!("baseline {b}"),
        (Some(o), None) => format!("observed {o}; no baseline (this rule fires on its own)"),
        (None, None) => "no baseline (this rule fires on its own)".into(),
    }
}

/// The colour of a severity badge.
fn colour(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "#7b1113",
        Severity::High => "#c62828",
        Severity::Medium => "#e67e00",
        Severity::Low => "#1565c0",
        Severity::Info => "#546e7a",
    }
}

const CELL: &str = "padding:4px 10px;border-bottom:1px solid #e0e0e0;vertical-align:top;";
const LABEL: &str = "padding:4px 10px;border-bottom:1px solid #e0e0e0;vertical-align:top;color:#555;white-space:nowrap;";

fn open(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n<body style=\"margin:0;padding:16px;background:#f4f5f7;font-family:Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;color:#1f2328;\">\n<table role=\"presentation\" width=\"100%\" style=\"max-width:760px;margin:auto;background:#ffffff;border:1px solid #d0d7de;border-collapse:collapse;\"><tr><td style=\"padding:20px;\">\n",
        html(title)
    )
}

const CLOSE: &str = "</td></tr></table>\n</body></html>\n";

fn badge(severity: Severity) -> String {
    format!(
        "<span style=\"display:inline-block;padding:2px 8px;border-radius:3px;background:{};color:#fff;font-weight:bold;font-size:12px;\">{}</span>",
        colour(severity),
        severity.as_str().to_uppercase()
    )
}

fn table(rows: &[(String, String)]) -> String {
    let mut out = String::from("<table role=\"presentation\" style=\"border-collapse:collapse;width:100%;margin:4px 0 16px;\">\n");
    for (label, value) in rows {
        out.push_str(&format!("<tr><td style=\"{LABEL}\">{}</td><td style=\"{CELL}font-family:Consolas,Menlo,monospace;word-break:break-all;\">{}</td></tr>\n", html(label), html(value)));
    }
    out.push_str("</table>\n");
    out
}

fn heading(text: &str) -> String {
    format!("<h3 style=\"margin:16px 0 4px;font-size:15px;\">{text}</h3>\n")
}

/// The HTML body.
pub fn html_body(alert: &Alert) -> String {
    let mut out = open(&headline(alert));
    out.push_str(&format!(
        "<p style=\"margin:0 0 8px;\">{} <strong style=\"font-size:16px;\">{}</strong></p>\n",
        badge(alert.severity),
        html(&format!(
            "{}: {} on {}",
            alert.detector,
            alert.principal.display_name(),
            alert.vault
        ))
    ));
    out.push_str(&format!(
        "<p style=\"margin:0 0 12px;font-size:15px;\">{}</p>\n",
        html(&alert.summary)
    ));
    out.push_str(&format!(
        "<div style=\"border-left:4px solid {};background:#fff8e1;padding:8px 12px;margin:0 0 12px;\"><strong>Observed against the baseline:</strong> {}</div>\n",
        colour(alert.severity),
        html(&baseline_line(alert))
    ));
    out.push_str(&heading("Details"));
    let facts: Vec<(String, String)> = facts(alert)
        .into_iter()
        .map(|(l, v)| (l.to_owned(), v))
        .collect();
    out.push_str(&table(&facts));
    let rows = evidence_rows(alert);
    if !rows.is_empty() {
        out.push_str(&heading("Evidence"));
        out.push_str(&table(&rows));
    }
    out.push_str(&heading("Next steps"));
    out.push_str("<ol style=\"margin:4px 0 16px;padding-left:22px;\">\n");
    for step in next_steps(alert) {
        out.push_str(&format!(
            "<li style=\"margin:2px 0;\">{}</li>\n",
            html(step)
        ));
    }
    out.push_str("</ol>\n");
    out.push_str(&format!(
        "<p style=\"color:#6e7781;font-size:12px;margin:16px 0 0;\">kvwatch alert <code>{}</code>. The alert id is stable: a repeat of it is the same alert, not a new one.</p>\n",
        html(&alert.id)
    ));
    out.push_str(CLOSE);
    out
}

/// The subject of a digest: `[kvwatch] digest: 7 alerts (low) on 3 vaults`.
pub fn digest_subject(alerts: &[Alert], prefix: &str) -> String {
    let vaults: BTreeSet<&str> = alerts.iter().map(|a| a.vault.as_str()).collect();
    let top = alerts
        .iter()
        .map(|a| a.severity)
        .max()
        .unwrap_or(Severity::Info);
    let s = if alerts.len() == 1 { "" } else { "s" };
    let v = if vaults.len() == 1 { "" } else { "s" };
    clip(
        &inert(&format!(
            "{prefix} digest: {} alert{s} (up to {top}) on {} vault{v}",
            alerts.len(),
            vaults.len()
        )),
        200,
    )
}

/// The plain-text body of a digest.
pub fn digest_text(alerts: &[Alert]) -> String {
    let mut out = format!(
        "{} lower-severity alerts, batched into one digest.\n\n",
        alerts.len()
    );
    for a in alerts {
        out.push_str(&format!(
            "* {}\n  {}\n  {} to {}, alert {}\n\n",
            inert(&headline(a)),
            inert(&a.summary),
            a.first_seen
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            a.last_seen
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            inert(&a.id)
        ));
    }
    out.push_str(
        "-- \nkvwatch digest. Each alert id is stable: a repeat of it is the same alert.\n",
    );
    out
}

/// The HTML body of a digest.
pub fn digest_html(alerts: &[Alert]) -> String {
    let mut out = open(&format!("kvwatch digest: {} alerts", alerts.len()));
    out.push_str(&format!("<p style=\"margin:0 0 12px;font-size:15px;\"><strong>{} lower-severity alerts</strong>, batched into one digest.</p>\n", alerts.len()));
    out.push_str("<table role=\"presentation\" style=\"border-collapse:collapse;width:100%;\">\n");
    for a in alerts {
        out.push_str(&format!(
            "<tr><td style=\"{CELL}\">{}</td><td style=\"{CELL}\"><strong>{}</strong><br>{}<br><span style=\"color:#6e7781;font-size:12px;\">{} · alert <code>{}</code></span></td></tr>\n",
            badge(a.severity),
            html(&format!("{}: {} on {}", a.detector, a.principal.display_name(), a.vault)),
            html(&a.summary),
            a.first_seen.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            html(&a.id)
        ));
    }
    out.push_str("</table>\n");
    out.push_str(CLOSE);
    out
}
