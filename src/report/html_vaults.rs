//! The vaults' sections of the HTML report: per vault its chart, request classes,
//! busiest principals, configuration and changes.
//!
//! Split from [`super::html_sections`], which holds the other sections and the
//! helpers they share. Record values go through [`esc`] where they are written.

use std::fmt::Write;

use super::html::{anchor, esc, num, table, when};
use super::html_sections::{activity_chart, principal_link};
use super::model::{ChangeView, ReportModel, VaultView};
use crate::event::Outcome;

/// A change as a table row: when, who, what, and the settings that differ.
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

/// One vault's section.
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
    activity_chart(
        out,
        &v.chart,
        150,
        &format!("Requests on {} over the period", v.name),
    );
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

/// The vaults' sections.
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
