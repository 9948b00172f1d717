//! The sections of the HTML report, in reading order: header and contents, summary,
//! incidents, hygiene findings, principals, vaults, notes and method.
//!
//! Each function appends one section to the page. Values from records go through
//! [`esc`] at the point they are written, never earlier, so no string reaches the
//! page twice-escaped or unescaped.

use std::fmt::Write;

use serde_json::Value;

use super::html::{anchor, badge, esc, legend, num, table, when};
use super::hygiene::Finding;
use super::model::{ChangeView, Listed, PrincipalView, ReportModel, SeenRow, VaultView};
use super::svg;
use crate::event::Outcome;

const CHART_W: u32 = 1000;

/// A principal's name, linked to its section when it has one.
fn principal_link(m: &ReportModel, identity: &str, name: &str) -> String {
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
fn vault_link(m: &ReportModel, vault: &str) -> String {
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
    out.push_str(&svg::activity(
        &m.overview,
        CHART_W,
        190,
        "All requests over the period, by operation class, with alerts marked",
    ));
    out.push_str(&legend(&m.overview));
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
fn value_text(v: &Value) -> String {
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

fn seen_table(title: &str, list: &Listed<SeenRow>) -> String {
    if list.items.is_empty() {
        return String::new();
    }
    let rows: Vec<Vec<String>> = list
        .items
        .iter()
        .map(|r| vec![esc(&r.name), num(r.count), when(r.first), when(r.last)])
        .collect();
    let more = if list.more > 0 {
        format!(r#"<p class="more">and {} more</p>"#, num(list.more))
    } else {
        String::new()
    };
    format!(
        "<div><h4>{title}</h4>{}{more}</div>",
        table(&["Name", "#Requests", "First seen", "Last seen"], &rows)
    )
}

fn principal_section(out: &mut String, m: &ReportModel, p: &PrincipalView) {
    let r = &p.row;
    let _ = write!(
        out,
        r#"<section class="principal" id="{}"><h3>{} <span class="kind">{}</span></h3><p class="meta">Identity <code>{}</code>{} · {} requests, {} denied · {} to {} · {} alerts · {} findings</p>"#,
        anchor("p", &r.identity),
        esc(&r.name),
        r.kind,
        esc(&r.identity),
        p.oid
            .as_ref()
            .filter(|o| **o != r.identity)
            .map(|o| format!(" · object id <code>{}</code>", esc(o)))
            .unwrap_or_default(),
        num(r.requests),
        num(r.denied),
        when(r.first_seen),
        when(r.last_seen),
        r.alerts,
        r.findings
    );
    out.push_str(&svg::activity(
        &p.chart,
        CHART_W,
        150,
        &format!("Requests by {} over the period", r.name),
    ));
    out.push_str(&legend(&p.chart));
    let counts = |c: &[super::model::Count]| {
        c.iter()
            .map(|c| format!("{} {}", esc(&c.label), num(c.count)))
            .collect::<Vec<_>>()
            .join(" · ")
    };
    let _ = write!(
        out,
        r#"<p>By class: {}<br>By outcome: {}</p>"#,
        counts(&p.by_class),
        counts(&p.by_outcome)
    );
    if let Some([with, without, unknown]) = p.mfa {
        let _ = write!(
            out,
            "<p>Sign-in: {} requests with MFA, {} without, {} without an amr claim.</p>",
            num(with),
            num(without),
            num(unknown)
        );
    }
    let links = |prefix: &str, ids: &[String]| {
        ids.iter()
            .map(|id| {
                format!(
                    r##"<a href="#{}"><code>{}</code></a>"##,
                    anchor(prefix, id),
                    esc(id)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !p.incident_ids.is_empty() {
        let _ = write!(out, "<p>Incidents: {}</p>", links("inc", &p.incident_ids));
    }
    if !p.finding_ids.is_empty() {
        let _ = write!(out, "<p>Findings: {}</p>", links("f", &p.finding_ids));
    }
    out.push_str(r#"<div class="grid2">"#);
    let rows: Vec<Vec<String>> = p
        .vaults
        .items
        .iter()
        .map(|v| {
            vec![
                vault_link(m, &v.vault),
                num(v.requests),
                num(v.ok),
                num(v.denied),
                when(v.first),
                when(v.last),
            ]
        })
        .collect();
    let _ = write!(
        out,
        "<div><h4>Vaults</h4>{}</div>",
        table(
            &["Vault", "#Requests", "#Served", "#Denied", "First", "Last"],
            &rows
        )
    );
    out.push_str(&seen_table("Countries", &p.countries));
    out.push_str(&seen_table("Networks", &p.networks));
    out.push_str(&seen_table("Client apps (appid)", &p.apps));
    out.push_str(&seen_table("User agents", &p.user_agents));
    out.push_str(&seen_table("Objects", &p.objects));
    out.push_str("</div></section>\n");
}

pub(super) fn principals(out: &mut String, m: &ReportModel) {
    out.push_str(r#"<section id="principals-section"><h2 id="principals">Principals</h2>"#);
    let rows: Vec<Vec<String>> = m
        .principals
        .iter()
        .map(|p| &p.row)
        .chain(m.other_principals.iter())
        .map(|r| {
            vec![
                principal_link(m, &r.identity, &r.name),
                r.kind.to_string(),
                num(r.requests),
                num(r.denied),
                num(r.alerts),
                num(r.findings),
                when(r.first_seen),
                when(r.last_seen),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "Principal",
            "Kind",
            "#Requests",
            "#Denied",
            "#Alerts",
            "#Findings",
            "First",
            "Last",
        ],
        &rows,
    ));
    if m.other_principals_more > 0 {
        let _ = write!(
            out,
            r#"<p class="more">{} more principals not listed.</p>"#,
            num(m.other_principals_more)
        );
    }
    for p in &m.principals {
        principal_section(out, m, p);
    }
    out.push_str("</section>\n");
}

fn change_row(m: &ReportModel, c: &ChangeView) -> Vec<String> {
    let mut what: Vec<String> = c
        .fields
        .iter()
        .map(|(k, b, a)| format!("<code>{}</code>: {} → <b>{}</b>", esc(k), esc(b), esc(a)))
        .collect();
    let policy = |label: &str, e: &crate::event::AccessPolicyEntry| {
        format!(
            "{label} access policy for <code>{}</code>: {}",
            esc(e.object_id.as_deref().unwrap_or("?")),
            esc(&e.permissions.flat().join(", "))
        )
    };
    if let Some(e) = &c.added_policy {
        what.push(policy("added", e));
    }
    if let Some(e) = &c.removed_policy {
        what.push(policy("removed", e));
    }
    vec![
        when(c.time),
        principal_link(m, &c.identity, &c.who),
        esc(&c.operation),
        what.join("<br>"),
    ]
}

fn vault_section(out: &mut String, m: &ReportModel, v: &VaultView) {
    let _ = write!(
        out,
        r#"<section class="vault" id="{}"><h3>{}</h3><p class="meta">{} requests · {} to {} · {} objects seen · {} incidents · {} findings</p>"#,
        anchor("v", &v.name),
        esc(&v.name),
        num(v.requests),
        when(v.first_seen),
        when(v.last_seen),
        num(v.objects),
        v.incident_ids.len(),
        v.finding_ids.len()
    );
    out.push_str(&svg::activity(
        &v.chart,
        CHART_W,
        150,
        &format!("Requests on {} over the period", v.name),
    ));
    out.push_str(&legend(&v.chart));
    let mut header = vec!["Class", "#All"];
    let used: Vec<Outcome> = Outcome::ALL
        .iter()
        .copied()
        .filter(|o| v.matrix.iter().any(|r| r.by_outcome[o.index()] > 0))
        .collect();
    let labels: Vec<String> = used
        .iter()
        .map(|o| format!("#{}", o.as_str().replace('_', " ")))
        .collect();
    header.extend(labels.iter().map(String::as_str));
    let rows: Vec<Vec<String>> = v
        .matrix
        .iter()
        .map(|r| {
            let mut row = vec![esc(&r.class), num(r.total)];
            row.extend(used.iter().map(|o| num(r.by_outcome[o.index()])));
            row
        })
        .collect();
    let _ = write!(
        out,
        "<h4>Operations by class and outcome</h4>{}",
        table(&header, &rows)
    );
    out.push_str(r#"<div class="grid2">"#);
    let rows: Vec<Vec<String>> = v
        .top_principals
        .items
        .iter()
        .map(|t| {
            vec![
                principal_link(m, &t.identity, &t.name),
                num(t.requests),
                num(t.denied),
            ]
        })
        .collect();
    let _ = write!(
        out,
        "<div><h4>Top principals</h4>{}</div>",
        table(&["Principal", "#Requests", "#Denied"], &rows)
    );
    match &v.config {
        Some((seen, c)) => {
            let acls = c.network_acls.as_ref();
            let yes = |b: Option<bool>| b.map_or("not stated".to_owned(), |b| if b { "on".into() } else { "off".into() });
            let rows = vec![
                vec!["Public network access".into(), esc(c.public_network_access.as_deref().unwrap_or("not stated (enabled)"))],
                vec!["Firewall default action".into(), esc(acls.map_or("no firewall (networkAcls null)", |a| a.default_action.as_deref().unwrap_or("not stated")))],
                vec!["Firewall rules".into(), format!("{} IP, {} virtual network", acls.map_or(0, |a| a.ip_rules.len()), acls.map_or(0, |a| a.virtual_network_rules.len()))],
                vec!["Soft delete".into(), format!("{} ({} days)", yes(c.enable_soft_delete), c.soft_delete_retention_days.map_or("?".into(), |d| d.to_string()))],
                vec!["Purge protection".into(), yes(c.enable_purge_protection)],
                vec!["RBAC authorisation".into(), yes(c.enable_rbac_authorization)],
            ];
            let _ = write!(out, "<div><h4>Configuration seen {}</h4>{}</div>", when(*seen), table(&["Setting", "Value"], &rows));
        }
        None => out.push_str(r#"<div><h4>Configuration</h4><p class="empty">No VaultGet, VaultPut or VaultPatch in the period: the configuration is unknown and not judged.</p></div>"#),
    }
    out.push_str("</div>");
    out.push_str("<h4>Access and configuration changes</h4>");
    if v.changes.items.is_empty() && v.unchanged_writes == 0 {
        out.push_str(r#"<p class="empty">None in the period.</p>"#);
    } else if v.changes.items.is_empty() {
        let _ = write!(
            out,
            r#"<p class="more">{}</p>"#,
            esc(&super::model::unchanged_writes(v.unchanged_writes))
        );
    } else {
        let rows: Vec<Vec<String>> = v.changes.items.iter().map(|c| change_row(m, c)).collect();
        out.push_str(&table(
            &["When", "Who", "Operation", "Before → after"],
            &rows,
        ));
        if v.changes.more > 0 {
            let _ = write!(
                out,
                r#"<p class="more">and {} more changes</p>"#,
                num(v.changes.more)
            );
        }
        if v.unchanged_writes > 0 {
            let _ = write!(
                out,
                r#"<p class="more">{}</p>"#,
                esc(&super::model::unchanged_writes(v.unchanged_writes))
            );
        }
    }
    out.push_str("</section>\n");
}

pub(super) fn vaults(out: &mut String, m: &ReportModel) {
    out.push_str(r#"<section id="vaults-section"><h2 id="vaults">Vaults</h2>"#);
    if m.vaults.is_empty() {
        out.push_str(r#"<p class="empty">No vaults.</p>"#);
    }
    for v in &m.vaults {
        vault_section(out, m, v);
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
