//! One simulated Key Vault request, before it is rendered as a resource-log record.
//!
//! Generators (the tenant's daily life, attack scenarios, scale principals) describe
//! *what happened*: who called from where with which client, which object, and how
//! the service answered. [`super::render`] then writes it exactly as Azure would,
//! deriving the URLs, `id`, error texts and access flags from this description and
//! from the vault's configuration at that moment, so no generator can get the
//! record shape wrong.

use std::net::IpAddr;
use std::sync::Arc;

use rand::RngExt;

use super::clock::{Tick, SECOND};
use super::ids::{self, SimRng};
use super::vaults::ObjKind;

/// The token claims a request carried.
#[derive(Debug, Clone)]
pub(crate) enum Identity {
    /// No token: `identity: {}` (the SDK challenge).
    None,
    /// A user's data-plane token (short claims).
    User(UserToken),
    /// An application's or managed identity's token (short claims, `idtyp: app`).
    App(AppToken),
    /// A user through ARM: URI claims (`objectidentifier`, `upn`, `name`) and `appid`.
    ArmUser {
        /// Object id.
        oid: String,
        /// User principal name.
        upn: String,
        /// Client application.
        appid: &'static str,
    },
    /// A service principal through ARM (a first-party service, or the tenant's deploy
    /// pipeline): `objectidentifier` and `appid` only.
    ArmApp {
        /// The service's object id in the tenant.
        oid: String,
        /// The service's application id.
        appid: std::borrow::Cow<'static, str>,
    },
}

/// A user's delegated token.
#[derive(Debug, Clone)]
pub(crate) struct UserToken {
    /// `oid`.
    pub oid: String,
    /// `upn` and `unique_name`.
    pub upn: String,
    /// `appid`: the portal, Azure CLI or Azure PowerShell.
    pub appid: &'static str,
    /// `ipaddr`: where the user signed in (a replayed token keeps the victim's).
    pub ipaddr: String,
    /// `amr`: `pwd` or `pwd mfa`.
    pub amr: &'static str,
}

/// An application's token (client credentials or managed identity).
#[derive(Debug, Clone)]
pub(crate) struct AppToken {
    /// `oid` of the service principal.
    pub oid: String,
    /// `appid`.
    pub appid: String,
    /// `appidacr`: `1` secret, `2` certificate or managed identity.
    pub appidacr: &'static str,
    /// Issuing tenant (`iss`).
    pub tenant: String,
    /// `xms_mirid` for managed identities.
    pub mirid: Option<String>,
    /// `uti`.
    pub uti: String,
    /// `iat` and `nbf` (epoch seconds).
    pub issued: i64,
    /// `exp` (epoch seconds).
    pub expires: i64,
}

impl AppToken {
    /// A token issued at `t` lasting `lifetime_s` seconds.
    pub(crate) fn issue(
        rng: &mut SimRng,
        principal: &AppPrincipal,
        t: Tick,
        lifetime_s: i64,
    ) -> Self {
        let issued = super::clock::epoch_seconds(t) - rng.random_range(0..300);
        AppToken {
            oid: principal.oid.clone(),
            appid: principal.appid.clone(),
            appidacr: principal.appidacr,
            tenant: principal.tenant.clone(),
            mirid: principal.mirid.clone(),
            uti: ids::uti(rng),
            issued,
            expires: issued + lifetime_s,
        }
    }
}

/// The identity facts of an application, from which tokens are issued.
#[derive(Debug, Clone)]
pub(crate) struct AppPrincipal {
    /// Object id.
    pub oid: String,
    /// Application id.
    pub appid: String,
    /// `appidacr`.
    pub appidacr: &'static str,
    /// Home tenant.
    pub tenant: String,
    /// Managed identity resource id.
    pub mirid: Option<String>,
}

/// Who called, from where, with what.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// The token.
    pub identity: Identity,
    /// `callerIpAddress`.
    pub ip: IpAddr,
    /// `clientInfo`.
    pub client_info: String,
    /// `subnetId` for callers inside a virtual network.
    pub subnet: Option<String>,
    /// `TLS1_2` or `TLS1_3`.
    pub tls: &'static str,
}

/// What a request did to its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    /// GET an object (value or key material).
    Read,
    /// PUT a new version (SecretSet, KeyCreate).
    Write,
    /// `/backup`.
    Backup,
    /// `/wrapkey`.
    Wrap,
    /// `/unwrapkey`.
    Unwrap,
    /// DELETE.
    Delete,
    /// DELETE of a deleted object (`/deletedsecrets/name`): a purge.
    Purge,
    /// An Event Grid notification the service logs itself.
    Notify,
}

/// What a request addressed.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// One object.
    Object {
        /// Secret, key or certificate.
        kind: ObjKind,
        /// Its name.
        name: String,
        /// The version read or created (shown in `id` on success).
        version: Option<String>,
        /// What was done.
        verb: Verb,
    },
    /// A whole collection (List operations carry no `id`).
    Collection {
        /// Secret, key or certificate.
        kind: ObjKind,
        /// The paging token of a follow-up page.
        page: Option<String>,
    },
    /// The vault itself through ARM.
    Arm {
        /// `management.azure.com` or a regional `<region>.management.azure.com`.
        host: String,
        /// A path suffix (`/accessPolicies/add`).
        suffix: &'static str,
        /// Extra query text (`&MaskCMKEnabledProperties=true`).
        query: &'static str,
    },
}

/// How the URL is spelled by the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// Azure SDKs and the CLI: `/secrets/name/?api-version=…`.
    Sdk,
    /// The portal: `/secrets/name?api-version=…&_=<ms>`.
    Portal,
}

/// How the service answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// 200.
    Ok,
    /// 401 to a request without a token (SDK challenge).
    Challenge,
    /// 401 to a request whose token was refused; the text is in the request.
    BadToken,
    /// 403 by RBAC or access policy (whichever model the vault uses then).
    Denied,
    /// 403 by the firewall (`isAddressAuthorized: false`).
    Firewall,
    /// 404.
    NotFound,
    /// 429.
    Throttled,
}

impl Outcome {
    /// `properties.httpStatusCode`.
    pub(crate) fn status(self) -> u16 {
        match self {
            Outcome::Ok => 200,
            Outcome::Challenge | Outcome::BadToken => 401,
            Outcome::Denied | Outcome::Firewall => 403,
            Outcome::NotFound => 404,
            Outcome::Throttled => 429,
        }
    }

    /// `resultSignature`.
    pub(crate) fn signature(self) -> &'static str {
        match self {
            Outcome::Ok => "OK",
            Outcome::Challenge | Outcome::BadToken => "Unauthorized",
            Outcome::Denied | Outcome::Firewall => "Forbidden",
            Outcome::NotFound => "Not Found",
            Outcome::Throttled => "Too Many Requests",
        }
    }

    /// Whether the call succeeded.
    pub(crate) fn is_success(self) -> bool {
        self == Outcome::Ok
    }
}

/// An access-policy entry added or removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PolicyEntry {
    /// `ObjectId`.
    pub object_id: String,
    /// `TenantId`.
    pub tenant_id: String,
    /// Key permissions.
    pub keys: Vec<&'static str>,
    /// Secret permissions.
    pub secrets: Vec<&'static str>,
    /// Certificate permissions.
    pub certificates: Vec<&'static str>,
}

/// Operation-specific properties.
#[derive(Debug, Clone, Default)]
pub(crate) enum Extra {
    /// Nothing more.
    #[default]
    None,
    /// `keyProperties` (KeyGet, KeyBackup, KeyCreate).
    KeyProperties,
    /// `secretProperties.attributes.exp` (expiry notifications, SecretSet with expiry).
    SecretExpiry(i64),
    /// An ARM call: the configuration (from the vault's history) and policy changes.
    Arm {
        /// `addedAccessPolicy`.
        added: Option<Box<PolicyEntry>>,
        /// `removedAccessPolicy`.
        removed: Option<Box<PolicyEntry>>,
    },
}

/// One request.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    /// When it was served.
    pub time: Tick,
    /// Index of the vault in the tenant.
    pub vault: usize,
    /// `operationName`.
    pub op: &'static str,
    /// The answer.
    pub outcome: Outcome,
    /// Who called.
    pub caller: Arc<Caller>,
    /// What was addressed.
    pub target: Target,
    /// The api-version (`operationVersion`).
    pub api: &'static str,
    /// URL spelling.
    pub style: Style,
    /// Operation-specific properties.
    pub extra: Extra,
    /// `resultDescription` when the generator knows it (refused tokens).
    pub description: Option<String>,
    /// `durationMs`.
    pub duration_ms: u32,
    /// `correlationId`.
    pub correlation: String,
}

impl Request {
    /// A request with a random correlation id and a duration typical of `op`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        rng: &mut SimRng,
        time: Tick,
        vault: usize,
        op: &'static str,
        outcome: Outcome,
        caller: &Arc<Caller>,
        target: Target,
        api: &'static str,
        style: Style,
    ) -> Self {
        let duration_ms = duration_for(rng, op, outcome);
        Request {
            time,
            vault,
            op,
            outcome,
            caller: Arc::clone(caller),
            target,
            api,
            style,
            extra: Extra::None,
            description: None,
            duration_ms,
            correlation: ids::guid(rng),
        }
    }

    /// Sets the operation-specific properties.
    pub(crate) fn with_extra(mut self, extra: Extra) -> Self {
        self.extra = extra;
        self
    }

    /// Sets `resultDescription`.
    pub(crate) fn with_description(mut self, text: String) -> Self {
        self.description = Some(text);
        self
    }
}

/// A plausible server-side duration in milliseconds.
fn duration_for(rng: &mut SimRng, op: &str, outcome: Outcome) -> u32 {
    let (lo, hi) = if !outcome.is_success() {
        (2, 40)
    } else if op.starts_with("Vault") {
        (12, 140)
    } else if op.ends_with("List") || op.ends_with("Backup") {
        (20, 130)
    } else if op.ends_with("Set") || op.ends_with("Create") || op.ends_with("Import") {
        (40, 260)
    } else {
        (4, 60)
    };
    let mut d = rng.random_range(lo..=hi);
    if rng.random_bool(0.01) {
        d += rng.random_range(200..1500);
    }
    d
}

/// A data-plane object target.
pub(crate) fn object(kind: ObjKind, name: &str, version: Option<&str>, verb: Verb) -> Target {
    Target::Object {
        kind,
        name: name.to_owned(),
        version: version.map(str::to_owned),
        verb,
    }
}

/// A collection target (List).
pub(crate) fn collection(kind: ObjKind) -> Target {
    Target::Collection { kind, page: None }
}

/// The public ARM endpoint target.
pub(crate) fn arm() -> Target {
    Target::Arm {
        host: "management.azure.com".into(),
        suffix: "",
        query: "",
    }
}

/// A short pause between two calls of one client, in ticks.
pub(crate) fn gap(rng: &mut SimRng, min_ms: i64, max_ms: i64) -> Tick {
    rng.random_range(min_ms..=max_ms) * (SECOND / 1000) + rng.random_range(0..10_000)
}
