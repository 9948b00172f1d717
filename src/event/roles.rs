//! Role knowledge: which Azure roles read Key Vault data or can give access to it.
//!
//! An Activity Log role assignment names its role only by the role definition's GUID.
//! Whether that grant matters (does it read secrets? can it grant itself more?) is
//! data a SOC must be able to read and extend, so it lives in a TOML file:
//! `detectors/roles/azure_roles.toml`, built in with `include_str!` like the detector
//! files and replaceable by a file of the user's own ([`RoleCatalog::load`]). A role
//! definition the file does not list (a custom role) is described by its `[unknown]`
//! entry, which says it possibly grants data access.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

/// The built-in roles file.
pub const BUILTIN_ROLES: &str = include_str!("../../detectors/roles/azure_roles.toml");

/// Where the built-in roles file lives in the source tree (for messages).
pub const BUILTIN_ROLES_PATH: &str = "detectors/roles/azure_roles.toml";

static BUILTIN: LazyLock<RoleCatalog> = LazyLock::new(|| {
    // Checked by a unit test: the built-in file always parses.
    RoleCatalog::parse(BUILTIN_ROLES, BUILTIN_ROLES_PATH).unwrap_or_else(|_| RoleCatalog {
        roles: Vec::new(),
        unknown: UnknownRole::default(),
    })
});

/// Key Vault data a role reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataKind {
    /// Secret values.
    Secrets,
    /// Key material: cryptographic use, backup or release.
    Keys,
    /// Certificate contents and policies.
    Certificates,
}

/// How a role can give access, to itself or others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantKind {
    /// It can create role assignments.
    RoleAssignments,
    /// It can write a vault, hence its access policies (access-policy vaults).
    AccessPolicies,
}

/// One role, as the file describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleDef {
    /// The role definition's GUID, lower case.
    pub id: String,
    /// The role's name as Azure shows it.
    pub name: String,
    /// Key Vault data it reads on RBAC vaults.
    pub reads: Vec<DataKind>,
    /// How it can give access.
    pub grants: Vec<GrantKind>,
    /// Microsoft counts it among the privileged administrator roles.
    pub privileged: bool,
    /// What it does, for the analyst.
    pub summary: String,
}

impl RoleDef {
    /// Reads nothing and grants nothing: it only sees or manages vaults.
    pub fn control_plane_only(&self) -> bool {
        self.reads.is_empty() && self.grants.is_empty()
    }

    /// Reads secret values.
    pub fn reads_secrets(&self) -> bool {
        self.reads.contains(&DataKind::Secrets)
    }

    /// Can give access (to itself or others), by role assignment or access policy.
    pub fn manages_access(&self) -> bool {
        !self.grants.is_empty()
    }
}

/// What is assumed of a role definition the file does not list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnknownRole {
    /// The data it is assumed to possibly read.
    pub reads: Vec<DataKind>,
    /// How it is assumed to possibly give access.
    pub grants: Vec<GrantKind>,
    /// What an alert says about it.
    pub summary: String,
}

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleFile {
    /// The entry for unlisted role definitions.
    unknown: UnknownRole,
    /// The listed roles.
    #[serde(default)]
    role: Vec<RoleDef>,
}

/// What a role definition id is known to give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleAccess<'c> {
    /// A role the file lists.
    Known(&'c RoleDef),
    /// A role it does not: possibly granting data access.
    Unknown(&'c UnknownRole),
}

impl RoleAccess<'_> {
    /// The data it reads (or possibly reads, when unknown).
    pub fn reads(&self) -> &[DataKind] {
        match self {
            RoleAccess::Known(r) => &r.reads,
            RoleAccess::Unknown(u) => &u.reads,
        }
    }
}

/// A roles file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RolesError {
    /// The file could not be read.
    #[error("cannot read the roles file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Not TOML of the expected form (unknown keys included).
    #[error("invalid roles file {origin}: {message}")]
    Parse {
        /// The file.
        origin: String,
        /// What is wrong and where.
        message: String,
    },
    /// A value breaks a rule of the file (a malformed or repeated id …).
    #[error("invalid roles file {origin}: role {role:?}: {message}")]
    Invalid {
        /// The file.
        origin: String,
        /// The role's name or id.
        role: String,
        /// What is wrong.
        message: String,
    },
}

/// The roles kvwatch knows, by role definition GUID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleCatalog {
    roles: Vec<RoleDef>,
    unknown: UnknownRole,
}

impl RoleCatalog {
    /// The built-in catalogue (`detectors/roles/azure_roles.toml`).
    pub fn builtin() -> &'static RoleCatalog {
        &BUILTIN
    }

    /// Loads a roles file of the user's own, replacing the built-in one.
    pub fn load(path: &Path) -> Result<RoleCatalog, RolesError> {
        let text = std::fs::read_to_string(path).map_err(|source| RolesError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and checks roles file text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<RoleCatalog, RolesError> {
        let file: RoleFile = toml::from_str(text).map_err(|e| RolesError::Parse {
            origin: origin.to_owned(),
            message: e.to_string(),
        })?;
        let invalid = |role: &str, message: &str| RolesError::Invalid {
            origin: origin.to_owned(),
            role: role.to_owned(),
            message: message.to_owned(),
        };
        let mut ids = HashSet::new();
        let mut names = HashSet::new();
        let mut roles = file.role;
        for role in &mut roles {
            role.id.make_ascii_lowercase();
            if !is_guid(&role.id) {
                return Err(invalid(
                    &role.name,
                    "`id` is not a GUID (8-4-4-4-12 hex digits)",
                ));
            }
            if role.name.trim().is_empty() || role.summary.trim().is_empty() {
                return Err(invalid(&role.id, "`name` and `summary` must not be empty"));
            }
            if !ids.insert(role.id.clone()) {
                return Err(invalid(&role.name, "`id` is listed twice"));
            }
            if !names.insert(role.name.to_ascii_lowercase()) {
                return Err(invalid(&role.name, "`name` is listed twice"));
            }
            if has_repeats(&role.reads) || has_repeats(&role.grants) {
                return Err(invalid(&role.name, "`reads` or `grants` repeats a value"));
            }
        }
        if file.unknown.summary.trim().is_empty() {
            return Err(invalid("[unknown]", "`summary` must not be empty"));
        }
        Ok(RoleCatalog {
            roles,
            unknown: file.unknown,
        })
    }

    /// The role a role definition id names: a bare GUID or a full id
    /// (`/subscriptions/…/providers/Microsoft.Authorization/roleDefinitions/<guid>`),
    /// any case.
    pub fn get(&self, role_definition_id: &str) -> Option<&RoleDef> {
        let guid = role_guid(role_definition_id)?;
        self.roles.iter().find(|r| r.id.eq_ignore_ascii_case(guid))
    }

    /// What a role definition id is known (or assumed) to give.
    pub fn access(&self, role_definition_id: &str) -> RoleAccess<'_> {
        match self.get(role_definition_id) {
            Some(role) => RoleAccess::Known(role),
            None => RoleAccess::Unknown(&self.unknown),
        }
    }

    /// Every listed role.
    pub fn roles(&self) -> &[RoleDef] {
        &self.roles
    }

    /// The entry for unlisted role definitions.
    pub fn unknown(&self) -> &UnknownRole {
        &self.unknown
    }
}

/// The GUID at the end of a role definition id (`…/roleDefinitions/<guid>` or a bare
/// GUID); `None` when it is not one.
pub fn role_guid(role_definition_id: &str) -> Option<&str> {
    let trimmed = role_definition_id.trim().trim_end_matches('/');
    let last = trimmed.rsplit('/').next().unwrap_or(trimmed);
    is_guid(last).then_some(last)
}

/// `8-4-4-4-12` hexadecimal digits.
pub fn is_guid(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn has_repeats<T: PartialEq>(items: &[T]) -> bool {
    items
        .iter()
        .enumerate()
        .any(|(i, a)| items[..i].iter().any(|b| a == b))
}

#[cfg(test)]
#[path = "roles_tests.rs"]
mod tests;
