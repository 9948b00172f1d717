//! The principals' sections of the HTML report: one section per principal with a
//! section of its own (chart, counts, vaults, places, apps, user agents, objects),
//! then one table of every principal.
//!
//! Split from [`super::html_sections`], which holds the other sections and the
//! helpers they share. Record values go through [`esc`] where they are written.

use std::fmt::Write;

use super::html::{anchor, esc, num, table, when};
use super::html_sections::{activity_chart, principal_link, vault_link};
use super::model::{Listed, PrincipalView, ReportModel, SeenRow};

/// A capped list as a table, with "and N more" under it.
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

/// One principal's section.
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
    activity_chart(
        out,
        &p.chart,
        150,
        &format!("Requests by {} over the period", r.name),
    );
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

/// The principals' sections and the table of them all.
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
