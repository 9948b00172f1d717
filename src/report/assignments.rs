//! Role assignments as the Activity Log shows them over a report's period, kept for
//! the RBAC hygiene checks (`hygiene::rbac`).
//!
//! On a vault that uses Azure RBAC, who may read its data is a set of role
//! assignments, and the Activity Log is the only place they show: a write creates
//! one (`Succeeded.Created`) or re-applies one already in place (`Succeeded.OK`, an
//! infrastructure-as-code pipeline's daily run: it still shows the assignment
//! exists), a delete removes it. This folds them into the assignments that exist at
//! the end of the period, at any scope, and learns where each vault sits (its
//! resource id, and its subscription's management-group path) from the records that
//! name it, so an assignment at a resource group, subscription, management group or
//! the root can be said to reach it. Bounded: [`MAX_ASSIGNMENTS`] assignments and
//! [`MAX_PLACES`] vault places; past them, new ones are counted, not kept.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::detect::detectors::control_plane::coverage::vault_id;
use crate::event::roles::role_guid;
use crate::event::scope::{covers, ScopePath};
use crate::event::{ActivityStatus, AuditEvent, ChangeKind, ScopeLevel};

/// The most role assignments kept.
pub const MAX_ASSIGNMENTS: usize = 20_000;
/// The most vault places kept.
pub const MAX_PLACES: usize = 10_000;

/// One role assignment seen in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// Its resource id (lower case), when the record gave one.
    pub id: Option<String>,
    /// The grantee's object id (lower case).
    pub grantee: String,
    /// `User`, `Group`, `ServicePrincipal` … when the record said.
    pub grantee_type: Option<String>,
    /// The role definition's GUID (lower case), or its whole id when it has none.
    pub role: String,
    /// The role's name, when the record carried it.
    pub role_name: Option<String>,
    /// The scope (lower case).
    pub scope: String,
    /// How high the scope sits.
    pub level: ScopeLevel,
    /// The first successful write of it in the period.
    pub since: DateTime<Utc>,
    /// That write created it (rather than re-applying it).
    pub created: bool,
    /// Who wrote it then (identity).
    pub granted_by: String,
    /// Their UPN, when the record carried one.
    pub granted_by_upn: Option<String>,
    /// When it was removed, and by whom (identity); `None` while it exists.
    pub removed: Option<(DateTime<Utc>, String)>,
}

/// Where a vault sits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VaultPlace {
    /// `/subscriptions/…/resourcegroups/…/providers/microsoft.keyvault/vaults/<v>`.
    pub resource_id: String,
    /// The subscription's path under management groups (`properties.hierarchy`).
    pub hierarchy: Option<String>,
}

/// The vaults an assignment reaches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    /// Located vaults under its scope, by name, sorted.
    pub vaults: Vec<String>,
    /// Its scope sits above vaults and the Activity Log may not have named them all.
    pub may_reach_unlocated: bool,
}

/// Every role assignment of the period, and every vault's place.
#[derive(Debug, Clone, Default)]
pub struct Assignments {
    /// In the order first seen.
    pub list: Vec<Assignment>,
    /// Assignments left out past [`MAX_ASSIGNMENTS`].
    pub more: u64,
    /// Vault name -> place.
    pub places: HashMap<String, VaultPlace>,
    by_key: HashMap<String, usize>,
    by_id: HashMap<String, usize>,
}

impl Assignments {
    /// Folds one event (Activity Log changes only; the rest are ignored).
    pub fn observe(&mut self, e: &AuditEvent<'_>) {
        let Some(c) = e.control_plane() else { return };
        if let Some(rid) = c.resource_id.as_deref() {
            self.learn(rid, c.hierarchy.as_deref());
        }
        if c.status != ActivityStatus::Success {
            return;
        }
        let Some(ra) = c.role_assignment.as_ref() else {
            return;
        };
        let id = ra
            .id
            .as_deref()
            .or(c.resource_id.as_deref())
            .filter(|id| id.to_ascii_lowercase().contains("/roleassignments/"))
            .map(str::to_ascii_lowercase);
        let grantee = ra.principal_id.as_deref().map(str::to_ascii_lowercase);
        let role = ra
            .role_definition_id
            .as_deref()
            .map(|d| role_guid(d).unwrap_or(d).to_ascii_lowercase());
        let scope = c.scope.as_deref().map(str::to_ascii_lowercase);
        let key = match (&grantee, &role, &scope) {
            (Some(g), Some(r), Some(s)) => Some(format!("{g}|{r}|{s}")),
            _ => None,
        };
        let found = id
            .as_ref()
            .and_then(|i| self.by_id.get(i))
            .or_else(|| key.as_ref().and_then(|k| self.by_key.get(k)))
            .copied();
        let who = e.identity().into_owned();
        let upn = e.principal.upn.as_deref().map(str::to_owned);
        match c.change {
            ChangeKind::RoleAssignmentCreated => {
                let created = c
                    .substatus
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case("Created"))
                    || e.status == 201;
                if let Some(a) = found.and_then(|i| self.list.get_mut(i)) {
                    if a.removed.is_some() {
                        // Removed, then written again: it exists from now.
                        a.removed = None;
                        a.since = e.time;
                        a.created = created;
                        a.granted_by = who;
                        a.granted_by_upn = upn;
                    }
                    return;
                }
                let (Some(grantee), Some(role), Some(scope), Some(key)) =
                    (grantee, role, scope, key)
                else {
                    return;
                };
                if self.list.len() >= MAX_ASSIGNMENTS {
                    self.more += 1;
                    return;
                }
                let at = self.list.len();
                self.by_key.insert(key, at);
                if let Some(i) = &id {
                    self.by_id.insert(i.clone(), at);
                }
                self.list.push(Assignment {
                    id,
                    grantee,
                    grantee_type: ra.principal_type.as_deref().map(str::to_owned),
                    role,
                    role_name: ra.role_name.as_deref().map(str::to_owned),
                    level: c.scope_level,
                    scope,
                    since: e.time,
                    created,
                    granted_by: who,
                    granted_by_upn: upn,
                    removed: None,
                });
            }
            ChangeKind::RoleAssignmentDeleted => {
                if let Some(a) = found.and_then(|i| self.list.get_mut(i)) {
                    a.removed = Some((e.time, who));
                }
            }
            _ => {}
        }
    }

    fn learn(&mut self, rid: &str, hierarchy: Option<&str>) {
        let lower = rid.to_ascii_lowercase();
        let Some(vault) = vault_id(&lower) else {
            return;
        };
        let Some(name) = ScopePath::parse(vault).vault else {
            return;
        };
        if !self.places.contains_key(name) && self.places.len() >= MAX_PLACES {
            return;
        }
        let place = self.places.entry(name.to_owned()).or_default();
        if place.resource_id != vault {
            place.resource_id = vault.to_owned();
        }
        if let Some(h) = hierarchy {
            place.hierarchy = Some(h.to_ascii_lowercase());
        }
    }

    /// The assignments that still exist at the end of the period.
    pub fn existing(&self) -> impl Iterator<Item = &Assignment> {
        self.list.iter().filter(|a| a.removed.is_none())
    }

    /// The located vaults `a` reaches, and whether it may reach others.
    pub fn reach(&self, a: &Assignment) -> Reach {
        let path = ScopePath::parse(&a.scope);
        if a.level == ScopeLevel::Vault {
            return Reach {
                vaults: path.vault.map(str::to_owned).into_iter().collect(),
                may_reach_unlocated: false,
            };
        }
        let mg = path.management_group;
        let mut vaults: Vec<String> = self
            .places
            .iter()
            .filter(|(_, p)| match a.level {
                ScopeLevel::Root => true,
                ScopeLevel::ManagementGroup => mg.is_some_and(|mg| {
                    p.hierarchy
                        .as_deref()
                        .is_some_and(|h| h.split('/').any(|seg| seg.eq_ignore_ascii_case(mg)))
                }),
                _ => covers(&a.scope, &p.resource_id),
            })
            .map(|(n, _)| n.clone())
            .collect();
        vaults.sort();
        Reach {
            vaults,
            may_reach_unlocated: true,
        }
    }
}
