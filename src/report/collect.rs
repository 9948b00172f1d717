//! The report's observer: folds every processed event and every alert of a replay
//! into per-principal, per-vault and per-object aggregates.
//!
//! It watches the same pipeline as `kvwatch replay` (after decoding, filtering,
//! deduplication and reordering), so the report counts exactly what the detectors
//! saw. Work per event is a few hash lookups and counter bumps; geography is looked up
//! once per address and cached. Memory is bounded by the `[report]` caps: principals,
//! objects per vault, and items per list (see [`super::stats::Capped`]).
//!
//! This file holds the state and the observer; the fold of a data-plane request is
//! in [`super::collect_requests`], that of an Activity Log change in
//! [`super::collect_control`].

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use hashbrown::hash_map::Entry;

use super::assignments::Assignments;
use super::audit_settings::AuditSettings;
use super::collect_control::control_change;
use super::collect_requests::record;
use super::series::{Grid, Series};
use super::stats::{table, AlertMark, Capped, PrincipalStats, Table, VaultStats};
use crate::alert::Alert;
use crate::config::ReportConfig;
use crate::detect::enrichment::{class_label, Enricher};
use crate::pipeline::{Happening, Observer};

/// The most vaults tracked.
const MAX_VAULTS: usize = 10_000;
/// The most alert marks kept per principal or vault.
const MAX_MARKS: usize = 500;
/// The most configuration changes kept per vault.
pub(super) const MAX_CHANGES: usize = 500;
/// The most addresses whose geography is cached.
const MAX_GEO_CACHE: usize = 200_000;

/// Everything collected from a run.
#[derive(Debug, Clone)]
pub struct Collected {
    /// The shared time grid (`None` until the first event).
    pub grid: Option<Grid>,
    /// The earliest event processed.
    pub first: Option<DateTime<Utc>>,
    /// The latest event processed.
    pub last: Option<DateTime<Utc>>,
    /// Events processed.
    pub events: u64,
    /// SDK challenges (benign 401s): counted per vault, not per principal.
    pub challenges: u64,
    /// All activity over time.
    pub overall: Series,
    /// Per principal, by identity.
    pub principals: Capped<String, PrincipalStats>,
    /// Per vault, by name.
    pub vaults: Capped<String, VaultStats>,
    /// Every alert's mark, for the overview chart (capped).
    pub marks: Vec<AlertMark>,
    /// Whether a GeoIP database located addresses.
    pub has_geoip: bool,
    /// Role assignments and vault places from the Activity Log.
    pub rbac: Assignments,
    /// Vaults' diagnostic settings changed in the Activity Log.
    pub audit_settings: AuditSettings,
    /// The most objects tracked per vault.
    pub(super) max_objects: usize,
    /// The most items per list.
    pub(super) cap: usize,
}

impl Collected {
    /// Nothing collected yet, bounded by `config`.
    pub fn new(config: &ReportConfig, has_geoip: bool) -> Self {
        Collected {
            grid: None,
            first: None,
            last: None,
            events: 0,
            challenges: 0,
            overall: Series::default(),
            principals: Capped::new(config.max_principals),
            vaults: Capped::new(MAX_VAULTS),
            marks: Vec::new(),
            has_geoip,
            rbac: Assignments::default(),
            audit_settings: AuditSettings::default(),
            max_objects: config.max_objects_per_vault,
            cap: config.max_items,
        }
    }
}

/// Where an address is, as the report labels it.
#[derive(Debug, Clone)]
pub(super) struct Place {
    /// The country (name and code), or what kind of address it is.
    pub(super) country: String,
    /// The network (/24, /48), or what kind of address it is.
    pub(super) network: String,
    /// Whether the address is public.
    pub(super) public: bool,
}

/// The observer; [`Collector::shared`] gives the state to read after the run.
pub struct Collector {
    state: Arc<Mutex<Collected>>,
    enricher: Enricher,
    places: Table<IpAddr, Place>,
    /// Reused for the keys built from several fields (`vault/kind/name`), so a
    /// sighting of a known object allocates nothing.
    scratch: String,
}

impl Collector {
    /// A collector using `enricher` for geography, bounded by `config`.
    pub fn new(config: &ReportConfig, enricher: Enricher) -> Self {
        let state = Collected::new(config, enricher.has_database());
        Collector {
            state: Arc::new(Mutex::new(state)),
            enricher,
            places: table(),
            scratch: String::new(),
        }
    }

    /// The collected state, shared with the pipeline's copy of this observer.
    pub fn shared(&self) -> Arc<Mutex<Collected>> {
        self.state.clone()
    }
}

/// Where `ip` is: from the cache, or looked up once and cached (while the cache has
/// room); borrowed, so a known address costs one lookup and no copy.
fn locate<'a>(
    places: &'a mut Table<IpAddr, Place>,
    enricher: &Enricher,
    ip: Option<IpAddr>,
) -> Option<Cow<'a, Place>> {
    let ip = ip?;
    let full = places.len() >= MAX_GEO_CACHE;
    match places.entry(ip) {
        Entry::Occupied(known) => Some(Cow::Borrowed(known.into_mut())),
        Entry::Vacant(_) if full => Some(Cow::Owned(place(enricher, ip))),
        Entry::Vacant(new) => Some(Cow::Borrowed(new.insert(place(enricher, ip)))),
    }
}

/// Looks `ip` up and labels it as the report does.
fn place(enricher: &Enricher, ip: IpAddr) -> Place {
    let geo = enricher.geo(Some(ip));
    let class = geo.class.map_or("unknown", class_label);
    let country = match (geo.country, geo.country_name) {
        (Some(code), Some(name)) => format!("{name} ({code})"),
        (Some(code), None) => code.to_string(),
        (None, _) if geo.is_public() && geo.has_database => "public, not located".to_owned(),
        (None, _) if geo.is_public() => "public (no GeoIP database)".to_owned(),
        (None, _) => format!("{class} address"),
    };
    let network = geo
        .prefix
        .map_or_else(|| format!("{class} address"), |p| p.to_string());
    Place {
        country,
        network,
        public: geo.is_public(),
    }
}

impl Observer for Collector {
    fn observe(&mut self, what: &Happening<'_>) {
        match what {
            // An Activity Log change: role assignments and diagnostic settings on a
            // vault join its changes; the rest of the report counts AuditEvent alone.
            Happening::Processed { event, .. } if event.control_plane().is_some() => {
                if let Ok(mut state) = self.state.lock() {
                    state.rbac.observe(event);
                    state.audit_settings.observe(event);
                    control_change(&mut state, event);
                }
            }
            Happening::Processed { event, .. } => {
                let place = locate(&mut self.places, &self.enricher, event.caller_ip);
                if let Ok(mut state) = self.state.lock() {
                    record(&mut state, event, place.as_deref(), &mut self.scratch);
                }
            }
            Happening::Alerted { alert, .. } => {
                if let Ok(mut state) = self.state.lock() {
                    mark(&mut state, alert);
                }
            }
            _ => {}
        }
    }
}

/// Whether an operation is a backup (reads the whole object out of the vault).
pub fn is_backup(operation: &str) -> bool {
    operation.ends_with("Backup")
}

fn mark(state: &mut Collected, alert: &Alert) {
    let m = AlertMark {
        time: alert.last_seen,
        severity: alert.severity,
        detector: alert.detector.clone(),
        incident_id: alert.incident_id.clone(),
    };
    if let Some(p) = state.principals.map.get_mut(&alert.identity) {
        if p.alerts.len() < MAX_MARKS {
            p.alerts.push(m.clone());
        }
    }
    if let Some(v) = state.vaults.map.get_mut(&alert.vault) {
        if v.alerts.len() < MAX_MARKS {
            v.alerts.push(m.clone());
        }
    }
    if state.marks.len() < MAX_MARKS * 20 {
        state.marks.push(m);
    }
}
