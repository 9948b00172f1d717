//! The sections of the HTML report, in reading order: header and contents, summary,
//! incidents, hygiene findings, principals ([`super::html_principals`]), vaults
//! ([`super::html_vaults`]), notes and method.
//!
//! Each function appends one section to the page. Values from records go through
//! [`esc`] at the point they are written, never earlier, so no string reaches the
//! page twice-escaped or unescaped.

use std::fmt::Write;

use serde_json::Value;

use super::html::{anchor, badge, esc, legend, num, table, when};
use super::hygiene::Finding;
use super::model::{Chart, ReportModel};
use super::svg;

pub(super) use super::html_principals::principals;
pub(super) use super::html_vaults::vaults;

/// The width of every chart, in SVG units.
const CHART_W: u32 = 1000;

/// An activity chart `height` units high, titled `title`, with its legend under it.
pub(super) fn activity_chart(out: &mut String, chart: &Chart, height: u32, title: &str) {
    out.push_str(&svg::activity(chart, CHART_W, height, title));
    out.push_str(&legend(chart));
}

/// A principal's name, linked to its section when it has one.
pub(super) fn principal_link(m: &ReportModel, identity: &str, name: &str) -> String {
    if m.principals.iter().any(|p| p.row.identity == identity) {
        format!(
            r##"<a href="#{}">{}</a>"##,
            anchor("p", identity),
            esc(name)
        )
    } else {
        esc(name)
    }
}

/// A vault's name, linked to its section when the report has one (a vault-spanning
/// incident says `*`; a capped report may leave rare vaults out).
pub(super) fn vault_link(m: &ReportModel, vault: &str) -> String {
    if m.vaults.iter().any(|v| v.name == vault) {
        format!(r##"<a href="#{}">{}</a>"##, anchor("v", vault), esc(vault))
    } else {
        esc(vault)
    }
}

pub(super) fn header(out: &mut String, m: &ReportModel) {
    let _ = write!(out, "<header>\n<h1>{}</h1>\n", esc(&m.title));
    match m.period {
        Some(p) => {
            let _ = write!(
                out,
                r#"<p class="meta">Period: <b>{}</b> to <b>{}</b> UTC ({:.1} days)</p>"#,
                when(p.start),
                when(p.end),
                p.days
            );
        }
        None => out.push_str(r#"<p class="meta">No events in the inputs.</p>"#),
    }
    let i = &m.inputs;
    let _ = write!(
        out,
        r#"<p class="meta">{} events from {} records in {} inputs ({} rejected, {} skipped, {} duplicates, {} outside the scope{})</p>"#,
        num(i.events),
        num(i.records),
        num(i.inputs),
        num(i.rejected),
        num(i.skipped),
        num(i.duplicates),
        num(i.filtered),
        if i.unreadable_inputs > 0 {
            format!(", {} unreadable inputs", num(i.unreadable_inputs))
        } else {
            String::new()
        }
    );
    let s = &m.scope;
    let mut scope = Vec::new();
    if let Some(t) = s.since {
        scope.push(format!("since {}", when(t)));
    }
    if let Some(t) = s.until {
        scope.push(format!("until {}", when(t)));
    }
    if !s.vaults.is_empty() {
        scope.push(format!("vaults {}", esc(&s.vaults.join(", "))));
    }
    if !s.principals.is_empty() {
        scope.push(format!("principals {}", esc(&s.principals.join(", "))));
    }
    if !scope.is_empty() {
        let _ = write!(out, r#"<p class="meta">Scope: {}</p>"#, scope.join("; "));
    }
    out.push_str("</header>\n");
}

pub(super) fn toc(out: &mut String, m: &ReportModel) {
    let _ = write!(
        out,
        r##"<nav class="toc"><h2>Contents</h2><ol><li><a href="#summary">Summary</a></li><li><a href="#incidents">Incidents ({})</a></li><li><a href="#findings">Hygiene findings ({})</a></li><li><a href="#principals">Principals ({})</a><ol>"##,
        m.incidents.len(),
        m.findings.len(),
        m.principals.len() + m.other_principals.len()
    );
    for p in &m.principals {
        let _ = write!(
            out,
            r##"<li><a href="#{}">{}</a></li>"##,
            anchor("p", &p.row.identity),
            esc(&p.row.name)
        );
    }
    let _ = write!(
        out,
        r##"</ol></li><li><a href="#vaults">Vaults ({})</a><ol>"##,
        m.vaults.len()
    );
    for v in &m.vaults {
        let _ = write!(
            out,
            r##"<li><a href="#{}">{}</a></li>"##,
            anchor("v", &v.name),
            esc(&v.name)
        );
    }
    out.push_str(r##"</ol></li><li><a href="#notes">Notes and method</a></li></ol></nav>"##);
    out.push('\n');
}

pub(super) fn summary(out: &mut String, m: &ReportModel) {
    out.push_str(r#"<section id="summary"><h2>Summary</h2><div class="cards">"#);
    let t = &m.totals;
    let urgent = m
        .incidents
        .iter()
        .filter(|i| i.severity >= crate::alert::Severity::High)
        .count();
    let sev = |s: &str| t.findings_by_severity.get(s).copied().unwrap_or(0);
    let cards = [
        (
            num(t.incidents),
            format!("incidents, {urgent} high or critical"),
        ),
        (num(t.alerts), "alerts (revisions included)".to_owned()),
        (
            num(m.findings.len() as u64),
            format!(
                "hygiene findings, {} high or critical",
                sev("high") + sev("critical")
            ),
        ),
        (num(t.principals), "principals".to_owned()),
        (num(t.vaults), "vaults".to_owned()),
        (
            num(t.events),
            format!("events ({} SDK challenges)", num(t.challenges)),
        ),
    ];
    for (big, small) in cards {
        let _ = write!(
            out,
            r#"<div class="card"><b>{big}</b><span>{small}</span></div>"#
        );
    }
    out.push_str("</div><h3>Activity over the period</h3>");
    activity_chart(
        out,
        &m.overview,
        190,
        "All requests over the period, by operation class, with alerts marked",
    );
    let top: Vec<&Finding> = m
        .findings
        .iter()
        .filter(|f| f.severity >= crate::alert::Severity::Medium)
        .take(8)
        .collect();
    if !top.is_empty() {
        out.push_str("<h3>Most urgent findings</h3><ul>");
        for f in top {
            let _ = write!(
                out,
                r##"<li>{} <a href="#{}">{}</a>: {}</li>"##,
                badge(f.severity),
                anchor("f", &f.id),
                esc(f.title),
                esc(&f.subject.label())
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>\n");
}

pub(super) fn incidents(out: &mut String, m: &ReportModel) {
    out.push_str(r#"<section id="incidents"><h2>Incidents</h2>"#);
    let Some(period) = m.period.filter(|_| !m.incidents.is_empty()) else {
        out.push_str(r#"<p class="empty">No alerts in the period.</p></section>"#);
        return;
    };
    out.push_str(r#"<p class="muted">Alerts are grouped into incidents (same detector, identity and vault, close in time); each bar runs from an incident's first to its last event, ticks are its alerts.</p>"#);
    out.push_str(&svg::timeline(&period, &m.incidents, CHART_W, 60));
    for i in &m.incidents {
        let _ = write!(
            out,
            r##"<article id="{}" class="sev-{}"><p>{} <b>{}</b> · {} · {} on {} · {} to {}</p><p>{}</p><ol class="revs">"##,
            anchor("inc", &i.incident_id),
            i.severity,
            badge(i.severity),
            esc(&i.detector),
            esc(&i.rules.join(", ")),
            principal_link(m, &i.identity, &i.principal_name),
            vault_link(m, &i.vault),
            when(i.first_seen),
            when(i.last_seen),
            esc(&i.summary)
        );
        for a in &i.alerts {
            let _ = write!(
                out,
                "<li>{} revision {} ({}, {}): {}</li>",
                badge(a.severity),
                a.revision,
                esc(&a.rule),
                when(a.last_seen),
                esc(&a.summary)
            );
        }
        let _ = write!(
            out,
            r#"</ol><p class="muted mono">{}</p></article>"#,
            esc(&i.incident_id)
        );
    }
    out.push_str("</section>\n");
}

/// An evidence value as text.
pub(super) fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "—".to_owned(),
        Value::String(s) => match chrono::DateTime::parse_from_rfc3339(s) {
            Ok(t) => format!("{} UTC", when(t.with_timezone(&chrono::Utc))),
            Err(_) => s.clone(),
        },
        Value::Array(items) if items.is_empty() => "none".to_owned(),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

pub(super) fn findings(out: &mut String, m: &ReportModel) {
    out.push_str(r#"<section id="findings"><h2>Hygiene findings</h2><p class="muted">Key Vault best practices checked against the same audit log. Each finding names its practice, its evidence and a stable id that stays the same from one report to the next.</p>"#);
    let rows: Vec<Vec<String>> = m
        .practices
        .iter()
        .map(|p| {
            vec![
                format!(
                    r##"<a href="#{}">{}</a>"##,
                    anchor("practice", p.practice.id()),
                    p.title
                ),
                num(p.findings),
                p.guidance.to_owned(),
            ]
        })
        .collect();
    out.push_str(&table(&["Practice", "#Findings", "What it asks"], &rows));
    for p in &m.practices {
        let _ = write!(
            out,
            r#"<h3 id="{}">{} ({})</h3>"#,
            anchor("practice", p.practice.id()),
            p.title,
            p.findings
        );
        let mut any = false;
        for f in m.findings.iter().filter(|f| f.practice == p.practice) {
            any = true;
            let _ = write!(
                out,
                r#"<article id="{}" class="sev-{}"><p>{} <b>{}</b> · {}</p><p>{}</p><dl class="ev">"#,
                anchor("f", &f.id),
                f.severity,
                badge(f.severity),
                esc(f.title),
                esc(&f.subject.label()),
                esc(&f.summary)
            );
            if let Value::Object(map) = &f.evidence {
                for (k, v) in map {
                    let _ = write!(
                        out,
                        "<dt>{}</dt><dd>{}</dd>",
                        esc(&k.replace('_', " ")),
                        esc(&value_text(v))
                    );
                }
            }
            let _ = write!(
                out,
                r#"</dl><p class="muted mono">{}</p></article>"#,
                esc(&f.id)
            );
        }
        if !any {
            out.push_str(r#"<p class="empty">Nothing found.</p>"#);
        }
    }
    out.push_str("</section>\n");
}

pub(super) fn notes(out: &mut String, m: &ReportModel) {
    out.push_str(r#"<section id="notes"><h2>Notes and method</h2><ul class="notes">"#);
    for n in &m.notes {
        let _ = write!(out, "<li>{}</li>", esc(n));
    }
    out.push_str("</ul><h3>Checks</h3>");
    let rows: Vec<Vec<String>> = m
        .checks
        .iter()
        .map(|c| {
            vec![
                format!("<code>{}</code>", c.id),
                c.title.to_owned(),
                c.practice.title().to_owned(),
                esc(c.method),
            ]
        })
        .collect();
    out.push_str(&table(&["Id", "Check", "Practice", "How"], &rows));
    out.push_str("</section>\n");
}
