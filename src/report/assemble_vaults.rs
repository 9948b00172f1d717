//! The vaults' part of the report model: one section per vault, with its activity,
//! request classes, busiest principals, and configuration changes shown as the
//! settings that differ.
//!
//! Split from [`super::assemble`], which builds the whole model.

use std::collections::{BTreeMap, HashSet};

use super::assemble::{Charting, LIST};
use super::collect::Collected;
use super::hygiene::Finding;
use super::model::*;
use crate::event::{OperationClass, VaultConfig};

/// Every vault (or those `touched` by the selected principals), by name.
pub(super) fn vault_views(
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
