//! The report's observer: folds every processed event and every alert of a replay
//! into per-principal, per-vault and per-object aggregates.
//!
//! It watches the same pipeline as `kvwatch replay` (after decoding, filtering,
//! deduplication and reordering), so the report counts exactly what the detectors
//! saw. Work per event is a few hash lookups and counter bumps; geography is looked up
//! once per address and cached. Memory is bounded by the `[report]` caps: principals,
//! objects per vault, and items per list (see [`super::stats::Capped`]).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use hashbrown::hash_map::Entry;

use super::assignments::Assignments;
use super::audit_settings::AuditSettings;
use super::series::{Grid, Series};
use super::stats::{
    table, AlertMark, Capped, ChangeRecord, DestructiveUse, ObjectStats, PrincipalStats, Seen,
    Table, VaultStats, VaultUse,
};
use crate::alert::Alert;
use crate::config::ReportConfig;
use crate::detect::enrichment::{class_label, Enricher};
use crate::event::{
    ActivityStatus, AuditEvent, ChangeKind, ControlPlane, ObjectKind, OperationClass, Outcome,
    PrincipalKind, RoleAssignment, ScopeLevel,
};
use crate::pipeline::{Happening, Observer};

/// The most vaults tracked.
const MAX_VAULTS: usize = 10_000;
/// The most alert marks kept per principal or vault.
const MAX_MARKS: usize = 500;
/// The most configuration changes kept per vault.
const MAX_CHANGES: usize = 500;
/// The most addresses whose geography is cached.
const MAX_GEO_CACHE: usize = 200_000;
/// The longest user agent or error text kept, in characters.
const MAX_TEXT: usize = 300;

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
    max_objects: usize,
    cap: usize,
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
struct Place {
    country: String,
    network: String,
    public: bool,
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

/// `text` cut to [`MAX_TEXT`] characters (borrowed when it is short enough).
fn clip(text: &str) -> Cow<'_, str> {
    // A text of at most MAX_TEXT bytes has at most MAX_TEXT characters.
    if text.len() <= MAX_TEXT {
        return Cow::Borrowed(text);
    }
    match text.char_indices().nth(MAX_TEXT) {
        Some((cut, _)) => Cow::Owned(format!("{}…", &text[..cut])),
        None => Cow::Borrowed(text),
    }
}

/// Whether an operation is a backup (reads the whole object out of the vault).
pub fn is_backup(operation: &str) -> bool {
    operation.ends_with("Backup")
}

fn record(state: &mut Collected, e: &AuditEvent<'_>, place: Option<&Place>, scratch: &mut String) {
    let t = e.time;
    state.events += 1;
    state.first = Some(state.first.map_or(t, |f| f.min(t)));
    state.last = Some(state.last.map_or(t, |l| l.max(t)));
    let grid = state.grid.get_or_insert_with(|| Grid::starting_at(t));
    let index = grid.place(t);
    let grid = *grid;
    state.overall.add(&grid, index, e.class, e.outcome);
    let (max_objects, cap) = (state.max_objects, state.cap);
    let identity = e.identity();
    let ok = e.outcome == Outcome::Ok;
    let op = e.operation.as_str();

    if let Some(vault) = state
        .vaults
        .entry_with(e.vault.as_str(), str::to_owned, || {
            VaultStats::new(t, max_objects, cap)
        })
    {
        vault.seen.again(t);
        vault.count(e.class, e.outcome);
        vault.series.add(&grid, index, e.class, e.outcome);
        if ok && place.is_some_and(|p| p.public) {
            vault.public_ok += 1;
        }
        if e.is_challenge() {
            state.challenges += 1;
            return;
        }
        if let Some(pv) =
            vault
                .principals
                .entry_with(identity.as_ref(), str::to_owned, Default::default)
        {
            pv.count += 1;
            pv.denied += u64::from(e.outcome.is_denial());
        }
        if ok {
            vault_change(vault, e, &identity);
        }
        object(vault, e, &identity, scratch);
        if ok && (e.class == OperationClass::Destroy || is_backup(op)) {
            let object = e
                .object
                .as_ref()
                .map(std::string::ToString::to_string)
                .unwrap_or_else(|| "vault".into());
            let init = || DestructiveUse {
                seen: Seen {
                    count: 0,
                    first: t,
                    last: t,
                },
                operations: Capped::new(cap),
                objects: Capped::new(cap),
            };
            if let Some(d) = vault
                .destructive
                .entry_with(identity.as_ref(), str::to_owned, init)
            {
                d.seen.again(t);
                d.operations.see(op, t);
                d.objects.see(&object, t);
            }
        }
    } else if e.is_challenge() {
        state.challenges += 1;
        return;
    }
    principal(state, e, &identity, (&grid, index), place, scratch);
}

/// Records a finished role assignment or diagnostic-setting change on one vault
/// (broader scopes are the alerts' to list: the report knows vaults by name only).
fn control_change(state: &mut Collected, e: &AuditEvent<'_>) {
    let Some(c) = e.control_plane() else { return };
    if c.status != ActivityStatus::Success
        || c.scope_level != ScopeLevel::Vault
        || e.vault.is_empty()
    {
        return;
    }
    let role = |r: &RoleAssignment<'_>| {
        let name = r.role_name.as_deref().map_or_else(
            || format!("role {}", r.role_definition_id.as_deref().unwrap_or("?")),
            str::to_owned,
        );
        let grantee = format!(
            "{} {}",
            r.principal_type.as_deref().unwrap_or("principal"),
            r.principal_id.as_deref().unwrap_or("?")
        );
        (name, grantee)
    };
    let setting = |c: &ControlPlane<'_>| {
        c.diagnostic_setting
            .as_ref()
            .and_then(|d| d.name.as_deref())
            .unwrap_or("?")
            .to_owned()
    };
    let change = match (c.change, &c.role_assignment) {
        (ChangeKind::RoleAssignmentCreated, Some(r)) => {
            let (name, grantee) = role(r);
            if !c
                .substatus
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("Created"))
                && e.status != 201
            {
                return;
            }
            (
                format!("role assignment: {name}"),
                "not assigned".to_owned(),
                format!("assigned to {grantee}"),
            )
        }
        (ChangeKind::RoleAssignmentDeleted, Some(r)) => {
            let (name, grantee) = role(r);
            (
                format!("role assignment: {name}"),
                format!("assigned to {grantee}"),
                "removed".to_owned(),
            )
        }
        (ChangeKind::DiagnosticSettingDeleted, _) => (
            format!("diagnostic setting {}", setting(c)),
            "exists".to_owned(),
            "deleted: AuditEvent no longer sent there".to_owned(),
        ),
        (ChangeKind::DiagnosticSettingWritten, _)
            if c.diagnostic_setting
                .as_ref()
                .and_then(|d| d.audit_event_flows)
                == Some(false) =>
        {
            (
                format!("diagnostic setting {}", setting(c)),
                "?".to_owned(),
                "rewritten without AuditEvent".to_owned(),
            )
        }
        _ => return,
    };
    let (max_objects, cap) = (state.max_objects, state.cap);
    let identity = e.identity().into_owned();
    if let Some(vault) = state
        .vaults
        .entry_with(e.vault.as_str(), str::to_owned, || {
            VaultStats::new(e.time, max_objects, cap)
        })
    {
        if vault.changes.len() < MAX_CHANGES {
            vault.changes.push(ChangeRecord {
                time: e.time,
                identity,
                operation: c.operation.to_string(),
                before: None,
                after: None,
                policy: None,
                control: Some(change),
            });
        } else {
            vault.changes_more += 1;
        }
    }
}

/// Records configuration changes (before/after) and access-policy edits, and counts
/// the writes that changed nothing visible.
fn vault_change(vault: &mut VaultStats, e: &AuditEvent<'_>, identity: &str) {
    let before = vault.last_config.as_ref().map(|(_, c)| c);
    if e.write_changes_nothing(before) {
        vault.unchanged_writes += 1;
    }
    let policy = e.policy_change.as_deref().filter(|p| !p.is_empty());
    let after = e.vault_config.as_deref();
    let changed = match (before, after) {
        (Some(b), Some(a)) => b != a,
        _ => false,
    };
    // Most events carry neither a configuration nor a policy: nothing is copied then.
    if changed || policy.is_some() {
        if vault.changes.len() < MAX_CHANGES {
            vault.changes.push(ChangeRecord {
                time: e.time,
                identity: identity.to_owned(),
                operation: e.operation.as_str().to_owned(),
                before: before.cloned(),
                after: after.cloned(),
                policy: policy.cloned(),
                control: None,
            });
        } else {
            vault.changes_more += 1;
        }
    }
    if let Some(config) = after {
        if vault.first_config.is_none() {
            vault.first_config = Some((e.time, config.clone()));
        }
        if vault
            .last_config
            .as_ref()
            .is_none_or(|(at, _)| *at <= e.time)
        {
            vault.last_config = Some((e.time, config.clone()));
        }
    }
}

fn object(vault: &mut VaultStats, e: &AuditEvent<'_>, identity: &str, scratch: &mut String) {
    let Some(obj) = &e.object else { return };
    let Some(name) = obj.name.as_deref() else {
        return;
    };
    if !matches!(
        obj.kind,
        ObjectKind::Secret | ObjectKind::Key | ObjectKind::Certificate
    ) || obj.deleted
    {
        return;
    }
    let t = e.time;
    scratch.clear();
    let _ = write!(scratch, "{}/{}", obj.kind, name);
    let init = || ObjectStats {
        seen: Seen {
            count: 0,
            first: t,
            last: t,
        },
        writes: 0,
        last_write: None,
        uses: 0,
        last_use: None,
        near_expiry: None,
        expired: None,
        deleted: None,
        exists: false,
    };
    let Some(o) = vault
        .objects
        .entry_with(scratch.as_str(), str::to_owned, init)
    else {
        return;
    };
    o.seen.again(t);
    let op = e.operation.as_str();
    if op.contains("NearExpiry") {
        o.near_expiry = o.near_expiry.max(Some(t));
        o.exists = true;
        return;
    }
    if op.contains("Expired") && op.ends_with("Notification") {
        o.expired = o.expired.max(Some(t));
        o.exists = true;
        return;
    }
    if e.outcome != Outcome::Ok {
        return;
    }
    o.exists = true;
    match e.class {
        OperationClass::Write => {
            o.writes += 1;
            if o.last_write.as_ref().is_none_or(|(at, _)| *at <= t) {
                o.last_write = Some((t, identity.to_owned()));
            }
        }
        OperationClass::ReadValue | OperationClass::CryptoUse if !is_backup(op) => {
            o.uses += 1;
            o.last_use = o.last_use.max(Some(t));
        }
        OperationClass::Destroy => o.deleted = o.deleted.max(Some(t)),
        _ => {}
    }
}

fn principal(
    state: &mut Collected,
    e: &AuditEvent<'_>,
    identity: &str,
    (grid, index): (&Grid, u32),
    place: Option<&Place>,
    scratch: &mut String,
) {
    let t = e.time;
    let cap = state.cap;
    let kind = e.principal.kind;
    let Some(p) = state.principals.entry_with(identity, str::to_owned, || {
        PrincipalStats::new(identity, kind, t, cap)
    }) else {
        return;
    };
    if p.upn.is_none() {
        p.upn = e.principal.upn.as_deref().map(|u| clip(u).into_owned());
    }
    if p.oid.is_none() {
        p.oid = e.principal.oid.as_deref().map(str::to_owned);
    }
    if p.kind == PrincipalKind::ServicePrincipal
        && kind != PrincipalKind::ServicePrincipal
        && kind != PrincipalKind::Anonymous
    {
        p.kind = kind;
    }
    p.seen.again(t);
    p.by_class[e.class.index()] += 1;
    p.by_outcome[e.outcome.index()] += 1;
    p.series.add(grid, index, e.class, e.outcome);
    let ok = e.outcome == Outcome::Ok;
    let denied = e.outcome.is_denial();
    if ok {
        p.last_ok = p.last_ok.max(Some(t));
        p.values_read += u64::from(e.class == OperationClass::ReadValue);
    }
    let vault_use = || VaultUse {
        seen: Seen {
            count: 0,
            first: t,
            last: t,
        },
        ok: 0,
        denied: 0,
        last_ok: None,
    };
    if let Some(v) = p
        .vaults
        .entry_with(e.vault.as_str(), str::to_owned, vault_use)
    {
        v.seen.again(t);
        v.ok += u64::from(ok);
        v.denied += u64::from(denied);
        if ok {
            v.last_ok = v.last_ok.max(Some(t));
        }
    }
    if let Some(name) = e
        .object
        .as_ref()
        .and_then(|o| o.name.as_ref().map(|n| (o.kind, n)))
    {
        scratch.clear();
        let _ = write!(scratch, "{}/{}/{}", e.vault, name.0, name.1);
        p.objects.see(scratch, t);
    }
    if let Some(place) = place {
        p.places.see(&place.country, t);
        p.networks.see(&place.network, t);
    }
    if let Some(app) = e.principal.appid.as_deref() {
        p.apps.see(app, t);
    }
    if let Some(ua) = e.client_info.as_deref().filter(|u| !u.trim().is_empty()) {
        p.user_agents.see(&clip(ua), t);
    }
    if kind == PrincipalKind::User {
        match e.principal.used_mfa() {
            Some(true) => p.mfa.with += 1,
            Some(false) => {
                p.mfa.without += 1;
                p.mfa.by_class[e.class.index()] += 1;
                match &mut p.mfa.without_seen {
                    Some(seen) => seen.again(t),
                    None => p.mfa.without_seen = Some(Seen::at(t)),
                }
                p.mfa
                    .methods
                    .see(&clip(e.principal.amr.as_deref().unwrap_or("")), t);
                p.mfa.operations.see(e.operation.as_str(), t);
            }
            None => p.mfa.unknown += 1,
        }
    }
    if denied {
        let d = &mut p.denials;
        d.by_outcome[e.outcome.index()] += 1;
        match &mut d.seen {
            Some(seen) => seen.again(t),
            None => d.seen = Some(Seen::at(t)),
        }
        d.vaults.see(e.vault.as_str(), t);
        d.operations.see(e.operation.as_str(), t);
        if d.sample.is_none() {
            d.sample = e
                .result_description
                .as_deref()
                .map(|r| clip(r).into_owned());
        }
    }
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
