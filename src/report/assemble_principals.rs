//! The principals' part of the report model: which principals get a section (those
//! with alerts first, then findings, then the busiest), each section's lists, and
//! the rows of the others.
//!
//! Split from [`super::assemble`], which builds the whole model.

use std::collections::HashSet;

use super::assemble::{Charting, LIST, MAX_OTHER_ROWS};
use super::collect::Collected;
use super::hygiene::Finding;
use super::model::*;
use super::stats::{Capped, PrincipalStats, Seen};
use crate::event::{OperationClass, Outcome, PrincipalKind};

/// The principals with a section of their own, and the rest as table rows.
pub(super) struct PrincipalSections {
    /// The principals with a section, in rank order.
    pub(super) sections: Vec<PrincipalView>,
    /// The next ones, as table rows.
    pub(super) others: Vec<PrincipalRow>,
    /// Principals left out of both.
    pub(super) more: u64,
}

/// Ranks the principals (the selected ones, or all): those with alerts first, then
/// findings, then the busiest; the first `sections` get a section, the next ones a row.
pub(super) fn principal_sections(
    c: &mut Collected,
    charting: &Charting,
    selected: Option<&HashSet<String>>,
    findings: &[Finding],
    incidents: &[IncidentView],
    sections: usize,
) -> PrincipalSections {
    let finding_count = |identity: &str| {
        findings
            .iter()
            .filter(|f| f.subject.principal.as_deref() == Some(identity))
            .count() as u64
    };
    let mut ranked: Vec<(&String, u64, u64, u64)> = c
        .principals
        .map
        .iter()
        .filter(|(id, _)| selected.is_none_or(|s| s.contains(id.as_str())))
        .map(|(id, p)| (id, p.alerts.len() as u64, finding_count(id), p.seen.count))
        .collect();
    ranked.sort_by(|a, b| {
        (b.1, b.2, b.3)
            .cmp(&(a.1, a.2, a.3))
            .then_with(|| a.0.cmp(b.0))
    });
    let sections = sections.min(ranked.len());
    let section_ids: Vec<String> = ranked.iter().take(sections).map(|r| r.0.clone()).collect();
    let others: Vec<PrincipalRow> = ranked
        .iter()
        .skip(sections)
        .take(MAX_OTHER_ROWS)
        .filter_map(|r| c.principals.map.get(r.0).map(|p| row(p, r.2)))
        .collect();
    let more = (ranked.len().saturating_sub(sections + MAX_OTHER_ROWS)) as u64 + c.principals.more;
    let mut views = Vec::new();
    for id in &section_ids {
        let Some(p) = c.principals.map.get_mut(id) else {
            continue;
        };
        let ch = charting.chart(&mut p.series, &p.alerts);
        views.push(principal_view(p, ch, findings, incidents));
    }
    PrincipalSections {
        sections: views,
        others,
        more,
    }
}

/// A principal's row in the "other principals" table.
pub(super) fn row(p: &PrincipalStats, findings: u64) -> PrincipalRow {
    PrincipalRow {
        identity: p.identity.clone(),
        name: p.display_name().to_owned(),
        kind: p.kind,
        requests: p.seen.count,
        denied: p.denials.seen.map_or(0, |s| s.count),
        first_seen: p.seen.first,
        last_seen: p.seen.last,
        alerts: p.alerts.len() as u64,
        findings,
    }
}

/// The first [`LIST`] items of a capped list, most seen first.
fn listed(map: &Capped<String, Seen>) -> Listed<SeenRow> {
    Listed {
        items: map
            .top(LIST)
            .into_iter()
            .map(|(k, s)| SeenRow {
                name: k.to_owned(),
                count: s.count,
                first: s.first,
                last: s.last,
            })
            .collect(),
        more: (map.len().saturating_sub(LIST)) as u64 + map.more,
    }
}

/// One principal's section: what it did, on which vaults, from where, with what.
fn principal_view(
    p: &PrincipalStats,
    chart: Chart,
    findings: &[Finding],
    incidents: &[IncidentView],
) -> PrincipalView {
    let finding_ids: Vec<String> = findings
        .iter()
        .filter(|f| f.subject.principal.as_deref() == Some(p.identity.as_str()))
        .map(|f| f.id.clone())
        .collect();
    let mut vaults: Vec<VaultUseRow> = p
        .vaults
        .map
        .iter()
        .map(|(v, u)| VaultUseRow {
            vault: v.clone(),
            requests: u.seen.count,
            ok: u.ok,
            denied: u.denied,
            first: u.seen.first,
            last: u.seen.last,
        })
        .collect();
    vaults.sort_by(|a, b| {
        b.requests
            .cmp(&a.requests)
            .then_with(|| a.vault.cmp(&b.vault))
    });
    let vault_more = (vaults.len().saturating_sub(LIST)) as u64 + p.vaults.more;
    vaults.truncate(LIST);
    PrincipalView {
        row: row(p, finding_ids.len() as u64),
        upn: p.upn.clone(),
        oid: p.oid.clone(),
        by_class: OperationClass::ALL
            .iter()
            .filter(|c| p.by_class[c.index()] > 0)
            .map(|c| Count {
                label: c.as_str().to_owned(),
                count: p.by_class[c.index()],
            })
            .collect(),
        by_outcome: Outcome::ALL
            .iter()
            .filter(|o| p.by_outcome[o.index()] > 0)
            .map(|o| Count {
                label: o.as_str().to_owned(),
                count: p.by_outcome[o.index()],
            })
            .collect(),
        chart,
        vaults: Listed {
            items: vaults,
            more: vault_more,
        },
        objects: listed(&p.objects),
        countries: listed(&p.places),
        networks: listed(&p.networks),
        apps: listed(&p.apps),
        user_agents: listed(&p.user_agents),
        mfa: (p.kind == PrincipalKind::User).then_some([p.mfa.with, p.mfa.without, p.mfa.unknown]),
        finding_ids,
        incident_ids: incidents
            .iter()
            .filter(|i| i.identity == p.identity)
            .map(|i| i.incident_id.clone())
            .collect(),
    }
}
