//! How a Blob Storage request proves who sends it: a Shared Key signature (the
//! account key; Azurite; connection strings), a shared access signature appended to
//! the URL, or a Microsoft Entra bearer token from the same credentials kvwatch uses
//! for Event Hubs (managed identity, workload identity, client secret).
//!
//! The Shared Key string to sign follows the service's rules for versions 2015-02-21
//! and later: the verb, eleven standard headers (an empty `Content-Length` when it is
//! 0; `Date` empty because `x-ms-date` is sent), the `x-ms-*` headers lowercased and
//! sorted, then `/account/path` and the query parameters lowercased, decoded and
//! sorted. The key never leaves [`SharedKey`]: neither `Debug` nor any error shows it.

use std::fmt;
use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use reqwest::{Method, Url};
use sha2::Sha256;
use tokio::sync::Mutex;

use super::BlobError;
use crate::sink::secret::Secret;

/// The token scope of Azure Storage.
pub const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";

/// A token is renewed when it has less than this left.
const TOKEN_MARGIN_SECS: i64 = 300;

/// How requests are authorised.
#[derive(Clone)]
pub enum BlobAuth {
    /// Signed with the account key.
    SharedKey(SharedKey),
    /// A shared access signature (`sv=…&sig=…`), added to every request's query.
    Sas(Secret),
    /// A Microsoft Entra token (needs https and a data role such as Storage Blob
    /// Data Contributor on the container).
    Bearer(BearerToken),
}

impl fmt::Debug for BlobAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlobAuth::SharedKey(k) => write!(f, "BlobAuth::SharedKey({})", k.account),
            BlobAuth::Sas(_) => f.write_str("BlobAuth::Sas(<redacted>)"),
            BlobAuth::Bearer(_) => f.write_str("BlobAuth::Bearer"),
        }
    }
}

impl BlobAuth {
    /// A SAS as people paste it, with or without the leading `?`.
    pub fn sas(token: &Secret) -> Result<BlobAuth, BlobError> {
        let value = token.expose().trim().trim_start_matches('?');
        if !value.contains("sig=") {
            return Err(BlobError::Credential {
                message: "the shared access signature has no sig= parameter".to_owned(),
            });
        }
        Ok(BlobAuth::Sas(Secret::new(value)))
    }

    /// A bearer token credential for Azure Storage.
    pub fn bearer(credential: Arc<dyn TokenCredential>) -> BlobAuth {
        BlobAuth::Bearer(BearerToken {
            credential,
            cached: Arc::new(Mutex::new(None)),
        })
    }

    /// The secret values to scrub from any text an error carries.
    pub(super) fn secrets(&self) -> Vec<Secret> {
        match self {
            BlobAuth::SharedKey(k) => vec![k.encoded.clone()],
            BlobAuth::Sas(sas) => {
                let mut out = vec![sas.clone()];
                if let Ok(url) = Url::parse(&format!("http://sas.invalid/?{}", sas.expose())) {
                    for (name, value) in url.query_pairs() {
                        if name == "sig" {
                            out.push(Secret::new(value.into_owned()));
                        }
                    }
                }
                if let Some((_, raw)) = sas.expose().split_once("sig=") {
                    out.push(Secret::new(raw.split('&').next().unwrap_or_default()));
                }
                out
            }
            BlobAuth::Bearer(_) => Vec::new(),
        }
    }
}

/// An account name and its key.
#[derive(Clone)]
pub struct SharedKey {
    account: String,
    key: Vec<u8>,
    encoded: Secret,
}

impl fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedKey({}, <redacted>)", self.account)
    }
}

impl SharedKey {
    /// The account's key as the portal shows it (base64).
    pub fn new(account: &str, key: &Secret) -> Result<SharedKey, BlobError> {
        let account = account.trim();
        if account.is_empty() || !account.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(BlobError::Credential {
                message: format!("{account:?} is not a storage account name (letters and digits)"),
            });
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(key.expose().trim())
            .map_err(|_| BlobError::Credential {
                message: format!("the account key of {account} is not base64"),
            })?;
        if decoded.is_empty() {
            return Err(BlobError::Credential {
                message: format!("the account key of {account} is empty"),
            });
        }
        Ok(SharedKey {
            account: account.to_owned(),
            key: decoded,
            encoded: Secret::new(key.expose().trim()),
        })
    }

    /// The account name.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The `Authorization` header value for a request about to be sent.
    pub fn authorization(
        &self,
        method: &Method,
        url: &Url,
        headers: &HeaderMap,
    ) -> Result<String, BlobError> {
        let text = string_to_sign(&self.account, method, url, headers);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).map_err(|_| {
            BlobError::Credential {
                message: format!("the account key of {} cannot sign", self.account),
            }
        })?;
        mac.update(text.as_bytes());
        let signature =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        Ok(format!("SharedKey {}:{signature}", self.account))
    }
}

/// The Shared Key string to sign (exposed for the fixture tests).
pub fn string_to_sign(account: &str, method: &Method, url: &Url, headers: &HeaderMap) -> String {
    let header = |name: &str| -> String {
        let joined: Vec<&str> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        joined.join(",")
    };
    let mut out = String::with_capacity(256);
    out.push_str(method.as_str());
    for name in [
        "content-encoding",
        "content-language",
        "content-length",
        "content-md5",
        "content-type",
        "date",
        "if-modified-since",
        "if-match",
        "if-none-match",
        "if-unmodified-since",
        "range",
    ] {
        out.push('\n');
        let value = header(name);
        if !(name == "content-length" && value == "0") {
            out.push_str(&value);
        }
    }
    out.push('\n');
    let mut ms: Vec<(String, String)> = headers
        .keys()
        .map(|k| k.as_str().to_ascii_lowercase())
        .filter(|k| k.starts_with("x-ms-"))
        .map(|k| {
            let value = collapse_whitespace(&header(&k));
            (k, value)
        })
        .collect();
    ms.sort();
    ms.dedup_by(|a, b| a.0 == b.0);
    for (name, value) in ms {
        out.push_str(&name);
        out.push(':');
        out.push_str(&value);
        out.push('\n');
    }
    out.push('/');
    out.push_str(account);
    out.push_str(url.path());
    let mut query: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
        .collect();
    query.sort();
    let mut i = 0;
    while i < query.len() {
        let name = query[i].0.clone();
        let mut values = Vec::new();
        while i < query.len() && query[i].0 == name {
            values.push(query[i].1.as_str());
            i += 1;
        }
        out.push('\n');
        out.push_str(&name);
        out.push(':');
        out.push_str(&values.join(","));
    }
    out
}

fn collapse_whitespace(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A token credential with the last token kept until shortly before it expires.
#[derive(Clone)]
pub struct BearerToken {
    credential: Arc<dyn TokenCredential>,
    cached: Arc<Mutex<Option<(Secret, azure_core::time::OffsetDateTime)>>>,
}

impl BearerToken {
    /// The `Authorization` header value: a cached token, or a fresh one.
    pub async fn authorization(&self) -> Result<String, BlobError> {
        let mut cached = self.cached.lock().await;
        let now = azure_core::time::OffsetDateTime::now_utc();
        if let Some((token, expires)) = cached.as_ref() {
            if (*expires - now).whole_seconds() > TOKEN_MARGIN_SECS {
                return Ok(format!("Bearer {}", token.expose()));
            }
        }
        let token = self
            .credential
            .get_token(&[STORAGE_SCOPE], None)
            .await
            .map_err(|e| BlobError::Credential {
                message: format!("cannot get a token for Azure Storage: {e}"),
            })?;
        let value = Secret::new(token.token.secret().to_owned());
        let header = format!("Bearer {}", value.expose());
        *cached = Some((value, token.expires_on));
        Ok(header)
    }
}

#[cfg(test)]
mod tests;
