//! From collected aggregates and alerts to the [`ReportModel`]: choosing which
//! principals get sections, grouping alerts into incidents, running the hygiene
//! checks, narrowing to `--principal`, and writing down the report's own limits.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};

use super::collect::Collected;
use super::hygiene::{self, Context, Finding, Practice};
use super::model::*;
use super::series::Series;
use super::stats::{AlertMark, Capped, PrincipalStats, Seen};
use crate::alert::{Alert, Severity};
use crate::config::ReportConfig;
use crate::event::{OperationClass, Outcome, PrincipalKind, VaultConfig};

/// The most rows in the "other principals" table.
const MAX_OTHER_ROWS: usize = 300;
/// The most items in any list of a section.
const LIST: usize = 15;

/// What the report is built from besides the collected aggregates.
#[derive(Debug, Clone)]
pub struct Build<'a> {
    /// The thresholds and caps.
    pub config: &'a ReportConfig,
    /// The alerts of the run, in delivery order.
    pub alerts: Vec<Alert>,
    /// What was read.
    pub inputs: Inputs,
    /// The narrowing asked for.
    pub scope: Scope,
    /// The wall-clock time to stamp.
    pub generated_at: DateTime<Utc>,
}

/// Builds the report.
pub fn build(c: &mut Collected, b: Build<'_>) -> ReportModel {
    let period = match (c.first, c.last) {
        (Some(start), Some(end)) => Some(Period {
            start,
            end,
            days: (end - start).num_seconds() as f64 / 86_400.0,
        }),
        _ => None,
    };
    let mut findings = match period {
        Some(p) => hygiene::run(
            c,
            &Context {
                start: p.start,
                end: p.end,
                config: b.config,
            },
        ),
        None => Vec::new(),
    };
    let mut incidents = incidents(&b.alerts, c);
    let selected = select(c, &b.scope.principals);
    if let Some(sel) = &selected {
        let touched = vaults_touched(c, sel);
        incidents.retain(|i| sel.contains(i.identity.as_str()));
        findings.retain(|f| match (&f.subject.principal, &f.subject.vault) {
            (Some(p), _) => sel.contains(p.as_str()),
            (None, Some(v)) => touched.contains(v.as_str()),
            (None, None) => false,
        });
    }
    let charting = Charting {
        grid: c.grid,
        len: match (c.grid, c.last) {
            (Some(g), Some(last)) => g.buckets_to(last),
            _ => 0,
        },
        // Marks link to incidents: keep only those of incidents in the report.
        kept: incidents.iter().map(|i| i.incident_id.clone()).collect(),
    };
    let overview = charting.chart(&mut c.overall, &c.marks);
    let sections = if selected.is_some() {
        usize::MAX
    } else {
        b.config.principal_sections
    };
    let people = principal_sections(
        c,
        &charting,
        selected.as_ref(),
        &findings,
        &incidents,
        sections,
    );
    let touched = selected.as_ref().map(|s| vaults_touched(c, s));
    let vaults = vault_views(c, &charting, touched.as_ref(), &findings, &incidents);

    let mut by_severity = BTreeMap::new();
    for s in Severity::ALL {
        by_severity.insert(
            s.as_str().to_owned(),
            findings.iter().filter(|f| f.severity == s).count() as u64,
        );
    }
    let practices = Practice::ALL
        .iter()
        .map(|p| PracticeView {
            practice: *p,
            title: p.title(),
            guidance: p.guidance(),
            findings: findings.iter().filter(|f| f.practice == *p).count() as u64,
        })
        .collect();
    let notes = notes(c, period.as_ref(), b.config);
    ReportModel {
        title: "Key Vault activity and hygiene report".to_owned(),
        kvwatch_version: env!("CARGO_PKG_VERSION").to_owned(),
        generated_at: b.generated_at,
        period,
        scope: b.scope,
        inputs: b.inputs,
        totals: Totals {
            events: c.events,
            challenges: c.challenges,
            principals: c.principals.len() as u64 + c.principals.more,
            vaults: c.vaults.len() as u64,
            alerts: b.alerts.len() as u64,
            incidents: incidents.len() as u64,
            findings_by_severity: by_severity,
        },
        overview,
        incidents,
        findings,
        practices,
        checks: hygiene::catalogue(),
        principals: people.sections,
        other_principals: people.others,
        other_principals_more: people.more,
        vaults,
        notes,
    }
}

/// How a series becomes a chart: the report's one time grid and length, and the
/// incidents whose alert marks are kept (a mark links to an incident in the report).
struct Charting {
    grid: Option<super::series::Grid>,
    len: usize,
    kept: HashSet<String>,
}

impl Charting {
    fn chart(&self, series: &mut Series, marks: &[AlertMark]) -> Chart {
        match self.grid {
            Some(g) => Chart {
                start: Some(g.origin()),
                bucket_seconds: g.width(),
                buckets: series.dense(&g, self.len),
                marks: marks
                    .iter()
                    .filter(|m| self.kept.contains(&m.incident_id))
                    .map(chart_mark)
                    .collect(),
            },
            None => Chart::default(),
        }
    }
}

/// The vaults the given principals used.
fn vaults_touched(c: &Collected, principals: &HashSet<String>) -> HashSet<String> {
    principals
        .iter()
        .filter_map(|id| c.principals.map.get(id))
        .flat_map(|p| p.vaults.map.keys().cloned())
        .collect()
}

/// The principals with a section of their own, and the rest as table rows.
struct PrincipalSections {
    sections: Vec<PrincipalView>,
    others: Vec<PrincipalRow>,
    more: u64,
}

/// Ranks the principals (the selected ones, or all): those with alerts first, then
/// findings, then the busiest; the first `sections` get a section, the next ones a row.
fn principal_sections(
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

/// Every vault (or those `touched` by the selected principals), by name.
fn vault_views(
    c: &mut Collected,
    charting: &Charting,
    touched: Option<&HashSet<String>>,
    findings: &[Finding],
    incidents: &[IncidentView],
) -> Vec<VaultView> {
    let names: BTreeMap<String, String> = c
        .principals
        .map
        .iter()
        .map(|(k, p)| (k.clone(), p.display_name().to_owned()))
        .collect();
    let mut vault_names: Vec<String> = c
        .vaults
        .map
        .keys()
        .filter(|v| touched.is_none_or(|t| t.contains(*v)))
        .cloned()
        .collect();
    vault_names.sort();
    let mut vaults = Vec::new();
    for name in vault_names {
        let Some(v) = c.vaults.map.get_mut(&name) else {
            continue;
        };
        let ch = charting.chart(&mut v.series, &v.alerts);
        vaults.push(vault_view(name, v, ch, &names, findings, incidents));
    }
    vaults
}

/// One vault's section: its activity, request classes, top principals and changes.
fn vault_view(
    name: String,
    v: &super::stats::VaultStats,
    chart: Chart,
    names: &BTreeMap<String, String>,
    findings: &[Finding],
    incidents: &[IncidentView],
) -> VaultView {
    let display = |id: &String| names.get(id).cloned().unwrap_or_else(|| id.clone());
    let mut top: Vec<(&String, &super::stats::PrincipalOnVault)> =
        v.principals.map.iter().collect();
    top.sort_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(b.0)));
    let top_principals = Listed {
        more: (top.len().saturating_sub(LIST)) as u64 + v.principals.more,
        items: top
            .into_iter()
            .take(LIST)
            .map(|(id, pv)| TopPrincipal {
                identity: id.clone(),
                name: display(id),
                requests: pv.count,
                denied: pv.denied,
            })
            .collect(),
    };
    let changes = Listed {
        more: v.changes_more,
        items: v
            .changes
            .iter()
            .map(|ch| ChangeView {
                time: ch.time,
                who: display(&ch.identity),
                identity: ch.identity.clone(),
                operation: ch.operation.clone(),
                fields: diff(ch.before.as_ref(), ch.after.as_ref())
                    .into_iter()
                    .chain(ch.control.clone())
                    .collect(),
                added_policy: ch.policy.as_ref().and_then(|p| p.added.clone()),
                removed_policy: ch.policy.as_ref().and_then(|p| p.removed.clone()),
            })
            .collect(),
    };
    let matrix = OperationClass::ALL
        .iter()
        .map(|cl| ClassRow {
            class: cl.as_str().to_owned(),
            total: v.matrix[cl.index()].iter().sum(),
            by_outcome: v.matrix[cl.index()].to_vec(),
        })
        .filter(|r| r.total > 0)
        .collect();
    VaultView {
        finding_ids: findings
            .iter()
            .filter(|f| f.subject.vault.as_deref() == Some(name.as_str()))
            .map(|f| f.id.clone())
            .collect(),
        incident_ids: incidents
            .iter()
            .filter(|i| i.vault == name)
            .map(|i| i.incident_id.clone())
            .collect(),
        name,
        requests: v.seen.count,
        first_seen: v.seen.first,
        last_seen: v.seen.last,
        matrix,
        chart,
        top_principals,
        config: v.last_config.clone(),
        changes,
        unchanged_writes: v.unchanged_writes,
        objects: v.objects.len() as u64 + v.objects.more,
    }
}

/// The identities `--principal` names (by identity, object id, UPN or app id).
fn select(c: &Collected, wanted: &[String]) -> Option<HashSet<String>> {
    if wanted.is_empty() {
        return None;
    }
    let wanted: Vec<String> = wanted.iter().map(|w| w.trim().to_lowercase()).collect();
    let hit = |s: &str| wanted.iter().any(|w| w == &s.to_lowercase());
    Some(
        c.principals
            .map
            .iter()
            .filter(|(id, p)| {
                hit(id)
                    || p.upn.as_deref().is_some_and(hit)
                    || p.oid.as_deref().is_some_and(hit)
                    || p.apps.map.keys().any(|a| hit(a))
            })
            .map(|(id, _)| id.clone())
            .collect(),
    )
}

fn chart_mark(m: &AlertMark) -> ChartMark {
    ChartMark {
        time: m.time,
        severity: m.severity,
        label: m.detector.clone(),
        incident_id: m.incident_id.clone(),
    }
}

fn incidents(alerts: &[Alert], c: &Collected) -> Vec<IncidentView> {
    let mut order: Vec<String> = Vec::new();
    let mut by_id: BTreeMap<String, Vec<Alert>> = BTreeMap::new();
    for a in alerts {
        if !by_id.contains_key(&a.incident_id) {
            order.push(a.incident_id.clone());
        }
        by_id
            .entry(a.incident_id.clone())
            .or_default()
            .push(a.clone());
    }
    let mut out: Vec<IncidentView> = order
        .into_iter()
        .filter_map(|id| by_id.remove(&id))
        .filter_map(|mut alerts| {
            alerts.sort_by_key(|a| a.revision);
            let last = alerts.last()?.clone();
            let first = alerts.first()?;
            let mut rules: Vec<String> = Vec::new();
            for a in &alerts {
                if !rules.contains(&a.rule) {
                    rules.push(a.rule.clone());
                }
            }
            Some(IncidentView {
                incident_id: last.incident_id.clone(),
                detector: last.detector.clone(),
                rules,
                severity: alerts
                    .iter()
                    .map(|a| a.severity)
                    .max()
                    .unwrap_or(last.severity),
                principal_name: c.principals.map.get(&last.identity).map_or_else(
                    || last.principal.display_name().to_owned(),
                    |p| p.display_name().to_owned(),
                ),
                identity: last.identity.clone(),
                vault: last.vault.clone(),
                first_seen: first.first_seen.min(last.first_seen),
                last_seen: alerts
                    .iter()
                    .map(|a| a.last_seen)
                    .max()
                    .unwrap_or(last.last_seen),
                summary: last.summary.clone(),
                alerts,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        a.first_seen
            .cmp(&b.first_seen)
            .then_with(|| a.incident_id.cmp(&b.incident_id))
    });
    out
}

fn row(p: &PrincipalStats, findings: u64) -> PrincipalRow {
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

/// The settings that differ between two configurations: (dotted key, before, after).
pub fn diff(
    before: Option<&VaultConfig>,
    after: Option<&VaultConfig>,
) -> Vec<(String, String, String)> {
    let (Some(before), Some(after)) = (before, after) else {
        return Vec::new();
    };
    let mut a = BTreeMap::new();
    let mut b = BTreeMap::new();
    flatten(
        "",
        &serde_json::to_value(before).unwrap_or_default(),
        &mut b,
    );
    flatten("", &serde_json::to_value(after).unwrap_or_default(), &mut a);
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            (
                k.clone(),
                b.get(k).cloned().unwrap_or_else(|| "(absent)".into()),
                a.get(k).cloned().unwrap_or_else(|| "(absent)".into()),
            )
        })
        .collect()
}

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        serde_json::Value::Array(items) => {
            out.insert(
                prefix.to_owned(),
                items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        }
        serde_json::Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

fn notes(c: &Collected, period: Option<&Period>, config: &ReportConfig) -> Vec<String> {
    let mut notes = Vec::new();
    let Some(period) = period else {
        notes.push(
            "No events were read: check the paths and the --since, --until and --vault filters."
                .to_owned(),
        );
        return notes;
    };
    let span = period.end - period.start;
    if let Some(first) = config.rotation_tiers.first() {
        if span < first.as_chrono() {
            notes.push(format!(
                "Rotation: the period covers {} days, less than the first rotation tier ({} days). Objects not written in the period were last written at least {} days ago, which is not enough to call them overdue; replay a longer period to judge rotation.",
                span.num_days(),
                first.as_chrono().num_days(),
                span.num_days()
            ));
        }
    }
    if span < config.review_min_period.as_chrono() {
        notes.push(format!("Unused objects are not judged: the period is shorter than [report] review_min_period ({} days).", config.review_min_period.as_chrono().num_days()));
    }
    if span <= config.dormant_after.as_chrono() {
        notes.push(format!("Dormant principals are not judged: the period is not longer than [report] dormant_after ({} days).", config.dormant_after.as_chrono().num_days()));
    }
    if !c.has_geoip {
        notes.push("No GeoIP database was given (--geoip or [geoip] database): places are address classes and network prefixes, not countries.".to_owned());
    }
    if c.principals.more > 0 {
        notes.push(format!("{} requests came from principals beyond [report] max_principals; they are counted in vault totals only.", c.principals.more));
    }
    let objects_more: u64 = c.vaults.map.values().map(|v| v.objects.more).sum();
    if objects_more > 0 {
        notes.push(format!("{objects_more} requests named objects beyond [report] max_objects_per_vault; those objects are not judged."));
    }
    notes.push("Access grants come from access-policy changes in VaultPut/VaultPatch records and, when the Azure Activity Log is given with the audit logs, from role assignments on each vault; assignments at a resource group, subscription or management group reach many vaults: they are judged by the rbac.* hygiene checks (with the vaults each reaches, as far as the Activity Log located them) and alerted by control_plane, not listed per vault.".to_owned());
    if c.rbac.more > 0 {
        notes.push(format!(
            "{} role assignments beyond the {} kept were not judged.",
            c.rbac.more,
            crate::report::assignments::MAX_ASSIGNMENTS
        ));
    }
    notes
}
