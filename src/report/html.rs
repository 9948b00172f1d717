//! The HTML report: one self-contained file (inline CSS and SVG, no script, no
//! fetch) that works offline, mailed as an attachment, printed, and in light or
//! dark mode.
//!
//! Every string that came from a record (names, user agents, error texts, object
//! names, detector output) is attacker-controlled, so it only ever reaches the page
//! through [`esc`]: control and bidirectional-override characters become visible
//! escapes, then HTML's special characters become entities. The page carries a
//! strict Content-Security-Policy (`default-src 'none'`), so even a mistake here could
//! not load or run anything. This file holds the document frame and helpers; the
//! sections are in [`super::html_sections`].

use std::fmt::Write;

use chrono::{DateTime, Utc};
use xxhash_rust::xxh3::xxh3_64;

use super::html_sections as sections;
use super::model::{Chart, ReportModel};
use crate::event::OperationClass;

/// The Content-Security-Policy the page declares: nothing may load or run; inline
/// styles and `data:` images only.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

const CSS: &str = include_str!("report.css");

/// Escapes record-derived text for HTML text and attribute values: line breaks
/// become spaces, other control and bidi-override characters visible `\u{..}`.
pub fn esc(text: &str) -> String {
    crate::escape::html(&one_line(text))
}

/// `text` on one line: line breaks and tabs become spaces (for [`esc`] and the
/// Markdown report's `md`).
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if matches!(c, '\n' | '\r' | '\t') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// A safe element id for an arbitrary key: `prefix-<hash>`.
pub fn anchor(prefix: &str, key: &str) -> String {
    format!(
        "{prefix}-{:012x}",
        xxh3_64(key.as_bytes()) & 0xffff_ffff_ffff
    )
}

/// A UTC time to the minute.
pub fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// A count with thousands separators.
pub fn num(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A severity badge.
pub fn badge(severity: crate::alert::Severity) -> String {
    format!(
        r#"<span class="badge sev-{s}">{s}</span>"#,
        s = severity.as_str()
    )
}

/// The legend of activity charts.
pub fn legend(chart: &Chart) -> String {
    let mut used = [false; 8];
    for b in &chart.buckets {
        for (i, c) in b.by_class.iter().enumerate() {
            used[i] |= *c > 0;
        }
    }
    let mut out = String::from(r#"<div class="legend">"#);
    for class in OperationClass::ALL {
        if used[class.index()] {
            let _ = write!(
                out,
                r#"<span><i class="k{}"></i>{}</span>"#,
                class.index(),
                class.as_str()
            );
        }
    }
    if chart.buckets.iter().any(|b| b.denied > 0) {
        out.push_str(r#"<span><i class="denied"></i>denied (strip under the axis)</span>"#);
    }
    if !chart.marks.is_empty() {
        out.push_str(r#"<span><i class="alert"></i>alert (links to its incident)</span>"#);
    }
    out.push_str("</div>");
    out
}

/// A table from a header and rows of already-escaped cells; cells whose header
/// starts with `#` are numeric (right-aligned, the `#` dropped).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table><thead><tr>");
    for h in header {
        match h.strip_prefix('#') {
            Some(h) => {
                let _ = write!(out, r#"<th class="n">{h}</th>"#);
            }
            None => {
                let _ = write!(out, "<th>{h}</th>");
            }
        }
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for (h, cell) in header.iter().zip(row) {
            if h.starts_with('#') {
                let _ = write!(out, r#"<td class="n">{cell}</td>"#);
            } else {
                let _ = write!(out, "<td>{cell}</td>");
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// Renders the whole report as one HTML document.
pub fn render(m: &ReportModel) -> String {
    let mut out = String::with_capacity(256 * 1024);
    let period = m.period.map_or_else(
        || "no events".to_owned(),
        |p| format!("{} to {} UTC", when(p.start), when(p.end)),
    );
    let _ = write!(
        out,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="kvwatch {}">
<title>{} · {}</title>
<style>
{CSS}</style>
</head>
<body>
<div class="page">
"#,
        esc(&m.kvwatch_version),
        esc(&m.title),
        esc(&period)
    );
    sections::header(&mut out, m);
    sections::toc(&mut out, m);
    out.push_str("<main>\n");
    sections::summary(&mut out, m);
    sections::incidents(&mut out, m);
    sections::findings(&mut out, m);
    sections::principals(&mut out, m);
    sections::vaults(&mut out, m);
    sections::notes(&mut out, m);
    out.push_str("</main>\n");
    let _ = write!(
        out,
        "<footer>Generated {} UTC by kvwatch {} from Azure Key Vault audit logs. Times are UTC. Every name, user agent and error text is shown as the logs wrote it, escaped.</footer>\n</div>\n</body>\n</html>\n",
        when(m.generated_at),
        esc(&m.kvwatch_version)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_neutralises_markup_and_controls() {
        let hostile = "<script>alert(1)</script>\"'&\u{7}\u{202e}x\ny";
        let e = esc(hostile);
        assert!(!e.contains('<') && !e.contains('>') && !e.contains('"') && !e.contains('\''));
        assert!(e.contains("&lt;script&gt;") && e.contains("\\u{7}") && e.contains("\\u{202e}"));
        assert!(e.contains("x y"), "{e}");
        assert!(e.chars().all(|c| !c.is_control()));
    }

    #[test]
    fn anchors_numbers_and_tables() {
        let a = anchor("f", "identity.no_mfa/principal:<x>");
        assert!(a.starts_with("f-") && a[2..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(anchor("f", "a"), anchor("f", "a"));
        assert_eq!(num(1234567), "1,234,567");
        assert_eq!(num(12), "12");
        let t = table(&["name", "#count"], &[vec!["a".into(), "3".into()]]);
        assert!(t.contains(r#"<td class="n">3</td>"#));
    }
}
