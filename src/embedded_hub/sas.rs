//! Shared access signatures: the keys of the embedded namespace, the tokens they sign,
//! and the check of a token a client puts on `$cbs`.
//!
//! A token reads `SharedAccessSignature sr=<resource>&sig=<signature>&se=<expiry>&skn=<key
//! name>`: the signature is HMAC-SHA256, over the key's text as given (not base64
//! decoded), of the percent-encoded resource as sent, a newline, and the expiry in
//! Unix seconds; the Azure SDKs sign so, and so does [`SharedAccessKey::sign`]. A
//! token authorizes its resource's path and everything under it (a namespace-wide
//! token has an empty path).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngExt as _;
use sha2::Sha256;

use super::address::normalized_path;

const PREFIX: &str = "SharedAccessSignature ";

/// The key name of a generated key, as the portal names the namespace's first rule.
pub const DEFAULT_KEY_NAME: &str = "RootManageSharedAccessKey";

/// A named shared access key. `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedAccessKey {
    name: String,
    key: String,
}

impl fmt::Debug for SharedAccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedAccessKey({}, <redacted>)", self.name)
    }
}

impl SharedAccessKey {
    /// A key with this name and value.
    pub fn new(name: impl Into<String>, key: impl Into<String>) -> Self {
        SharedAccessKey {
            name: name.into(),
            key: key.into(),
        }
    }

    /// A key of 32 random bytes (base64, as the portal's keys are).
    pub fn generate(name: impl Into<String>) -> Self {
        let bytes: [u8; 32] = rand::rng().random();
        Self::new(name, BASE64.encode(bytes))
    }

    /// The key's name (`SharedAccessKeyName`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key's value, for the connection string that must carry it.
    pub fn expose(&self) -> &str {
        &self.key
    }

    /// A token for `resource` (a URL such as `amqps://ns/hub`) valid until `expires`.
    pub fn sign(&self, resource: &str, expires: SystemTime) -> String {
        let resource = percent_encode(resource);
        let expiry = unix_seconds(expires);
        let signature = BASE64.encode(self.mac(&resource, expiry).finalize().into_bytes());
        format!(
            "{PREFIX}sr={resource}&sig={}&se={expiry}&skn={}",
            percent_encode(&signature),
            percent_encode(&self.name)
        )
    }

    fn mac(&self, encoded_resource: &str, expiry: u64) -> Hmac<Sha256> {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.key.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(encoded_resource.as_bytes());
        mac.update(b"\n");
        mac.update(expiry.to_string().as_bytes());
        mac
    }
}

/// Why a token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a shared access signature, or a field is missing or malformed.
    #[error("not a valid SharedAccessSignature token ({0}); the embedded hub takes SAS tokens signed with its keys")]
    Malformed(&'static str),
    /// `skn` names no key of the namespace.
    #[error("unknown shared access key name '{0}'")]
    UnknownKey(String),
    /// The signature does not match.
    #[error("the token's signature does not match key '{0}'")]
    BadSignature(String),
    /// `se` is in the past.
    #[error("the token expired")]
    Expired,
    /// The token's resource does not cover what the client asked to authorize.
    #[error("the token is for '{granted}', not '{asked}'")]
    WrongAudience {
        /// The token's resource path.
        granted: String,
        /// The path asked for.
        asked: String,
    },
}

/// What a valid token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The resource's path, normalized (empty for the whole namespace).
    pub path: String,
    /// When the token expires.
    pub expires: SystemTime,
}

/// Checks a token against the namespace's keys as of `now`.
pub fn verify(token: &str, keys: &[SharedAccessKey], now: SystemTime) -> Result<Grant, TokenError> {
    let fields = token
        .strip_prefix(PREFIX)
        .ok_or(TokenError::Malformed("no SharedAccessSignature prefix"))?;
    let (mut resource, mut signature, mut expiry, mut key_name) = (None, None, None, None);
    for field in fields.split('&') {
        match field.split_once('=') {
            Some(("sr", v)) => resource = Some(v),
            Some(("sig", v)) => signature = Some(v),
            Some(("se", v)) => expiry = Some(v),
            Some(("skn", v)) => key_name = Some(v),
            _ => {}
        }
    }
    let resource = resource.ok_or(TokenError::Malformed("no sr"))?;
    let expiry: u64 = expiry
        .ok_or(TokenError::Malformed("no se"))?
        .parse()
        .map_err(|_| TokenError::Malformed("se is not a number"))?;
    let key_name = percent_decode(key_name.ok_or(TokenError::Malformed("no skn"))?)
        .ok_or(TokenError::Malformed("skn is not percent-encoded UTF-8"))?;
    let signature = percent_decode(signature.ok_or(TokenError::Malformed("no sig"))?)
        .and_then(|s| BASE64.decode(s).ok())
        .ok_or(TokenError::Malformed("sig is not base64"))?;
    let key = keys
        .iter()
        .find(|k| k.name == key_name)
        .ok_or_else(|| TokenError::UnknownKey(key_name.clone()))?;
    key.mac(resource, expiry)
        .verify_slice(&signature)
        .map_err(|_| TokenError::BadSignature(key_name.clone()))?;
    let expires = UNIX_EPOCH + Duration::from_secs(expiry);
    if expires <= now {
        return Err(TokenError::Expired);
    }
    let resource =
        percent_decode(resource).ok_or(TokenError::Malformed("sr is not percent-encoded UTF-8"))?;
    Ok(Grant {
        path: normalized_path(&resource),
        expires,
    })
}

/// Whether a grant for `granted` (a normalized path) covers `asked`.
pub fn covers(granted: &str, asked: &str) -> bool {
    granted.is_empty()
        || asked == granted
        || asked
            .strip_prefix(granted)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Percent-encodes everything but letters, digits and `-_.~`, with lowercase hex
/// digits (as the Rust SDK does).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02x}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (and `+` as a blank); `None` when malformed or not UTF-8.
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SharedAccessKey {
        SharedAccessKey::new("listen", "c2VjcmV0LWtleQ==")
    }

    #[test]
    fn a_signed_token_verifies_and_grants_its_resource_path() {
        let now = SystemTime::now();
        let token = key().sign("amqps://ns.example/Audit", now + Duration::from_secs(60));
        let grant = verify(&token, &[key()], now).expect("valid");
        assert_eq!(grant.path, "audit");
        assert!(covers(
            &grant.path,
            "audit/consumergroups/$default/partitions/0"
        ));
        assert!(!covers(&grant.path, "audit-two/partitions/0"));
        assert!(covers("", "anything"));
    }

    #[test]
    fn wrong_keys_signatures_and_expiries_are_refused() {
        let now = SystemTime::now();
        let token = key().sign("amqps://ns.example/audit", now + Duration::from_secs(60));
        let other = SharedAccessKey::new("listen", "another");
        assert_eq!(
            verify(&token, &[other], now),
            Err(TokenError::BadSignature("listen".into()))
        );
        assert_eq!(
            verify(&token, &[SharedAccessKey::new("send", "x")], now),
            Err(TokenError::UnknownKey("listen".into()))
        );
        assert_eq!(
            verify(&token, &[key()], now + Duration::from_secs(61)),
            Err(TokenError::Expired)
        );
        let tampered = token.replace("sr=amqps", "sr=amqp");
        assert!(matches!(
            verify(&tampered, &[key()], now),
            Err(TokenError::BadSignature(_))
        ));
        assert!(matches!(
            verify("Bearer eyJ0", &[key()], now),
            Err(TokenError::Malformed(_))
        ));
    }

    #[test]
    fn percent_coding_round_trips() {
        let text = "amqps://ns.example/hub/$management?a=b c";
        assert_eq!(percent_decode(&percent_encode(text)).as_deref(), Some(text));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
    }
}
