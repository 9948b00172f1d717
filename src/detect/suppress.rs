//! Allow-lists and maintenance windows: the suppression layer between detectors and
//! incidents.
//!
//! Analysts' main complaint about opaque peers is that they cannot say "this is
//! expected". Suppressions are that sentence, written in the config (every detector)
//! or in a detector file (that detector only). They act on findings, never on
//! events: suppressed traffic still teaches the baselines (Azure Resource Graph's
//! `VaultGet`s are how the access-change detector learns vault configurations).
//! Every alert lists the suppressions that were checked and did not match.

use std::collections::HashSet;
use std::net::IpAddr;

use chrono::{DateTime, Datelike, Timelike, Utc};
use ipnet::IpNet;

use super::baseline::keys::principal_key;
use super::finding::Finding;
use crate::config::{MaintenanceWindow, SuppressConfig};
use crate::event::AuditEvent;

/// A compiled maintenance window.
#[derive(Debug, Clone)]
struct Window {
    name: String,
    /// Bit `n` set: weekday `n` (Monday = 0) is covered; all bits when no days given.
    days: u8,
    start_min: u16,
    end_min: u16,
    vaults: HashSet<String>,
    principals: HashSet<u128>,
}

impl Window {
    fn covers(&self, t: DateTime<Utc>, vault: &str, principal: Option<u128>) -> bool {
        let minute = (t.hour() * 60 + t.minute()) as u16;
        let day = t.weekday().num_days_from_monday() as u8;
        let in_time = if self.start_min <= self.end_min {
            minute >= self.start_min && minute < self.end_min
        } else {
            minute >= self.start_min || minute < self.end_min
        };
        // A window crossing midnight belongs to the day it started on.
        let start_day = if self.start_min > self.end_min && minute < self.end_min {
            (day + 6) % 7
        } else {
            day
        };
        in_time
            && self.days & (1 << start_day) != 0
            && (self.vaults.is_empty() || self.vaults.contains(vault))
            && (self.principals.is_empty()
                || principal.is_some_and(|p| self.principals.contains(&p)))
    }
}

/// The suppressions one detector applies (its own plus the config's).
#[derive(Debug, Clone, Default)]
pub struct Suppressor {
    principals: HashSet<u128>,
    appids: HashSet<String>,
    addresses: Vec<IpNet>,
    vaults: HashSet<String>,
    windows: Vec<Window>,
}

/// Checks a suppression section; the error names the key and what is wrong.
pub fn validate(c: &SuppressConfig) -> Result<(), (String, String)> {
    for (i, w) in c.maintenance.iter().enumerate() {
        compile_window(w).map_err(|m| (format!("maintenance[{i}]"), m))?;
    }
    Ok(())
}

fn parse_hhmm(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60)
        .then_some(h * 60 + m)
        .or((h == 24 && m == 0).then_some(1440))
}

fn compile_window(w: &MaintenanceWindow) -> Result<Window, String> {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let mut days = 0u8;
    for d in &w.days {
        let idx = DAYS
            .iter()
            .position(|n| d.len() >= 3 && d[..3].eq_ignore_ascii_case(n))
            .ok_or_else(|| {
                format!("unknown day {d:?}; write mon, tue, wed, thu, fri, sat or sun")
            })?;
        days |= 1 << idx;
    }
    if days == 0 {
        days = 0x7f;
    }
    let start = parse_hhmm(&w.start)
        .ok_or_else(|| format!("start {:?} is not a time of day (HH:MM)", w.start))?;
    let end = parse_hhmm(&w.end)
        .ok_or_else(|| format!("end {:?} is not a time of day (HH:MM)", w.end))?;
    if start == end {
        return Err("start and end are equal: the window would be empty".into());
    }
    Ok(Window {
        name: if w.name.is_empty() {
            format!("{}-{}", w.start, w.end)
        } else {
            w.name.clone()
        },
        days,
        start_min: start,
        end_min: end,
        vaults: w
            .vaults
            .iter()
            .map(|v| v.trim().to_ascii_lowercase())
            .collect(),
        principals: w
            .principals
            .iter()
            .map(|p| principal_key(&p.trim().to_ascii_lowercase()))
            .collect(),
    })
}

impl Suppressor {
    /// Compiles the given sections (config first, then the detector's own).
    pub fn compile(sections: &[&SuppressConfig]) -> Result<Self, (String, String)> {
        let mut s = Suppressor::default();
        for c in sections {
            s.principals.extend(
                c.principals
                    .iter()
                    .map(|p| principal_key(&p.trim().to_ascii_lowercase())),
            );
            s.appids
                .extend(c.appids.iter().map(|a| a.trim().to_ascii_lowercase()));
            s.addresses.extend(c.addresses.iter().map(IpNet::trunc));
            s.vaults
                .extend(c.vaults.iter().map(|v| v.trim().to_ascii_lowercase()));
            for (i, w) in c.maintenance.iter().enumerate() {
                s.windows
                    .push(compile_window(w).map_err(|m| (format!("maintenance[{i}]"), m))?);
            }
        }
        Ok(s)
    }

    /// Which suppression (if any) drops this finding; `event` is the event that
    /// triggered it, when there is one.
    pub fn matches(&self, f: &Finding, event: Option<&AuditEvent<'_>>) -> Option<String> {
        let principal = (!f.identity.starts_with("ip:")).then(|| principal_key(&f.identity));
        if principal.is_some_and(|p| self.principals.contains(&p)) {
            return Some(format!("principal {} is allow-listed", f.identity));
        }
        let appid = f
            .principal
            .appid
            .as_deref()
            .or(event.and_then(|e| e.principal.appid.as_deref()));
        if let Some(app) = appid.filter(|a| self.appids.contains(*a)) {
            return Some(format!("appid {app} is allow-listed"));
        }
        let address = event.and_then(|e| e.caller_ip).or_else(|| {
            f.identity
                .strip_prefix("ip:")
                .and_then(|a| a.parse::<IpAddr>().ok())
        });
        if let Some(ip) = address.filter(|ip| self.addresses.iter().any(|n| n.contains(ip))) {
            return Some(format!("address {ip} is allow-listed"));
        }
        if self.vaults.contains(f.vault.as_str()) {
            return Some(format!("vault {} is allow-listed", f.vault));
        }
        self.windows
            .iter()
            .find(|w| w.covers(f.last_seen, &f.vault, principal))
            .map(|w| format!("inside maintenance window {}", w.name))
    }

    /// What was checked, for the alert's evidence.
    pub fn checked(&self) -> Vec<String> {
        let mut out = vec!["challenge 401s (never alerted)".to_owned()];
        let mut add = |n: usize, what: &str| {
            if n > 0 {
                out.push(format!("{n} allow-listed {what}"));
            }
        };
        add(self.principals.len(), "principals");
        add(self.appids.len(), "appids");
        add(self.addresses.len(), "address ranges");
        add(self.vaults.len(), "vaults");
        add(self.windows.len(), "maintenance windows");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Evidence, PrincipalSummary, Severity};

    fn finding(identity: &str, vault: &str, at: &str) -> Finding {
        let t = DateTime::parse_from_rfc3339(at)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        Finding {
            detector: "x",
            rule: "r".into(),
            severity: Severity::Low,
            identity: identity.into(),
            principal: PrincipalSummary {
                appid: Some("509e4652-da8d-478d-a730-e9d4a1996ca4".into()),
                ..PrincipalSummary::anonymous()
            },
            vault: vault.into(),
            group: String::new(),
            first_seen: t,
            last_seen: t,
            summary: String::new(),
            evidence: Evidence::new(),
        }
    }

    #[test]
    fn allow_lists_and_windows() {
        let config = SuppressConfig {
            principals: vec!["AAAAAAAA-0000-0000-0000-000000000001".into()],
            addresses: vec!["10.0.0.0/8".parse().unwrap()],
            maintenance: vec![MaintenanceWindow {
                name: "patch night".into(),
                days: vec!["sat".into()],
                start: "23:00".into(),
                end: "02:00".into(),
                vaults: vec!["kv-prod".into()],
                principals: vec![],
            }],
            ..SuppressConfig::with_platform_defaults()
        };
        let s = Suppressor::compile(&[&config]).unwrap();
        let table = [
            (
                "aaaaaaaa-0000-0000-0000-000000000001",
                "kv",
                "2024-05-01T10:00:00Z",
                true,
            ),
            ("ip:10.1.2.3", "kv", "2024-05-01T10:00:00Z", true),
            ("ip:203.0.113.1", "kv-prod", "2024-05-04T23:30:00Z", true), // Saturday night
            ("ip:203.0.113.1", "kv-prod", "2024-05-05T01:30:00Z", true), // after midnight, still Saturday's
            ("ip:203.0.113.1", "kv-prod", "2024-05-05T23:30:00Z", false), // Sunday night
            ("ip:203.0.113.1", "kv-dev", "2024-05-04T23:30:00Z", false),
        ];
        for (identity, vault, at, dropped) in table {
            let mut f = finding(identity, vault, at);
            f.principal.appid = None;
            assert_eq!(
                s.matches(&f, None).is_some(),
                dropped,
                "{identity} {vault} {at}"
            );
        }
        assert!(
            s.matches(&finding("ip:1.1.1.1", "kv", "2024-05-01T10:00:00Z"), None)
                .is_some(),
            "ARG appid"
        );
    }

    #[test]
    fn bad_windows_are_named() {
        let bad = SuppressConfig {
            maintenance: vec![MaintenanceWindow {
                days: vec!["funday".into()],
                start: "1:00".into(),
                end: "2:00".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let (key, msg) = validate(&bad).unwrap_err();
        assert_eq!(key, "maintenance[0]");
        assert!(msg.contains("funday"), "{msg}");
    }
}
