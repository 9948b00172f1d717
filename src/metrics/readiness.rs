//! Readiness: named checks that other parts of kvwatch register and keep up to date,
//! served as `/readyz` and exported as `kvwatch_ready{check}`.
//!
//! `/healthz` only says the process runs; `/readyz` says it can do its job, which
//! depends on parts the HTTP code knows nothing about (the sources are connected,
//! detector state is loaded, the outbox is writable). So each part registers a check
//! by name and reports on it; the endpoint is ready when every registered check is.
//! A check starts not ready ("not reported yet") so a part that hangs while starting
//! keeps the process out of rotation.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use prometheus::{IntGaugeVec, Opts, Registry};

/// Check names kvwatch's own parts use.
pub mod checks {
    /// The inputs are open: files planned (replay), Event Hubs partitions connected (live).
    pub const SOURCES_CONNECTED: &str = "sources_connected";
    /// Detector definitions built and saved state loaded.
    pub const STATE_LOADED: &str = "state_loaded";
    /// The alert outbox accepts writes.
    pub const OUTBOX_WRITABLE: &str = "outbox_writable";
    /// `[coordination]`: this instance is active with a fresh ownership, or a
    /// healthy standby (ready, with a note saying so); paused or lost is not ready.
    pub const COORDINATION: &str = "coordination";
}

/// The state of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckState {
    /// Ready.
    Ready,
    /// Ready, with a word on how (a standby standing by).
    ReadyAs(String),
    /// Not ready, and why.
    NotReady(String),
}

impl CheckState {
    /// Whether the check passes.
    pub fn is_ready(&self) -> bool {
        !matches!(self, CheckState::NotReady(_))
    }
}

/// The registered checks. Cloning shares them.
#[derive(Clone)]
pub struct Readiness {
    checks: Arc<Mutex<BTreeMap<&'static str, CheckState>>>,
    gauge: IntGaugeVec,
}

/// One part's handle on its check.
#[derive(Clone)]
pub struct ReadinessCheck {
    name: &'static str,
    readiness: Readiness,
}

/// What `/readyz` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadinessReport {
    /// Every check is ready.
    pub ready: bool,
    /// Each check, by name.
    pub checks: Vec<(&'static str, CheckState)>,
}

impl Readiness {
    /// Registers `kvwatch_ready{check}`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let gauge = IntGaugeVec::new(
            Opts::new(
                "kvwatch_ready",
                "1 when a readiness check passes, 0 when it does not (see /readyz).",
            ),
            &["check"],
        )?;
        registry.register(Box::new(gauge.clone()))?;
        Ok(Readiness {
            checks: Arc::new(Mutex::new(BTreeMap::new())),
            gauge,
        })
    }

    /// Adds a check (not ready until reported), or returns the handle of the one of
    /// that name. Names are short snake_case words (they become label values).
    pub fn check(&self, name: &'static str) -> ReadinessCheck {
        if let Ok(mut checks) = self.checks.lock() {
            checks.entry(name).or_insert_with(|| {
                self.gauge.with_label_values(&[name]).set(0);
                CheckState::NotReady("not reported yet".to_owned())
            });
        }
        ReadinessCheck {
            name,
            readiness: self.clone(),
        }
    }

    /// Every check's state.
    pub fn report(&self) -> ReadinessReport {
        let checks: Vec<(&'static str, CheckState)> = match self.checks.lock() {
            Ok(c) => c.iter().map(|(k, v)| (*k, v.clone())).collect(),
            Err(_) => vec![(
                "readiness",
                CheckState::NotReady("readiness state poisoned".to_owned()),
            )],
        };
        ReadinessReport {
            ready: checks.iter().all(|(_, s)| s.is_ready()),
            checks,
        }
    }

    fn set(&self, name: &'static str, state: CheckState) {
        self.gauge
            .with_label_values(&[name])
            .set(i64::from(state.is_ready()));
        if let Ok(mut checks) = self.checks.lock() {
            checks.insert(name, state);
        }
    }
}

impl ReadinessCheck {
    /// The check passes.
    pub fn ready(&self) {
        self.readiness.set(self.name, CheckState::Ready);
    }

    /// The check passes, and `/readyz` says how (`coordination: ok (standby …)`).
    pub fn ready_as(&self, how: impl Into<String>) {
        self.readiness
            .set(self.name, CheckState::ReadyAs(how.into()));
    }

    /// The check fails, for the given reason (shown by `/readyz`).
    pub fn not_ready(&self, why: impl Into<String>) {
        self.readiness
            .set(self.name, CheckState::NotReady(why.into()));
    }

    /// Ready when `result` is `Ok`, else not ready with the error's text.
    pub fn set<E: std::fmt::Display>(&self, result: Result<(), E>) {
        match result {
            Ok(()) => self.ready(),
            Err(e) => self.not_ready(e.to_string()),
        }
    }

    /// The check's name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl ReadinessReport {
    /// The `/readyz` body: one line per check.
    pub fn render(&self) -> String {
        let mut out = String::from(if self.ready { "ready\n" } else { "not ready\n" });
        for (name, state) in &self.checks {
            match state {
                CheckState::Ready => out.push_str(&format!("{name}: ok\n")),
                CheckState::ReadyAs(how) => out.push_str(&format!("{name}: ok ({how})\n")),
                CheckState::NotReady(why) => out.push_str(&format!("{name}: {why}\n")),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_when_every_check_is() {
        let r = Readiness::register(&Registry::new()).unwrap();
        assert!(r.report().ready, "no checks: nothing to wait for");
        let sources = r.check(checks::SOURCES_CONNECTED);
        let outbox = r.check(checks::OUTBOX_WRITABLE);
        assert!(!r.report().ready);
        sources.ready();
        outbox.set(Err("disk full"));
        let report = r.report();
        assert!(!report.ready);
        assert!(
            report.render().contains("outbox_writable: disk full"),
            "{}",
            report.render()
        );
        outbox.ready();
        assert!(r.report().ready);
        let coordination = r.check(checks::COORDINATION);
        coordination.ready_as("standby: held by kvwatch-0");
        assert!(r.report().ready);
        assert!(
            r.report()
                .render()
                .contains("coordination: ok (standby: held by kvwatch-0)"),
            "{}",
            r.report().render()
        );
        assert_eq!(r.gauge.with_label_values(&["outbox_writable"]).get(), 1);
    }
}
