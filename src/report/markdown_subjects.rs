//! The Markdown report's principals and vaults: the table of every principal, each
//! principal in detail, then each vault with its busiest principals and changes.
//!
//! Split from [`super::markdown`], which holds the other sections and the escaping
//! every record-derived string goes through ([`md`]).

use std::fmt::Write;

use super::html::{num, when};
use super::markdown::{chart, md, seen, table};
use super::model::{unchanged_writes, ReportModel};

/// The principals table, then each principal in detail.
pub(super) fn principals(out: &mut String, m: &ReportModel) {
    let _ = writeln!(out, "## Principals\n");
    let rows: Vec<Vec<String>> = m
        .principals
        .iter()
        .map(|p| &p.row)
        .chain(m.other_principals.iter())
        .map(|r| {
            vec![
                md(&r.name),
                r.kind.to_string(),
                num(r.requests),
                num(r.denied),
                num(r.alerts),
                num(r.findings),
            ]
        })
        .collect();
    table(
        out,
        &[
            "Principal",
            "Kind",
            "Requests",
            "Denied",
            "Alerts",
            "Findings",
        ],
        &rows,
    );
    for p in &m.principals {
        let r = &p.row;
        let _ = writeln!(
            out,
            "### {} ({})\n\nIdentity `{}` · {} requests, {} denied · {} to {}\n",
            md(&r.name),
            r.kind,
            md(&r.identity),
            num(r.requests),
            num(r.denied),
            when(r.first_seen),
            when(r.last_seen)
        );
        chart(out, &p.chart);
        if let Some([with, without, unknown]) = p.mfa {
            let _ = writeln!(out, "Sign-in: {with} requests with MFA, {without} without, {unknown} without an amr claim.\n");
        }
        let rows: Vec<Vec<String>> = p
            .vaults
            .items
            .iter()
            .map(|v| {
                vec![
                    md(&v.vault),
                    num(v.requests),
                    num(v.ok),
                    num(v.denied),
                    when(v.first),
                    when(v.last),
                ]
            })
            .collect();
        table(
            out,
            &["Vault", "Requests", "Served", "Denied", "First", "Last"],
            &rows,
        );
        seen(out, "Countries", &p.countries);
        seen(out, "Networks", &p.networks);
        seen(out, "Client apps (appid)", &p.apps);
        seen(out, "User agents", &p.user_agents);
        seen(out, "Objects", &p.objects);
    }
}

/// Each vault: activity, request classes, top principals, changes.
pub(super) fn vaults(out: &mut String, m: &ReportModel) {
    let _ = writeln!(out, "## Vaults\n");
    for v in &m.vaults {
        let _ = writeln!(
            out,
            "### {}\n\n{} requests · {} to {} · {} objects seen\n",
            md(&v.name),
            num(v.requests),
            when(v.first_seen),
            when(v.last_seen),
            num(v.objects)
        );
        chart(out, &v.chart);
        let rows: Vec<Vec<String>> = v
            .matrix
            .iter()
            .map(|r| {
                vec![
                    md(&r.class),
                    num(r.total),
                    num(r.by_outcome[0]),
                    num(r.total - r.by_outcome[0]),
                ]
            })
            .collect();
        table(out, &["Class", "All", "Served", "Not served"], &rows);
        let rows: Vec<Vec<String>> = v
            .top_principals
            .items
            .iter()
            .map(|t| vec![md(&t.name), num(t.requests), num(t.denied)])
            .collect();
        table(out, &["Top principal", "Requests", "Denied"], &rows);
        for c in &v.changes.items {
            let fields: Vec<String> = c
                .fields
                .iter()
                .map(|(k, b, a)| format!("{}: {} → {}", md(k), md(b), md(a)))
                .collect();
            let mut what = fields.join("; ");
            if let Some(e) = &c.added_policy {
                let _ = write!(
                    what,
                    " added policy for {}: {}",
                    md(e.object_id.as_deref().unwrap_or("?")),
                    md(&e.permissions.flat().join(", "))
                );
            }
            if let Some(e) = &c.removed_policy {
                let _ = write!(
                    what,
                    " removed policy for {}",
                    md(e.object_id.as_deref().unwrap_or("?"))
                );
            }
            let _ = writeln!(
                out,
                "- {} {} ({}): {}",
                when(c.time),
                md(&c.who),
                md(&c.operation),
                what
            );
        }
        if v.unchanged_writes > 0 {
            let _ = writeln!(out, "- {}", unchanged_writes(v.unchanged_writes));
        }
        out.push('\n');
    }
}
