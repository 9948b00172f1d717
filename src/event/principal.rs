//! Who made a request: one principal key out of Entra's many claim spellings.
//!
//! Data-plane calls carry short claims (`oid`, `upn`, `appid`, `idtyp`, `xms_mirid`);
//! calls relayed by ARM carry long URI claims; Log Analytics flattens both into
//! columns. Every decoder fills one [`Claims`] and [`Principal::from_claims`] picks the
//! key: `oid`, else the URI object identifier, else `appid`, else anonymous.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

use super::text::lower;

/// The identity claims a record carried, whatever their spelling in the source.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claims<'a> {
    /// `oid`: the object id of the caller.
    pub oid: Option<Cow<'a, str>>,
    /// `http://schemas.microsoft.com/identity/claims/objectidentifier` (ARM relays).
    pub object_identifier: Option<Cow<'a, str>>,
    /// `upn`, or the xmlsoap URI `upn` claim.
    pub upn: Option<Cow<'a, str>>,
    /// `unique_name` (a UPN for guests and older tokens).
    pub unique_name: Option<Cow<'a, str>>,
    /// `appid`: the client application.
    pub appid: Option<Cow<'a, str>>,
    /// `idtyp`: `app` or `user` when present.
    pub idtyp: Option<Cow<'a, str>>,
    /// `xms_mirid`: the managed identity's resource id.
    pub xms_mirid: Option<Cow<'a, str>>,
    /// `amr` or the URI `authnmethodsreferences` claim (`pwd`, `pwd mfa` …).
    pub amr: Option<Cow<'a, str>>,
    /// `scp`: delegated scopes (present on user tokens).
    pub scp: Option<Cow<'a, str>>,
    /// `appidacr`: 0 public client, 1 secret, 2 certificate.
    pub appidacr: Option<Cow<'a, str>>,
    /// `tid` or the URI `tenantid` claim.
    pub tenant_id: Option<Cow<'a, str>>,
    /// `iss`: the token issuer (carries the tenant when `tid` is absent).
    pub iss: Option<Cow<'a, str>>,
}

impl<'a> Claims<'a> {
    /// Drops claims that are empty or whitespace (CSV cells, `"upn": ""`), so an
    /// empty claim never makes an anonymous caller look identified.
    pub fn without_blanks(self) -> Self {
        fn keep(v: Option<Cow<'_, str>>) -> Option<Cow<'_, str>> {
            v.filter(|s| !s.trim().is_empty())
        }
        Claims {
            oid: keep(self.oid),
            object_identifier: keep(self.object_identifier),
            upn: keep(self.upn),
            unique_name: keep(self.unique_name),
            appid: keep(self.appid),
            idtyp: keep(self.idtyp),
            xms_mirid: keep(self.xms_mirid),
            amr: keep(self.amr),
            scp: keep(self.scp),
            appidacr: keep(self.appidacr),
            tenant_id: keep(self.tenant_id),
            iss: keep(self.iss),
        }
    }

    /// Whether any identifying claim is present.
    pub fn is_empty(&self) -> bool {
        self.oid.is_none()
            && self.object_identifier.is_none()
            && self.appid.is_none()
            && self.upn.is_none()
            && self.unique_name.is_none()
    }
}

/// The kinds of principal baselines are kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// A person (a UPN, delegated scopes or `idtyp: user`).
    User,
    /// An application using its own credentials.
    ServicePrincipal,
    /// An Azure managed identity (`xms_mirid`).
    ManagedIdentity,
    /// No identity at all.
    Anonymous,
}

impl PrincipalKind {
    /// Every kind, in a stable order.
    pub const ALL: [PrincipalKind; 4] = [
        Self::User,
        Self::ServicePrincipal,
        Self::ManagedIdentity,
        Self::Anonymous,
    ];

    /// The stable snake_case label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::ServicePrincipal => "service_principal",
            Self::ManagedIdentity => "managed_identity",
            Self::Anonymous => "anonymous",
        }
    }

    /// Index into [`PrincipalKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for PrincipalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The caller of a request, normalised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Principal<'a> {
    /// The baseline key (lower case): `oid`, URI object id, `appid`; `None` if anonymous.
    pub key: Option<Cow<'a, str>>,
    /// What kind of principal this is.
    pub kind: PrincipalKind,
    /// The object id (either spelling), lower case.
    pub oid: Option<Cow<'a, str>>,
    /// The user principal name (or `unique_name`).
    pub upn: Option<Cow<'a, str>>,
    /// The client application id, lower case.
    pub appid: Option<Cow<'a, str>>,
    /// `idtyp` as given.
    pub idtyp: Option<Cow<'a, str>>,
    /// The managed identity resource id.
    pub xms_mirid: Option<Cow<'a, str>>,
    /// Authentication methods (`amr`), for MFA hygiene checks.
    pub amr: Option<Cow<'a, str>>,
    /// The tenant that issued the token, when known.
    pub tenant_id: Option<Cow<'a, str>>,
}

impl<'a> Principal<'a> {
    /// The anonymous principal.
    pub fn anonymous() -> Self {
        Principal {
            key: None,
            kind: PrincipalKind::Anonymous,
            oid: None,
            upn: None,
            appid: None,
            idtyp: None,
            xms_mirid: None,
            amr: None,
            tenant_id: None,
        }
    }

    /// Builds the principal from whatever claims the record carried.
    pub fn from_claims(claims: Claims<'a>) -> Self {
        let oid = claims.oid.or(claims.object_identifier).map(lower);
        let appid = claims.appid.map(lower);
        let key = oid.clone().or_else(|| appid.clone());
        let upn = claims.upn.or(claims.unique_name);
        let kind = kind_of(&key, &upn, &claims.idtyp, &claims.xms_mirid, &claims.scp);
        let tenant_id = claims
            .tenant_id
            .or_else(|| claims.iss.and_then(tenant_from_issuer))
            .map(lower);
        Principal {
            key,
            kind,
            oid,
            upn,
            appid,
            idtyp: claims.idtyp,
            xms_mirid: claims.xms_mirid,
            amr: claims.amr,
            tenant_id,
        }
    }

    /// Whether the token shows multi-factor authentication (`mfa` in `amr`).
    pub fn used_mfa(&self) -> Option<bool> {
        self.amr.as_deref().map(|amr| {
            amr.split([' ', ',', '"', '[', ']'])
                .any(|m| m.eq_ignore_ascii_case("mfa"))
        })
    }

    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Principal<'static> {
        Principal {
            key: self.key.map(own),
            kind: self.kind,
            oid: self.oid.map(own),
            upn: self.upn.map(own),
            appid: self.appid.map(own),
            idtyp: self.idtyp.map(own),
            xms_mirid: self.xms_mirid.map(own),
            amr: self.amr.map(own),
            tenant_id: self.tenant_id.map(own),
        }
    }
}

fn own(s: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(s.into_owned())
}

fn kind_of(
    key: &Option<Cow<'_, str>>,
    upn: &Option<Cow<'_, str>>,
    idtyp: &Option<Cow<'_, str>>,
    mirid: &Option<Cow<'_, str>>,
    scp: &Option<Cow<'_, str>>,
) -> PrincipalKind {
    let idtyp = idtyp.as_deref().unwrap_or("");
    if key.is_none() && upn.is_none() {
        PrincipalKind::Anonymous
    } else if mirid.is_some() {
        PrincipalKind::ManagedIdentity
    } else if idtyp.eq_ignore_ascii_case("app") {
        PrincipalKind::ServicePrincipal
    } else if idtyp.eq_ignore_ascii_case("user") || upn.is_some() || scp.is_some() {
        PrincipalKind::User
    } else {
        PrincipalKind::ServicePrincipal
    }
}

/// `https://sts.windows.net/<tenant>/` → `<tenant>`.
fn tenant_from_issuer(iss: Cow<'_, str>) -> Option<Cow<'_, str>> {
    let trimmed = iss.trim_end_matches('/');
    let start = trimmed.rfind('/')? + 1;
    let end = trimmed.len();
    if start >= end {
        return None;
    }
    Some(match iss {
        Cow::Borrowed(b) => Cow::Borrowed(&b[start..end]),
        Cow::Owned(o) => Cow::Owned(o[start..end].to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &'static str) -> Option<Cow<'static, str>> {
        Some(Cow::Borrowed(s))
    }

    #[test]
    fn key_and_kind_table() {
        let table: Vec<(Claims<'static>, Option<&str>, PrincipalKind)> = vec![
            (
                Claims {
                    oid: c("AA"),
                    appid: c("bb"),
                    upn: c("u@x"),
                    ..Default::default()
                },
                Some("aa"),
                PrincipalKind::User,
            ),
            (
                Claims {
                    object_identifier: c("cc"),
                    upn: c("u@x"),
                    ..Default::default()
                },
                Some("cc"),
                PrincipalKind::User,
            ),
            (
                Claims {
                    appid: c("dd"),
                    ..Default::default()
                },
                Some("dd"),
                PrincipalKind::ServicePrincipal,
            ),
            (
                Claims {
                    oid: c("ee"),
                    appid: c("ff"),
                    idtyp: c("app"),
                    ..Default::default()
                },
                Some("ee"),
                PrincipalKind::ServicePrincipal,
            ),
            (
                Claims {
                    oid: c("gg"),
                    xms_mirid: c("/subscriptions/s/x"),
                    idtyp: c("app"),
                    ..Default::default()
                },
                Some("gg"),
                PrincipalKind::ManagedIdentity,
            ),
            (
                Claims {
                    oid: c("hh"),
                    scp: c("user_impersonation"),
                    ..Default::default()
                },
                Some("hh"),
                PrincipalKind::User,
            ),
            (Claims::default(), None, PrincipalKind::Anonymous),
        ];
        for (claims, key, kind) in table {
            let p = Principal::from_claims(claims.clone());
            assert_eq!(p.key.as_deref(), key, "{claims:?}");
            assert_eq!(p.kind, kind, "{claims:?}");
        }
    }

    #[test]
    fn tenant_and_mfa() {
        let p = Principal::from_claims(Claims {
            oid: c("a"),
            iss: c("https://sts.windows.net/D2AF6EF7-0000/"),
            amr: c("pwd mfa"),
            ..Default::default()
        });
        assert_eq!(p.tenant_id.as_deref(), Some("d2af6ef7-0000"));
        assert_eq!(p.used_mfa(), Some(true));
        let p = Principal::from_claims(Claims {
            oid: c("a"),
            amr: c("pwd"),
            ..Default::default()
        });
        assert_eq!(p.used_mfa(), Some(false));
        assert_eq!(Principal::anonymous().used_mfa(), None);
    }
}
