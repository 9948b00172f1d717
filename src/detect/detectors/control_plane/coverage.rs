//! Which known vaults a scope covers.
//!
//! A grant, a lock or a diagnostic setting applies at a scope and everything below
//! it. The detector learns each vault's resource id (and its subscription's place
//! under management groups, `properties.hierarchy`) from the Activity Log records
//! that name the vault, then answers "which vaults does this scope reach?"
//! (`event::scope::covers`). A scope above a vault whose vaults are not known yet is
//! said to reach "vaults kvwatch has not located yet", never nothing.

use super::state::{Place, State, MAX_PLACES};
use crate::event::scope::{covers, ScopePath};
use crate::event::{ControlPlane, ScopeLevel};

/// The vaults a scope reaches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Known vaults it reaches, by name (at most [`SHOWN`]).
    pub vaults: Vec<String>,
    /// How many known vaults it reaches in all.
    pub total: usize,
    /// The scope sits above vaults kvwatch has not located (it may reach others).
    pub may_reach_unknown: bool,
}

/// The most vault names an alert lists.
pub const SHOWN: usize = 10;

/// Learns the place of the vault an Activity Log record names.
pub fn learn(state: &mut State, c: &ControlPlane<'_>, now: u32) {
    let Some(rid) = c.resource_id.as_deref() else {
        return;
    };
    let Some(vault_id) = vault_id(rid) else {
        return;
    };
    let Some(name) = ScopePath::parse(vault_id).vault else {
        return;
    };
    if !state.places.contains_key(name) && state.places.len() >= MAX_PLACES {
        return;
    }
    let p = state.places.entry(name.to_owned()).or_default();
    if p.resource_id != vault_id {
        p.resource_id = vault_id.to_owned();
    }
    if let Some(h) = c.hierarchy.as_deref() {
        if p.hierarchy != h {
            p.hierarchy = h.to_ascii_lowercase();
        }
    }
    p.last = now;
}

/// The vault's own id inside a resource id (`…/providers/microsoft.keyvault/vaults/<v>`),
/// lower case as the decoder writes it; `None` for anything else (deleted vaults
/// included: their id says nothing of the resource group).
pub fn vault_id(rid: &str) -> Option<&str> {
    const NEEDLE: &str = "/providers/microsoft.keyvault/vaults/";
    let at = rid.find(NEEDLE)? + NEEDLE.len();
    let end = rid[at..].find('/').map_or(rid.len(), |i| at + i);
    (end > at).then(|| &rid[..end])
}

/// The vaults `scope` (lower case) at `level` reaches.
pub fn of(state: &State, scope: &str, level: ScopeLevel) -> Coverage {
    let mut out = Coverage::default();
    let reaches = |p: &Place| match level {
        ScopeLevel::ManagementGroup => ScopePath::parse(scope).management_group.is_some_and(|mg| {
            p.hierarchy
                .split('/')
                .any(|seg| seg.eq_ignore_ascii_case(mg))
        }),
        ScopeLevel::Root => true,
        _ => covers(scope, &p.resource_id),
    };
    let mut names: Vec<&String> = state
        .places
        .iter()
        .filter(|(_, p)| reaches(p))
        .map(|(n, _)| n)
        .collect();
    names.sort();
    out.total = names.len();
    out.vaults = names.into_iter().take(SHOWN).cloned().collect();
    out.may_reach_unknown = !matches!(
        level,
        ScopeLevel::Vault | ScopeLevel::Resource | ScopeLevel::Unknown
    );
    if level == ScopeLevel::Vault && out.total == 0 {
        if let Some(v) = ScopePath::parse(scope).vault {
            out.vaults.push(v.to_ascii_lowercase());
            out.total = 1;
        }
    }
    out
}

/// Whether a grant at `scope` reaches `vault` (a vault not located yet is assumed
/// reached by any scope above vaults).
pub fn reaches(state: &State, scope: &str, level: ScopeLevel, vault: &str) -> bool {
    match level {
        ScopeLevel::Vault => ScopePath::parse(scope)
            .vault
            .is_some_and(|v| v.eq_ignore_ascii_case(vault)),
        ScopeLevel::Resource | ScopeLevel::Unknown => false,
        ScopeLevel::Root => true,
        _ => match state.places.get(vault) {
            Some(p) => match level {
                ScopeLevel::ManagementGroup => ScopePath::parse(scope)
                    .management_group
                    .is_some_and(|mg| p.hierarchy.split('/').any(|s| s.eq_ignore_ascii_case(mg))),
                _ => covers(scope, &p.resource_id),
            },
            None => true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vault_id_inside_a_resource_id() {
        let table = [
            (
                "/subscriptions/s/resourcegroups/rg/providers/microsoft.keyvault/vaults/kv1/providers/microsoft.insights/diagnosticsettings/x",
                Some("/subscriptions/s/resourcegroups/rg/providers/microsoft.keyvault/vaults/kv1"),
            ),
            (
                "/subscriptions/s/resourcegroups/rg/providers/microsoft.keyvault/vaults/kv1",
                Some("/subscriptions/s/resourcegroups/rg/providers/microsoft.keyvault/vaults/kv1"),
            ),
            ("/subscriptions/s/providers/microsoft.keyvault/locations/w/deletedvaults/kv1", None),
            ("/subscriptions/s/resourcegroups/rg/providers/microsoft.keyvault/vaults/", None),
            ("", None),
        ];
        for (rid, want) in table {
            assert_eq!(vault_id(rid), want, "{rid}");
        }
    }

    #[test]
    fn scopes_reach_the_vaults_below_them() {
        let mut s = State::default();
        for (name, rg, sub) in [
            ("kv1", "rg", "s1"),
            ("kv2", "rg2", "s1"),
            ("kv3", "rg", "s2"),
        ] {
            s.places.insert(
                name.into(),
                Place {
                    resource_id: format!(
                        "/subscriptions/{sub}/resourcegroups/{rg}/providers/microsoft.keyvault/vaults/{name}"
                    ),
                    hierarchy: format!("t/mg-root/mg-{sub}/{sub}"),
                    last: 0,
                },
            );
        }
        let names = |scope: &str| of(&s, scope, ScopeLevel::of(scope)).vaults;
        assert_eq!(names("/subscriptions/s1"), ["kv1", "kv2"]);
        assert_eq!(names("/subscriptions/s1/resourcegroups/rg"), ["kv1"]);
        assert_eq!(
            names("/providers/microsoft.management/managementgroups/mg-s2"),
            ["kv3"]
        );
        assert_eq!(names("/"), ["kv1", "kv2", "kv3"]);
        assert!(reaches(
            &s,
            "/subscriptions/s1",
            ScopeLevel::Subscription,
            "kv2"
        ));
        assert!(!reaches(
            &s,
            "/subscriptions/s2",
            ScopeLevel::Subscription,
            "kv2"
        ));
        assert!(reaches(
            &s,
            "/subscriptions/s2",
            ScopeLevel::Subscription,
            "unlocated"
        ));
        assert!(!reaches(
            &s,
            "/subscriptions/s1/resourcegroups/rg/providers/microsoft.keyvault/vaults/kv1",
            ScopeLevel::Vault,
            "kv2"
        ));
    }
}
