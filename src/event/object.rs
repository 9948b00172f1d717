//! The Key Vault object a request touched, from `properties.id` or `requestUri`.
//!
//! `id` names the object (and its version on reads); List operations carry no `id`,
//! so the collection is recovered from `requestUri`. Names are lower-cased because
//! Key Vault object names are case-insensitive: `Db-Password` and `db-password` are
//! one secret for "distinct secrets read".

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

use super::text::{lower, sub_cow};

/// The kinds of object a request can touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// A secret (also the exportable half of a certificate).
    Secret,
    /// A key.
    Key,
    /// A certificate.
    Certificate,
    /// A certificate issuer.
    CertificateIssuer,
    /// The certificate contacts.
    CertificateContacts,
    /// A managed storage account (legacy feature).
    Storage,
    /// The vault or managed HSM itself.
    Vault,
    /// A path this build does not recognise.
    Other,
}

impl ObjectKind {
    /// The stable label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Secret => "secret",
            Self::Key => "key",
            Self::Certificate => "certificate",
            Self::CertificateIssuer => "certificate_issuer",
            Self::CertificateContacts => "certificate_contacts",
            Self::Storage => "storage",
            Self::Vault => "vault",
            Self::Other => "other",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reference to the object of a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ObjectRef<'a> {
    /// What kind of object.
    pub kind: ObjectKind,
    /// Its name, lower case; `None` for a whole collection (List operations).
    pub name: Option<Cow<'a, str>>,
    /// The version, when the path carried one.
    pub version: Option<Cow<'a, str>>,
    /// The path addressed the deleted (soft-deleted) collection.
    pub deleted: bool,
}

impl ObjectRef<'_> {
    /// Detaches from the input buffer.
    pub fn into_owned(self) -> ObjectRef<'static> {
        ObjectRef {
            kind: self.kind,
            name: self.name.map(|n| Cow::Owned(n.into_owned())),
            version: self.version.map(|v| Cow::Owned(v.into_owned())),
            deleted: self.deleted,
        }
    }
}

impl fmt::Display for ObjectRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{}/{}", self.kind, name),
            None => write!(f, "{}/*", self.kind),
        }
    }
}

/// The object named by `properties.id`, else by `requestUri`.
pub fn object_from<'a>(
    id: Option<&Cow<'a, str>>,
    request_uri: Option<&Cow<'a, str>>,
) -> Option<ObjectRef<'a>> {
    id.and_then(parse_object_url)
        .or_else(|| request_uri.and_then(parse_object_url))
}

/// Parses a Key Vault, Managed HSM or ARM URL into an object reference, borrowing
/// the name and version from the URL when they need no lower-casing.
pub fn parse_object_url<'a>(url: &Cow<'a, str>) -> Option<ObjectRef<'a>> {
    let host_start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[host_start..];
    let host_len = rest.find('/').unwrap_or(rest.len());
    let host = &rest[..host_len];
    if host.is_empty() {
        return None;
    }
    let data_plane = host.contains(".vault.") || host.contains(".managedhsm.");
    if !data_plane && (host.contains("management.") || host.contains("vaultcore.")) {
        return Some(vault_ref());
    }
    let path_start = host_start + host_len;
    let path_end = url[path_start..]
        .find(['?', '#'])
        .map_or(url.len(), |i| path_start + i);
    // (start, end) of each non-empty path segment, as offsets into `url`.
    let mut segments = url[path_start..path_end]
        .split('/')
        .scan(path_start, |offset, seg| {
            let start = *offset;
            *offset += seg.len() + 1;
            Some((start, start + seg.len()))
        })
        .filter(|(s, e)| e > s);
    let Some((c0, c1)) = segments.next() else {
        return Some(vault_ref());
    };
    let (kind, deleted) = collection_kind(&url[c0..c1]);
    let name = segments.next();
    let rest = segments.next();
    let text = |span: (usize, usize)| &url[span.0..span.1];
    if kind == ObjectKind::Certificate {
        match name.map(text) {
            Some(n) if n.eq_ignore_ascii_case("issuers") => {
                return Some(named(
                    url,
                    ObjectKind::CertificateIssuer,
                    rest,
                    None,
                    deleted,
                ))
            }
            Some(n) if n.eq_ignore_ascii_case("contacts") => {
                return Some(named(
                    url,
                    ObjectKind::CertificateContacts,
                    None,
                    None,
                    deleted,
                ))
            }
            _ => {}
        }
    }
    // `secrets/restore`, `keys/import` …: the name is in the body, not the path.
    let name = name.filter(|&span| {
        let n = text(span);
        !n.eq_ignore_ascii_case("restore") && !n.eq_ignore_ascii_case("import")
    });
    let version = rest.filter(|&span| is_version(text(span)));
    Some(named(url, kind, name, version, deleted))
}

fn collection_kind(segment: &str) -> (ObjectKind, bool) {
    match segment {
        "secrets" => return (ObjectKind::Secret, false),
        "keys" => return (ObjectKind::Key, false),
        "certificates" => return (ObjectKind::Certificate, false),
        _ => {}
    }
    const TABLE: &[(&str, ObjectKind, bool)] = &[
        ("secrets", ObjectKind::Secret, false),
        ("deletedsecrets", ObjectKind::Secret, true),
        ("keys", ObjectKind::Key, false),
        ("deletedkeys", ObjectKind::Key, true),
        ("certificates", ObjectKind::Certificate, false),
        ("deletedcertificates", ObjectKind::Certificate, true),
        ("storage", ObjectKind::Storage, false),
        ("deletedstorage", ObjectKind::Storage, true),
    ];
    TABLE
        .iter()
        .find(|(name, _, _)| name.eq_ignore_ascii_case(segment))
        .map_or((ObjectKind::Other, false), |&(_, kind, deleted)| {
            (kind, deleted)
        })
}

fn vault_ref() -> ObjectRef<'static> {
    ObjectRef {
        kind: ObjectKind::Vault,
        name: None,
        version: None,
        deleted: false,
    }
}

fn named<'a>(
    url: &Cow<'a, str>,
    kind: ObjectKind,
    name: Option<(usize, usize)>,
    version: Option<(usize, usize)>,
    deleted: bool,
) -> ObjectRef<'a> {
    ObjectRef {
        kind,
        name: name.map(|(s, e)| lower(sub_cow(url, s, e))),
        version: version.map(|(s, e)| lower(sub_cow(url, s, e))),
        deleted,
    }
}

/// Object versions are 32 hexadecimal digits.
fn is_version(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The vault name from the host of a data-plane URL (`<name>.vault.azure.net`).
pub fn vault_from_host<'a>(url: &Cow<'a, str>) -> Option<Cow<'a, str>> {
    let start = url.find("://").map_or(0, |i| i + 3);
    let host_end = url[start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| start + i);
    let host = &url[start..host_end];
    let dot = host.find('.')?;
    let suffix = &host[dot..];
    if suffix.starts_with(".vault.") || suffix.starts_with(".managedhsm.") {
        Some(sub_cow(url, start, start + dot))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(
        kind: ObjectKind,
        name: Option<&str>,
        version: Option<&str>,
        deleted: bool,
    ) -> Option<ObjectRef<'static>> {
        Some(ObjectRef {
            kind,
            name: name.map(|s| Cow::Owned(s.to_string())),
            version: version.map(|s| Cow::Owned(s.to_string())),
            deleted,
        })
    }

    #[test]
    fn object_url_table() {
        use ObjectKind::*;
        let v = "4c39bacace9a49b2bd542ce61bd6f312";
        let table: Vec<(&str, Option<ObjectRef<'static>>)> = vec![
            ("https://securaallkeyvault.vault.azure.net/secrets/SecuraAllSecret/4c39bacace9a49b2bd542ce61bd6f312", obj(Secret, Some("securaallsecret"), Some(v), false)),
            ("https://x.vault.azure.net/secrets/SecuraAllSecret/?api-version=7.0", obj(Secret, Some("securaallsecret"), None, false)),
            ("https://x.vault.azure.net/secrets?api-version=7.0&maxresults=25", obj(Secret, None, None, false)),
            ("https://x.vault.azure.net/keys/egz/versions?api-version=7.3", obj(Key, Some("egz"), None, false)),
            ("https://x.vault.azure.net/deletedkeys/MyFirstKey?api-version=7.0", obj(Key, Some("myfirstkey"), None, true)),
            ("https://x.vault.azure.net/deletedsecrets?api-version=7.0", obj(Secret, None, None, true)),
            ("https://x.vault.azure.net/secrets/restore?api-version=7.0", obj(Secret, None, None, false)),
            ("https://x.vault.azure.net/keys/k1/4c39bacace9a49b2bd542ce61bd6f312/sign?api-version=7.4", obj(Key, Some("k1"), Some(v), false)),
            ("https://x.vault.azure.net/certificates/c1/create?api-version=7.0", obj(Certificate, Some("c1"), None, false)),
            ("https://x.vault.azure.net/certificates/issuers/DigiCert", obj(CertificateIssuer, Some("digicert"), None, false)),
            ("https://x.vault.azure.net/certificates/contacts", obj(CertificateContacts, None, None, false)),
            ("https://x.vault.azure.net/", obj(Vault, None, None, false)),
            ("https://management.azure.com/subscriptions/s/resourceGroups/r/providers/Microsoft.KeyVault/vaults/v?api-version=1", obj(Vault, None, None, false)),
            ("https://control-prod-wus.vaultcore.azure.net/subscriptions/s/vaults/v?api-version=2015-06-01", obj(Vault, None, None, false)),
            ("https://hsm1.managedhsm.azure.net/keys/k?api-version=7.4", obj(Key, Some("k"), None, false)),
            ("https://x.vault.azure.net/securitydomain/download", obj(Other, Some("download"), None, false)),
            ("", None),
        ];
        for (url, want) in table {
            assert_eq!(parse_object_url(&Cow::Borrowed(url)), want, "{url}");
        }
    }

    #[test]
    fn id_wins_over_request_uri() {
        let id = Cow::Borrowed("https://x.vault.azure.net/secrets/keykey");
        let uri = Cow::Borrowed("https://x.vault.azure.net/secrets/restore?api-version=7.0");
        let got = object_from(Some(&id), Some(&uri)).and_then(|o| o.name);
        assert_eq!(got.as_deref(), Some("keykey"));
        assert_eq!(
            object_from(None, Some(&uri)).map(|o| o.kind),
            Some(ObjectKind::Secret)
        );
    }

    #[test]
    fn vault_from_data_plane_host() {
        let url = Cow::Borrowed("https://contosokeyvault.vault.azure.net/");
        assert_eq!(vault_from_host(&url).as_deref(), Some("contosokeyvault"));
        let url = Cow::Borrowed("https://management.azure.com/x");
        assert_eq!(vault_from_host(&url), None);
    }
}
