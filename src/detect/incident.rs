//! Incidents, not floods: findings about the same detector, identity and vault join
//! one open incident; only its first finding and its escalations become alerts.
//!
//! An incident stays open while findings keep coming within `gap` of event time.
//! A later finding escalates it (a new alert revision) when it is more severe, or
//! when it is new evidence: a rule the incident has not seen yet. Everything else
//! extends the incident silently (its `last_seen` and finding count grow).

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};

use super::finding::Finding;
use crate::alert::{id, Alert, Severity};

/// How findings group into incidents.
#[derive(Debug, Clone, Copy)]
pub struct IncidentPolicy {
    /// Findings further apart than this (event time) open separate incidents.
    pub gap: Duration,
}

impl Default for IncidentPolicy {
    fn default() -> Self {
        IncidentPolicy {
            gap: Duration::hours(1),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    detector: &'static str,
    identity: String,
    vault: String,
    group: String,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Incident {
    id: String,
    revision: u32,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    severity: Severity,
    rules: BTreeSet<String>,
    findings: u64,
}

/// The open incidents.
pub struct Incidents {
    policy: IncidentPolicy,
    open: HashMap<Key, Incident>,
}

impl Incidents {
    /// No open incidents.
    pub fn new(policy: IncidentPolicy) -> Self {
        Incidents {
            policy,
            open: HashMap::new(),
        }
    }

    /// Open incidents.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Whether no incident is open.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Records a finding; returns the alert it raises, if any.
    pub fn record(&mut self, f: Finding) -> Option<Alert> {
        let key = Key {
            detector: f.detector,
            identity: f.identity.clone(),
            vault: f.vault.clone(),
            group: f.group.clone(),
        };
        let gap = self.policy.gap;
        if let Some(inc) = self.open.get_mut(&key) {
            if f.last_seen - inc.last_seen <= gap {
                inc.findings += 1;
                inc.last_seen = inc.last_seen.max(f.last_seen);
                let escalates = f.severity > inc.severity || !inc.rules.contains(&f.rule);
                if !escalates {
                    return None;
                }
                inc.severity = inc.severity.max(f.severity);
                inc.rules.insert(f.rule.clone());
                inc.revision += 1;
                return Some(alert_for(inc, f));
            }
        }
        let incident_id =
            id::incident_id(f.detector, &f.group, &f.identity, &f.vault, f.first_seen);
        let inc = Incident {
            id: incident_id,
            revision: 1,
            first_seen: f.first_seen,
            last_seen: f.last_seen,
            severity: f.severity,
            rules: BTreeSet::from([f.rule.clone()]),
            findings: 1,
        };
        let alert = alert_for(&inc, f);
        self.open.insert(key, inc);
        Some(alert)
    }

    /// Closes incidents quiet for longer than the gap.
    pub fn expire(&mut self, now: DateTime<Utc>) {
        let gap = self.policy.gap;
        self.open.retain(|_, inc| now - inc.last_seen <= gap);
    }
}

/// One open incident in a snapshot: its key, detector by name.
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedIncident {
    detector: String,
    identity: String,
    vault: String,
    group: String,
    incident: Incident,
}

impl Incidents {
    /// The open incidents, for a checkpoint (JSON).
    pub fn save(&self) -> serde_json::Value {
        let mut saved: Vec<SavedIncident> = self
            .open
            .iter()
            .map(|(k, inc)| SavedIncident {
                detector: k.detector.to_owned(),
                identity: k.identity.clone(),
                vault: k.vault.clone(),
                group: k.group.clone(),
                incident: inc.clone(),
            })
            .collect();
        saved.sort_by(|a, b| a.incident.id.cmp(&b.incident.id));
        serde_json::to_value(saved).unwrap_or(serde_json::Value::Null)
    }

    /// Replaces the open incidents with a [`Incidents::save`] snapshot; `detectors`
    /// are the names running now (incidents of other detectors are dropped).
    pub fn restore(
        &mut self,
        saved: &serde_json::Value,
        detectors: &[&'static str],
    ) -> Result<(), serde_json::Error> {
        let saved: Vec<SavedIncident> = serde_json::from_value(saved.clone())?;
        self.open.clear();
        for s in saved {
            let Some(detector) = detectors.iter().copied().find(|d| *d == s.detector) else {
                continue;
            };
            let key = Key {
                detector,
                identity: s.identity,
                vault: s.vault,
                group: s.group,
            };
            self.open.insert(key, s.incident);
        }
        Ok(())
    }
}

fn alert_for(inc: &Incident, f: Finding) -> Alert {
    let mut evidence = f.evidence;
    if inc.revision > 1 {
        evidence.insert(
            "incident",
            serde_json::json!({
                "findings": inc.findings,
                "rules": inc.rules.iter().collect::<Vec<_>>(),
                "escalation": inc.revision - 1,
            }),
        );
    }
    Alert {
        id: id::alert_id(&inc.id, inc.revision),
        incident_id: inc.id.clone(),
        revision: inc.revision,
        detector: f.detector.to_owned(),
        rule: f.rule,
        severity: inc.severity,
        identity: f.identity,
        principal: f.principal,
        vault: f.vault,
        first_seen: inc.first_seen.min(f.first_seen),
        last_seen: inc.last_seen,
        summary: f.summary,
        evidence,
    }
    .bounded()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Evidence, PrincipalSummary};

    fn finding(min: i64, rule: &str, severity: Severity) -> Finding {
        let t = DateTime::from_timestamp(1_700_000_000 + min * 60, 0).unwrap();
        Finding {
            detector: "failed_auth",
            rule: rule.into(),
            severity,
            identity: "oid-1".into(),
            principal: PrincipalSummary::anonymous(),
            vault: "v".into(),
            group: String::new(),
            first_seen: t,
            last_seen: t,
            summary: "s".into(),
            evidence: Evidence::new(),
        }
    }

    #[test]
    fn continued_activity_extends_escalation_updates() {
        let mut inc = Incidents::new(IncidentPolicy::default());
        let first = inc
            .record(finding(0, "burst", Severity::Medium))
            .expect("opens");
        assert_eq!(first.revision, 1);
        assert!(
            inc.record(finding(10, "burst", Severity::Medium)).is_none(),
            "extends silently"
        );
        assert!(inc.record(finding(20, "burst", Severity::Low)).is_none());
        let up = inc
            .record(finding(30, "burst", Severity::High))
            .expect("escalates");
        assert_eq!(
            (up.revision, up.incident_id.as_str()),
            (2, first.incident_id.as_str())
        );
        assert_eq!(up.first_seen, first.first_seen);
        let new_rule = inc
            .record(finding(40, "spray", Severity::Medium))
            .expect("new evidence kind");
        assert_eq!((new_rule.revision, new_rule.severity), (3, Severity::High));
        assert_ne!(new_rule.id, up.id);
    }

    #[test]
    fn open_incidents_survive_a_snapshot() {
        let mut inc = Incidents::new(IncidentPolicy::default());
        let first = inc.record(finding(0, "burst", Severity::Medium)).unwrap();
        let mut restored = Incidents::new(IncidentPolicy::default());
        restored.restore(&inc.save(), &["failed_auth"]).unwrap();
        assert!(
            restored
                .record(finding(10, "burst", Severity::Medium))
                .is_none(),
            "still open: extends"
        );
        let up = restored
            .record(finding(20, "burst", Severity::High))
            .unwrap();
        assert_eq!((up.revision, up.incident_id), (2, first.incident_id));
        let mut other = Incidents::new(IncidentPolicy::default());
        other.restore(&inc.save(), &["unusual_geo"]).unwrap();
        assert!(
            other.is_empty(),
            "incidents of detectors not running are dropped"
        );
    }

    #[test]
    fn quiet_incidents_close() {
        let mut inc = Incidents::new(IncidentPolicy::default());
        let a = inc.record(finding(0, "burst", Severity::Medium)).unwrap();
        inc.expire(DateTime::from_timestamp(1_700_000_000 + 200 * 60, 0).unwrap());
        assert!(inc.is_empty());
        let b = inc.record(finding(200, "burst", Severity::Medium)).unwrap();
        assert_eq!(b.revision, 1);
        assert_ne!(a.incident_id, b.incident_id);
    }
}
