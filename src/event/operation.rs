//! Key Vault operation names and the classes detectors reason about.
//!
//! Azure adds operation names over time (`KeyRotate` arrived with rotation), so the
//! set is open: known names parse into [`KnownOperation`] (a `Copy` enum, no string
//! kept), anything else is kept verbatim as text and classified by its verb so a new
//! `FooGet` still counts as a read. An Activity Log operation carries the whole
//! control-plane change with it, boxed ([`Operation::Control`]): rare, and the
//! AuditEvent's operation stays three words wide.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

use super::control::ControlPlane;

/// What an operation does, at the granularity baselines are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OperationClass {
    /// Returns a secret value, key material or a backup blob.
    ReadValue,
    /// Lists objects or reads metadata (names, policies, vault properties).
    Enumerate,
    /// Uses a key without revealing it (sign, verify, wrap, unwrap, encrypt, decrypt).
    CryptoUse,
    /// Creates or changes an object.
    Write,
    /// Deletes or purges an object or the vault.
    Destroy,
    /// Changes who or what may reach the vault (vault put/patch, policy changes).
    AccessChange,
    /// The authentication step itself (mostly SDK challenge requests).
    Auth,
    /// Notifications and anything that fits no other class.
    Other,
}

impl OperationClass {
    /// Every class, in a stable order (metrics, reports).
    pub const ALL: [OperationClass; 8] = [
        Self::ReadValue,
        Self::Enumerate,
        Self::CryptoUse,
        Self::Write,
        Self::Destroy,
        Self::AccessChange,
        Self::Auth,
        Self::Other,
    ];

    /// The stable lower-case label (`read-value`, `enumerate` …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadValue => "read-value",
            Self::Enumerate => "enumerate",
            Self::CryptoUse => "crypto-use",
            Self::Write => "write",
            Self::Destroy => "destroy",
            Self::AccessChange => "access-change",
            Self::Auth => "auth",
            Self::Other => "other",
        }
    }

    /// Index into [`OperationClass::ALL`], for dense per-class arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for OperationClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! known_operations {
    ($($name:ident => $class:ident),+ $(,)?) => {
        /// An operation name Key Vault documents (see `logging.md`), one variant each.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum KnownOperation {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                $name
            ),+
        }

        impl KnownOperation {
            /// Parses an exact operation name (Azure's spelling, case-insensitive).
            pub fn parse(name: &str) -> Option<Self> {
                // Exact spelling first (a jump on length, then memcmp): the hot path.
                match name {
                    $(stringify!($name) => return Some(Self::$name),)+
                    _ => {}
                }
                $(if name.eq_ignore_ascii_case(stringify!($name)) { return Some(Self::$name); })+
                None
            }
            /// Azure's spelling of the name.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$name => stringify!($name)),+ }
            }
            /// The class this operation belongs to.
            pub fn class(self) -> OperationClass {
                match self { $(Self::$name => OperationClass::$class),+ }
            }
        }
    };
}

known_operations! {
    Authentication => Auth,
    VaultGet => Enumerate, VaultPut => AccessChange, VaultPatch => AccessChange,
    VaultDelete => Destroy, VaultRecover => Write, VaultList => Enumerate, VaultPurge => Destroy,
    VaultGetDeleted => Enumerate, VaultListDeleted => Enumerate,
    VaultAccessPolicyChangedEventGridNotification => AccessChange,
    KeyCreate => Write, KeyGet => ReadValue, KeyImport => Write, KeyDelete => Destroy,
    KeySign => CryptoUse, KeyVerify => CryptoUse, KeyWrap => CryptoUse, KeyUnwrap => CryptoUse,
    KeyEncrypt => CryptoUse, KeyDecrypt => CryptoUse, KeyUpdate => Write, KeyList => Enumerate,
    KeyListVersions => Enumerate, KeyPurge => Destroy, KeyBackup => ReadValue, KeyRestore => Write,
    KeyRecover => Write, KeyGetDeleted => Enumerate, KeyListDeleted => Enumerate,
    KeyNearExpiryEventGridNotification => Other, KeyExpiredEventGridNotification => Other,
    KeyRotate => Write, KeyRotateIfDue => Write, KeyRotationPolicyGet => Enumerate,
    KeyRotationPolicySet => Write, KeyRelease => ReadValue, KeyGetRandomBytes => CryptoUse,
    SecretSet => Write, SecretGet => ReadValue, SecretUpdate => Write, SecretDelete => Destroy,
    SecretList => Enumerate, SecretListVersions => Enumerate, SecretPurge => Destroy,
    SecretBackup => ReadValue, SecretRestore => Write, SecretRecover => Write,
    SecretGetDeleted => Enumerate, SecretListDeleted => Enumerate,
    SecretNearExpiryEventGridNotification => Other, SecretExpiredEventGridNotification => Other,
    SecretNewVersionCreatedEventGridNotification => Other,
    CertificateGet => ReadValue, CertificateCreate => Write, CertificateImport => Write,
    CertificateUpdate => Write, CertificateList => Enumerate, CertificateListVersions => Enumerate,
    CertificateDelete => Destroy, CertificatePurge => Destroy, CertificateBackup => ReadValue,
    CertificateRestore => Write, CertificateRecover => Write, CertificateGetDeleted => Enumerate,
    CertificateListDeleted => Enumerate, CertificatePolicyGet => Enumerate,
    CertificatePolicyUpdate => Write, CertificatePolicySet => Write,
    CertificateContactsGet => Enumerate, CertificateContactsSet => Write,
    CertificateContactsDelete => Destroy, CertificateIssuerGet => Enumerate,
    CertificateIssuerSet => Write, CertificateIssuerUpdate => Write,
    CertificateIssuerDelete => Destroy, CertificateIssuersList => Enumerate,
    CertificateEnroll => Write, CertificateRenew => Write, CertificatePendingGet => Enumerate,
    CertificatePendingMerge => Write, CertificatePendingUpdate => Write,
    CertificatePendingDelete => Destroy,
    CertificateNearExpiryEventGridNotification => Other,
    CertificateExpiredEventGridNotification => Other,
}

/// The operation of an audit record: a documented name, one Key Vault added later,
/// or an Azure Resource Manager operation from the Activity Log with its change.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Operation<'a> {
    /// A documented operation.
    Known(KnownOperation),
    /// A name this build does not know, kept as the record spelled it.
    Other(Cow<'a, str>),
    /// A control-plane change from the Activity Log (boxed: rare and large).
    Control(Box<ControlPlane<'a>>),
}

impl<'a> Operation<'a> {
    /// Parses an `operationName`, borrowing it only when it is not a known name.
    pub fn parse(name: Cow<'a, str>) -> Self {
        match KnownOperation::parse(&name) {
            Some(known) => Operation::Known(known),
            None => Operation::Other(name),
        }
    }

    /// The name as Azure spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Operation::Known(k) => k.as_str(),
            Operation::Other(s) => s,
            Operation::Control(c) => &c.operation,
        }
    }

    /// The class; unknown names are classified by their verb, control-plane changes
    /// by what they change.
    pub fn class(&self) -> OperationClass {
        match self {
            Operation::Known(k) => k.class(),
            Operation::Other(s) => classify_unknown(s),
            Operation::Control(c) => c.class(),
        }
    }

    /// The control-plane change, for an Activity Log operation.
    pub fn control_plane(&self) -> Option<&ControlPlane<'a>> {
        match self {
            Operation::Control(c) => Some(c),
            _ => None,
        }
    }

    /// Whether this is the given known operation.
    pub fn is(&self, known: KnownOperation) -> bool {
        matches!(self, Operation::Known(k) if *k == known)
    }

    /// Detaches from the input buffer.
    pub fn into_owned(self) -> Operation<'static> {
        match self {
            Operation::Known(k) => Operation::Known(k),
            Operation::Other(s) => Operation::Other(Cow::Owned(s.into_owned())),
            Operation::Control(c) => Operation::Control(Box::new(c.into_owned())),
        }
    }
}

impl fmt::Display for Operation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Classifies an operation name this build does not know, by its verb suffix.
fn classify_unknown(name: &str) -> OperationClass {
    // Compared as bytes: the suffixes are ASCII, and slicing the text could cut a
    // multi-byte character in two (fuzzing found `…Rᘕ` panicking here).
    let ends = |suffix: &str| {
        let (name, suffix) = (name.as_bytes(), suffix.as_bytes());
        name.len() >= suffix.len() && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    let lower_contains = |needle: &str| name.to_ascii_lowercase().contains(needle);
    if ends("Notification") {
        OperationClass::Other
    } else if lower_contains("accesspolicy") || lower_contains("roleassignment") {
        OperationClass::AccessChange
    } else if ends("Delete") || ends("Purge") {
        OperationClass::Destroy
    } else if ends("List") || ends("ListVersions") || ends("ListDeleted") || ends("GetDeleted") {
        OperationClass::Enumerate
    } else if ends("Get") || ends("Backup") || ends("Export") || ends("Release") {
        OperationClass::ReadValue
    } else if ends("Sign")
        || ends("Verify")
        || ends("Wrap")
        || ends("Unwrap")
        || ends("Encrypt")
        || ends("Decrypt")
    {
        OperationClass::CryptoUse
    } else if ends("Set")
        || ends("Create")
        || ends("Import")
        || ends("Update")
        || ends("Put")
        || ends("Patch")
        || ends("Restore")
        || ends("Recover")
        || ends("Rotate")
    {
        OperationClass::Write
    } else {
        OperationClass::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_of_known_and_unknown_names() {
        let table: &[(&str, OperationClass, bool)] = &[
            ("SecretGet", OperationClass::ReadValue, true),
            ("secretget", OperationClass::ReadValue, true),
            ("SecretList", OperationClass::Enumerate, true),
            ("KeyDecrypt", OperationClass::CryptoUse, true),
            ("VaultPatch", OperationClass::AccessChange, true),
            ("KeyPurge", OperationClass::Destroy, true),
            ("Authentication", OperationClass::Auth, true),
            (
                "SecretNearExpiryEventGridNotification",
                OperationClass::Other,
                true,
            ),
            ("KeyRotate", OperationClass::Write, true),
            ("HsmSecurityDomainDownload", OperationClass::Other, false),
            ("RoleAssignmentCreate", OperationClass::AccessChange, false),
            ("BlobThingGet", OperationClass::ReadValue, false),
            ("WidgetListDeleted", OperationClass::Enumerate, false),
            ("FooPurge", OperationClass::Destroy, false),
            ("KeyExport", OperationClass::ReadValue, false),
        ];
        for (name, class, known) in table {
            let op = Operation::parse(Cow::Borrowed(name));
            assert_eq!(op.class(), *class, "{name}");
            assert_eq!(matches!(op, Operation::Known(_)), *known, "{name}");
        }
    }

    #[test]
    fn known_names_round_trip() {
        let op = Operation::parse(Cow::Borrowed("certificatependingmerge"));
        assert_eq!(op.as_str(), "CertificatePendingMerge");
        assert!(op.is(KnownOperation::CertificatePendingMerge));
    }
}
