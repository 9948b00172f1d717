//! Everything decided before the hourly generation starts: labelled scenarios,
//! configuration changes, business trips and the ground-truth labels.
//!
//! Attack scenarios and legitimate admin changes are planned first because they
//! change the world the daily traffic runs in: a firewall opened at 23:10 makes
//! every later `VaultGet` report `defaultAction: Allow`; disabling RBAC makes the
//! vault's data-plane records carry `isAccessPolicyMatch` until an admin reverts
//! it. The plan's requests are merged with the generated traffic by time.

use chrono::NaiveDate;
use serde::Serialize;

use super::clock::{Tick, DAY};
use super::render;
use super::request::Request;
use super::tenant::Tenant;
use super::users::Trip;
use super::vaults::Change;

/// The ground truth for one labelled scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Unique id (`007-self_grant`).
    pub id: String,
    /// `attack`, `access_change` (a legitimate change detectors should report) or
    /// `confounder` (benign activity the detector must not alert on at all).
    pub kind: &'static str,
    /// The scenario's name.
    pub scenario: &'static str,
    /// The detector expected to report it.
    pub detector: &'static str,
    /// The principal key (lower-case oid, else appid), or `ip:<address>`.
    pub identity: String,
    /// The vault (lower case), or `*` when the scenario spans vaults.
    pub vault: String,
    /// First event (event time).
    pub start: Tick,
    /// Last event (event time).
    pub end: Tick,
    /// What happened, for a human.
    pub description: String,
}

#[derive(Serialize)]
struct LabelJson<'a> {
    id: &'a str,
    kind: &'a str,
    scenario: &'a str,
    detector: &'a str,
    identity: &'a str,
    vault: &'a str,
    start: String,
    end: String,
    description: &'a str,
}

impl Label {
    /// The label as one JSON line (fields in the documented order).
    pub fn to_json(&self) -> String {
        let j = LabelJson {
            id: &self.id,
            kind: self.kind,
            scenario: self.scenario,
            detector: self.detector,
            identity: &self.identity,
            vault: &self.vault,
            start: render::time(self.start),
            end: render::time(self.end),
            description: &self.description,
        };
        serde_json::to_string(&j).unwrap_or_default()
    }
}

/// A principal that exists only because of a scenario (for `_tenant.json`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Actor {
    /// Role in the story.
    pub role: String,
    /// Object id (principal key).
    pub oid: String,
    /// Application id, when an application.
    pub appid: Option<String>,
    /// Where it called from.
    pub addresses: Vec<String>,
}

/// The planned part of the simulation.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Requests of scenarios and admin changes.
    pub requests: Vec<Request>,
    /// Labels (ids are assigned by [`Plan::finish`]).
    pub labels: Vec<Label>,
    /// Configuration changes: (vault, time, change).
    pub changes: Vec<(usize, Tick, Change)>,
    /// Users working away from home.
    pub trips: Vec<Trip>,
    /// Notable benign activity (for `_tenant.json`).
    pub notes: Vec<String>,
    /// Principals that appear only in scenarios.
    pub actors: Vec<Actor>,
}

/// What scenario planners need to know.
pub(crate) struct Ctx<'a> {
    /// The tenant.
    pub tenant: &'a Tenant,
    /// The seed.
    pub seed: u64,
    /// First day of the period.
    pub start_date: NaiveDate,
    /// Start of the period.
    pub start: Tick,
    /// Number of days.
    pub days: u32,
}

impl Ctx<'_> {
    /// End of the period (exclusive).
    pub(crate) fn end(&self) -> Tick {
        self.start + i64::from(self.days) * DAY
    }

    /// The date of period day `d`.
    pub(crate) fn date(&self, d: u32) -> NaiveDate {
        self.start_date
            .checked_add_days(chrono::Days::new(u64::from(d)))
            .unwrap_or(self.start_date)
    }
}

impl Plan {
    /// A mark to measure the requests added after it.
    pub(crate) fn mark(&self) -> usize {
        self.requests.len()
    }

    /// Adds a label covering the requests added since `mark` (or `span` if given).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn label(
        &mut self,
        mark: usize,
        kind: &'static str,
        scenario: &'static str,
        detector: &'static str,
        identity: &str,
        vault: &str,
        span: Option<(Tick, Tick)>,
        description: String,
    ) {
        let times = self.requests[mark.min(self.requests.len())..]
            .iter()
            .map(|r| r.time);
        let (lo, hi) = times.fold((Tick::MAX, Tick::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
        let (start, end) = span.unwrap_or((lo, hi));
        self.labels.push(Label {
            id: String::new(),
            kind,
            scenario,
            detector,
            identity: identity.to_ascii_lowercase(),
            vault: vault.to_ascii_lowercase(),
            start,
            end: end.max(start),
            description,
        });
    }

    /// Drops requests outside the period, sorts everything and numbers the labels.
    pub(crate) fn finish(&mut self, ctx: &Ctx<'_>) {
        let (lo, hi) = (ctx.start, ctx.end());
        self.requests.retain(|r| (lo..hi).contains(&r.time));
        self.requests.sort_by_key(|r| r.time);
        self.labels.retain(|l| l.start < hi && l.end >= lo);
        for l in &mut self.labels {
            l.start = l.start.clamp(lo, hi - 1);
            l.end = l.end.clamp(l.start, hi - 1);
        }
        self.labels
            .sort_by(|a, b| (a.start, a.scenario).cmp(&(b.start, b.scenario)));
        for (i, l) in self.labels.iter_mut().enumerate() {
            l.id = format!("{:03}-{}", i + 1, l.scenario);
        }
    }
}
