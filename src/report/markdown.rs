//! The Markdown report: the same content as the HTML, for tickets, wikis and chat.
//!
//! Charts become one-line sparklines with the alert times listed under them. Every
//! record-derived string passes through [`md`]: control characters become visible
//! escapes, HTML's `<`, `>` and `&` become entities (Markdown renderers pass raw HTML
//! through), and Markdown's own punctuation is backslash-escaped so a name cannot
//! open a link, an image, emphasis or a table cell. The principals' and vaults'
//! sections are in [`super::markdown_subjects`].

use std::fmt::Write;

use serde_json::Value;

use super::html::{num, one_line, when};
use super::markdown_subjects::{principals, vaults};
use super::model::{Chart, Listed, ReportModel, SeenRow};

/// Escapes record-derived text for Markdown (inline text and table cells).
pub fn md(text: &str) -> String {
    let flat = one_line(text);
    let mut out = String::with_capacity(flat.len() + 8);
    for c in crate::escape::inert(&flat).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '#' | '!' | '(' | ')' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A sparkline of a chart's totals, one character per bucket.
pub fn sparkline(chart: &Chart) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = chart
        .buckets
        .iter()
        .map(super::series::Bucket::total)
        .max()
        .unwrap_or(0)
        .max(1);
    chart
        .buckets
        .iter()
        .map(|b| match b.total() {
            0 => ' ',
            t => BARS[((t as usize * 8).saturating_sub(1) / max as usize).min(7)],
        })
        .collect()
}

/// A chart as a sparkline, with its alerts listed under it.
pub(super) fn chart(out: &mut String, chart: &Chart) {
    let Some(start) = chart.start else { return };
    let hours = chart.bucket_seconds / 3600;
    let _ = writeln!(out, "```text\n{}\n```", sparkline(chart));
    let _ = write!(
        out,
        "Requests per {hours}-hour bucket from {} UTC",
        when(start)
    );
    if chart.marks.is_empty() {
        out.push_str(".\n\n");
    } else {
        let marks: Vec<String> = chart
            .marks
            .iter()
            .take(20)
            .map(|m| format!("{} {} ({})", when(m.time), md(&m.label), m.severity))
            .collect();
        let more = chart.marks.len().saturating_sub(20);
        let _ = writeln!(
            out,
            "; alerts: {}{}.\n",
            marks.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
    }
}

/// A Markdown table.
pub(super) fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(
        out,
        "|{}",
        header.iter().map(|_| "---|").collect::<String>()
    );
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out.push('\n');
}

/// A capped list as a table, with "and N more" under it.
pub(super) fn seen(out: &mut String, title: &str, list: &Listed<SeenRow>) {
    if list.items.is_empty() {
        return;
    }
    let _ = writeln!(out, "**{title}**\n");
    let rows: Vec<Vec<String>> = list
        .items
        .iter()
        .map(|r| vec![md(&r.name), num(r.count), when(r.first), when(r.last)])
        .collect();
    table(out, &["Name", "Requests", "First seen", "Last seen"], &rows);
    if list.more > 0 {
        let _ = writeln!(out, "and {} more\n", num(list.more));
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "—".to_owned(),
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s).map_or_else(
            |_| s.clone(),
            |t| format!("{} UTC", when(t.with_timezone(&chrono::Utc))),
        ),
        Value::Array(items) if items.is_empty() => "none".to_owned(),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// Renders the report as Markdown.
pub fn render(m: &ReportModel) -> String {
    let mut out = String::with_capacity(64 * 1024);
    summary(&mut out, m);
    incidents(&mut out, m);
    hygiene(&mut out, m);
    principals(&mut out, m);
    vaults(&mut out, m);
    notes(&mut out, m);
    out
}

/// The title, the period, the inputs and the totals with the overview chart.
fn summary(out: &mut String, m: &ReportModel) {
    let _ = writeln!(out, "# {}\n", md(&m.title));
    if let Some(p) = m.period {
        let _ = writeln!(
            out,
            "Period: **{}** to **{}** UTC ({:.1} days).  ",
            when(p.start),
            when(p.end),
            p.days
        );
    }
    let i = &m.inputs;
    let _ = writeln!(
        out,
        "{} events from {} records in {} inputs; generated {} UTC by kvwatch {}.\n",
        num(i.events),
        num(i.records),
        num(i.inputs),
        when(m.generated_at),
        md(&m.kvwatch_version)
    );
    let t = &m.totals;
    let _ = writeln!(out, "## Summary\n\n- {} incidents, {} alerts\n- {} hygiene findings\n- {} principals, {} vaults, {} events\n", num(t.incidents), num(t.alerts), num(m.findings.len() as u64), num(t.principals), num(t.vaults), num(t.events));
    chart(out, &m.overview);
}

/// Incidents, each with its alert revisions.
fn incidents(out: &mut String, m: &ReportModel) {
    let _ = writeln!(out, "## Incidents\n");
    if m.incidents.is_empty() {
        out.push_str("No alerts in the period.\n\n");
    }
    for inc in &m.incidents {
        let _ = writeln!(
            out,
            "### {} {} · {} on {}\n\n{} to {} · rules {} · `{}`\n\n{}\n",
            inc.severity.as_str().to_uppercase(),
            md(&inc.detector),
            md(&inc.principal_name),
            md(&inc.vault),
            when(inc.first_seen),
            when(inc.last_seen),
            md(&inc.rules.join(", ")),
            md(&inc.incident_id),
            md(&inc.summary)
        );
        for a in &inc.alerts {
            let _ = writeln!(
                out,
                "{}. {} ({}, {}): {}",
                a.revision,
                a.severity,
                md(&a.rule),
                when(a.last_seen),
                md(&a.summary)
            );
        }
        out.push('\n');
    }
}

/// The hygiene practices and each finding with its evidence.
fn hygiene(out: &mut String, m: &ReportModel) {
    let _ = writeln!(out, "## Hygiene findings\n");
    let rows: Vec<Vec<String>> = m
        .practices
        .iter()
        .map(|p| vec![p.title.to_owned(), num(p.findings)])
        .collect();
    table(out, &["Practice", "Findings"], &rows);
    for f in &m.findings {
        let _ = writeln!(
            out,
            "### {} {} · {}\n\n{}\n",
            f.severity.as_str().to_uppercase(),
            md(f.title),
            md(&f.subject.label()),
            md(&f.summary)
        );
        let _ = writeln!(
            out,
            "Practice: {}. Id: `{}`\n",
            f.practice.title(),
            md(&f.id)
        );
        if let Value::Object(map) = &f.evidence {
            for (k, v) in map {
                let _ = writeln!(
                    out,
                    "- {}: {}",
                    md(&k.replace('_', " ")),
                    md(&value_text(v))
                );
            }
        }
        out.push('\n');
    }
}

/// Notes on the data and how each check works.
fn notes(out: &mut String, m: &ReportModel) {
    let _ = writeln!(out, "## Notes and method\n");
    for n in &m.notes {
        let _ = writeln!(out, "- {}", md(n));
    }
    out.push('\n');
    let rows: Vec<Vec<String>> = m
        .checks
        .iter()
        .map(|c| {
            vec![
                format!("`{}`", c.id),
                c.title.to_owned(),
                c.practice.title().to_owned(),
                md(c.method),
            ]
        })
        .collect();
    table(out, &["Id", "Check", "Practice", "How"], &rows);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escaping_neutralises_links_html_and_cells() {
        let e = md("[x](javascript:1) <b>|*_`\u{202e}\nz");
        assert!(!e.contains("<b>") && e.contains("&lt;b&gt;"));
        assert!(
            e.contains("\\[x\\]\\(")
                && e.contains("\\|")
                && e.contains("\\*")
                && e.contains("\\\\u{202e}"),
            "{e}"
        );
        assert!(!e.contains('\n'));
    }
}
