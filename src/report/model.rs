//! The report's content as data: what every rendering (HTML, Markdown) shows, and
//! the JSON form itself (`--format json` is this model, serialised).
//!
//! Everything an investigator reads is here, already chosen, ordered and capped, so
//! the renderers only lay it out and escape it. Times are UTC; charts carry their
//! dense buckets and alert marks so any renderer can draw them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::hygiene::{Check, Finding, Practice};
use super::series::Bucket;
use crate::alert::{Alert, Severity};
use crate::event::{AccessPolicyEntry, PrincipalKind, VaultConfig};

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportModel {
    /// The title.
    pub title: String,
    /// The kvwatch version that wrote it.
    pub kvwatch_version: String,
    /// When it was written (wall clock).
    pub generated_at: DateTime<Utc>,
    /// The period the events cover; `None` when there were none.
    pub period: Option<Period>,
    /// What the report was narrowed to.
    pub scope: Scope,
    /// What was read.
    pub inputs: Inputs,
    /// Headline counts.
    pub totals: Totals,
    /// All activity over the period, with every alert marked.
    pub overview: Chart,
    /// Alerts grouped into incidents, by first sighting.
    pub incidents: Vec<IncidentView>,
    /// Hygiene findings, most urgent first.
    pub findings: Vec<Finding>,
    /// The practices with their number of findings.
    pub practices: Vec<PracticeView>,
    /// Every check the report runs.
    pub checks: Vec<Check>,
    /// Principals with a full section.
    pub principals: Vec<PrincipalView>,
    /// Further principals, one row each (capped).
    pub other_principals: Vec<PrincipalRow>,
    /// Principals left out of both lists.
    pub other_principals_more: u64,
    /// Vaults.
    pub vaults: Vec<VaultView>,
    /// What the reader should know about the limits of this report.
    pub notes: Vec<String>,
}

/// The period the events cover.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Period {
    /// The first event.
    pub start: DateTime<Utc>,
    /// The last event.
    pub end: DateTime<Utc>,
    /// Its length in days.
    pub days: f64,
}

/// What the report was narrowed to (`--since`, `--until`, `--vault`, `--principal`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Scope {
    /// `--since`.
    pub since: Option<DateTime<Utc>>,
    /// `--until`.
    pub until: Option<DateTime<Utc>>,
    /// `--vault`.
    pub vaults: Vec<String>,
    /// `--principal`.
    pub principals: Vec<String>,
}

/// What was read (the run's summary).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Inputs {
    /// Input files (or standard input).
    pub inputs: u64,
    /// Inputs that could not be read.
    pub unreadable_inputs: u64,
    /// Records read.
    pub records: u64,
    /// Records rejected as malformed.
    pub rejected: u64,
    /// Records skipped (not Key Vault audit events).
    pub skipped: u64,
    /// Duplicates dropped.
    pub duplicates: u64,
    /// Events outside the scope.
    pub filtered: u64,
    /// Events reported on.
    pub events: u64,
}

/// Headline counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    /// Events reported on.
    pub events: u64,
    /// SDK challenges among them (benign 401s).
    pub challenges: u64,
    /// Principals seen.
    pub principals: u64,
    /// Vaults seen.
    pub vaults: u64,
    /// Alerts (revisions included).
    pub alerts: u64,
    /// Incidents.
    pub incidents: u64,
    /// Findings by severity label.
    pub findings_by_severity: BTreeMap<String, u64>,
}

/// A time chart: dense buckets from `start`, and alerts to mark on it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Chart {
    /// The start of the first bucket.
    pub start: Option<DateTime<Utc>>,
    /// The width of a bucket in seconds.
    pub bucket_seconds: i64,
    /// The buckets.
    pub buckets: Vec<Bucket>,
    /// Alerts on this timeline.
    pub marks: Vec<ChartMark>,
}

/// An alert on a chart.
#[derive(Debug, Clone, Serialize)]
pub struct ChartMark {
    /// When.
    pub time: DateTime<Utc>,
    /// How urgent.
    pub severity: Severity,
    /// What (detector).
    pub label: String,
    /// The incident, for the link.
    pub incident_id: String,
}

/// One incident: its alerts (revisions) and the latest word on it.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentView {
    /// The incident id.
    pub incident_id: String,
    /// The detector.
    pub detector: String,
    /// The rules that fired, in order.
    pub rules: Vec<String>,
    /// The highest severity reached.
    pub severity: Severity,
    /// The identity.
    pub identity: String,
    /// The principal's readable name.
    pub principal_name: String,
    /// The vault.
    pub vault: String,
    /// The first event.
    pub first_seen: DateTime<Utc>,
    /// The latest event.
    pub last_seen: DateTime<Utc>,
    /// The latest summary.
    pub summary: String,
    /// Every alert (revision) of the incident, in order, as delivered.
    pub alerts: Vec<Alert>,
}

/// A principal in one line.
#[derive(Debug, Clone, Serialize)]
pub struct PrincipalRow {
    /// The identity (principal key, `ip:…`).
    pub identity: String,
    /// The readable name.
    pub name: String,
    /// Its kind.
    pub kind: PrincipalKind,
    /// Requests.
    pub requests: u64,
    /// Denied requests.
    pub denied: u64,
    /// First request.
    pub first_seen: DateTime<Utc>,
    /// Last request.
    pub last_seen: DateTime<Utc>,
    /// Alerts about it.
    pub alerts: u64,
    /// Findings about it.
    pub findings: u64,
}

/// Something seen, with how often and when.
#[derive(Debug, Clone, Serialize)]
pub struct SeenRow {
    /// What.
    pub name: String,
    /// How often.
    pub count: u64,
    /// First seen.
    pub first: DateTime<Utc>,
    /// Last seen.
    pub last: DateTime<Utc>,
}

/// A capped list.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Listed<T> {
    /// The items shown.
    pub items: Vec<T>,
    /// Items left out.
    pub more: u64,
}

/// A count by label.
#[derive(Debug, Clone, Serialize)]
pub struct Count {
    /// The label.
    pub label: String,
    /// The count.
    pub count: u64,
}

/// A principal's section.
#[derive(Debug, Clone, Serialize)]
pub struct PrincipalView {
    /// The headline.
    #[serde(flatten)]
    pub row: PrincipalRow,
    /// The UPN.
    pub upn: Option<String>,
    /// The object id.
    pub oid: Option<String>,
    /// Requests by operation class.
    pub by_class: Vec<Count>,
    /// Requests by outcome.
    pub by_outcome: Vec<Count>,
    /// Activity over time, alerts marked.
    pub chart: Chart,
    /// Vaults used: name, requests, served, denied, first, last.
    pub vaults: Listed<VaultUseRow>,
    /// Objects touched (`vault/kind/name`).
    pub objects: Listed<SeenRow>,
    /// Countries (or address classes).
    pub countries: Listed<SeenRow>,
    /// Networks.
    pub networks: Listed<SeenRow>,
    /// Client applications (`appid`).
    pub apps: Listed<SeenRow>,
    /// User agents.
    pub user_agents: Listed<SeenRow>,
    /// Requests with MFA, without, and without an `amr` claim (users only).
    pub mfa: Option<[u64; 3]>,
    /// Its findings' ids.
    pub finding_ids: Vec<String>,
    /// Its incidents' ids.
    pub incident_ids: Vec<String>,
}

/// A principal's use of a vault.
#[derive(Debug, Clone, Serialize)]
pub struct VaultUseRow {
    /// The vault.
    pub vault: String,
    /// Requests.
    pub requests: u64,
    /// Served.
    pub ok: u64,
    /// Denied.
    pub denied: u64,
    /// First request.
    pub first: DateTime<Utc>,
    /// Last request.
    pub last: DateTime<Utc>,
}

/// A vault's section.
#[derive(Debug, Clone, Serialize)]
pub struct VaultView {
    /// The vault.
    pub name: String,
    /// Requests.
    pub requests: u64,
    /// First request.
    pub first_seen: DateTime<Utc>,
    /// Last request.
    pub last_seen: DateTime<Utc>,
    /// Requests by operation class (rows) and outcome (columns, `Outcome::ALL` order).
    pub matrix: Vec<ClassRow>,
    /// Activity over time, alerts marked.
    pub chart: Chart,
    /// The busiest principals.
    pub top_principals: Listed<TopPrincipal>,
    /// The last configuration seen, and when.
    pub config: Option<(DateTime<Utc>, VaultConfig)>,
    /// Configuration and access changes, with before and after.
    pub changes: Listed<ChangeView>,
    /// Vault writes that changed nothing visible (identical settings re-applied,
    /// tag-only edits): no alert, one line in the changes.
    pub unchanged_writes: u64,
    /// Objects seen.
    pub objects: u64,
    /// Its findings' ids.
    pub finding_ids: Vec<String>,
    /// Its incidents' ids.
    pub incident_ids: Vec<String>,
}

/// One row of a vault's class × outcome matrix.
#[derive(Debug, Clone, Serialize)]
pub struct ClassRow {
    /// The operation class.
    pub class: String,
    /// All requests of the class.
    pub total: u64,
    /// By outcome.
    pub by_outcome: Vec<u64>,
}

/// A principal among a vault's busiest.
#[derive(Debug, Clone, Serialize)]
pub struct TopPrincipal {
    /// The identity.
    pub identity: String,
    /// The readable name.
    pub name: String,
    /// Requests.
    pub requests: u64,
    /// Denied.
    pub denied: u64,
}

/// A configuration or access change.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeView {
    /// When.
    pub time: DateTime<Utc>,
    /// Who (readable).
    pub who: String,
    /// The identity.
    pub identity: String,
    /// The operation.
    pub operation: String,
    /// Settings that changed: (setting, before, after).
    pub fields: Vec<(String, String, String)>,
    /// Access policy added.
    pub added_policy: Option<AccessPolicyEntry>,
    /// Access policy removed.
    pub removed_policy: Option<AccessPolicyEntry>,
}

/// A practice with its number of findings.
#[derive(Debug, Clone, Serialize)]
pub struct PracticeView {
    /// The practice.
    pub practice: Practice,
    /// Its title.
    pub title: &'static str,
    /// What it asks for.
    pub guidance: &'static str,
    /// Findings mapped to it.
    pub findings: u64,
}

/// The line a vault's changes show for its writes that changed nothing visible.
pub fn unchanged_writes(n: u64) -> String {
    format!(
        "{n} {} changed nothing visible (identical settings re-applied, or tags only): no alert",
        if n == 1 { "write" } else { "writes" }
    )
}
