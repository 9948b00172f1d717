//! From collected aggregates and alerts to the [`ReportModel`]: choosing which
//! principals get sections, grouping alerts into incidents, running the hygiene
//! checks, narrowing to `--principal`, and writing down the report's own limits.
//! The principals' sections are laid out in [`super::assemble_principals`], the
//! vaults' in [`super::assemble_vaults`].

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};

use super::assemble_principals::principal_sections;
use super::assemble_vaults::vault_views;
use super::collect::Collected;
use super::hygiene::{self, Context, Practice};
use super::model::*;
use super::series::Series;
use super::stats::AlertMark;
use crate::alert::{Alert, Severity};
use crate::config::ReportConfig;
use crate::event::roles::RoleCatalog;

pub use super::assemble_vaults::diff;

/// The most rows in the "other principals" table.
pub(super) const MAX_OTHER_ROWS: usize = 300;
/// The most items in any list of a section.
pub(super) const LIST: usize = 15;

/// What the report is built from besides the collected aggregates.
#[derive(Debug, Clone)]
pub struct Build<'a> {
    /// The thresholds and caps.
    pub config: &'a ReportConfig,
    /// The roles file role assignments are judged by.
    pub roles: &'a RoleCatalog,
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
                roles: b.roles,
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
pub(super) struct Charting {
    /// The report's time grid (`None`: no events).
    pub(super) grid: Option<super::series::Grid>,
    /// Buckets in every chart.
    pub(super) len: usize,
    /// The incidents whose marks are kept.
    pub(super) kept: HashSet<String>,
}

impl Charting {
    /// The chart of `series` with the kept `marks`.
    pub(super) fn chart(&self, series: &mut Series, marks: &[AlertMark]) -> Chart {
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
