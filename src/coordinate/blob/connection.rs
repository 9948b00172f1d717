//! Azure Storage connection strings (`DefaultEndpointsProtocol=https;AccountName=…;
//! AccountKey=…;EndpointSuffix=core.windows.net`, `BlobEndpoint=…;
//! SharedAccessSignature=…`, `UseDevelopmentStorage=true`): the blob endpoint and the
//! credential they carry.
//!
//! The portal, the Azure CLI and Azurite's documentation all hand these out, so an
//! operator can paste one. The string is a secret (it holds a key or a SAS): errors
//! name the setting that is wrong, never a value.

use reqwest::Url;

use super::auth::{BlobAuth, SharedKey};
use crate::sink::secret::Secret;

/// Azurite's documented development account, used by `UseDevelopmentStorage=true`.
pub const DEV_ACCOUNT: &str = "devstoreaccount1";
/// Azurite's documented development key (public, not a secret).
pub const DEV_ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Why a connection string cannot be used. Never contains its values.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConnectionStringError {
    /// A part is not `Name=value`.
    #[error("connection string: part {index} is not Name=value")]
    Malformed {
        /// The part's position (1-based).
        index: usize,
    },
    /// Something needed is missing.
    #[error("connection string: {0}")]
    Missing(&'static str),
    /// A value is unusable (a bad URL, a key that is not base64).
    #[error("connection string: {setting} {problem}")]
    Invalid {
        /// The setting's name.
        setting: &'static str,
        /// What is wrong with it.
        problem: String,
    },
}

/// What a connection string says.
#[derive(Debug, Clone)]
pub struct ConnectionString {
    /// The account's blob endpoint (`https://acct.blob.core.windows.net`, or
    /// `http://127.0.0.1:10000/devstoreaccount1` for Azurite).
    pub blob_endpoint: Url,
    /// How to authorise.
    pub auth: BlobAuth,
}

impl ConnectionString {
    /// Parses a connection string. Setting names are matched without regard to case.
    pub fn parse(text: &Secret) -> Result<ConnectionString, ConnectionStringError> {
        let mut protocol = None;
        let mut account = None;
        let mut key = None;
        let mut suffix = None;
        let mut endpoint = None;
        let mut sas = None;
        let mut development = false;
        for (i, part) in text.expose().split(';').enumerate() {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (name, value) = part
                .split_once('=')
                .ok_or(ConnectionStringError::Malformed { index: i + 1 })?;
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "defaultendpointsprotocol" => protocol = Some(value.to_ascii_lowercase()),
                "accountname" => account = Some(value.to_owned()),
                "accountkey" => key = Some(Secret::new(value)),
                "endpointsuffix" => suffix = Some(value.to_owned()),
                "blobendpoint" => endpoint = Some(value.to_owned()),
                "sharedaccesssignature" => sas = Some(Secret::new(value)),
                "usedevelopmentstorage" => development = value.eq_ignore_ascii_case("true"),
                // Queue, table and file endpoints, proxies: not ours to use.
                _ => {}
            }
        }
        if development {
            account.get_or_insert_with(|| DEV_ACCOUNT.to_owned());
            key.get_or_insert_with(|| Secret::new(DEV_ACCOUNT_KEY));
            endpoint.get_or_insert_with(|| format!("http://127.0.0.1:10000/{DEV_ACCOUNT}"));
        }
        let endpoint = match (endpoint, &account) {
            (Some(e), _) => e,
            (None, Some(account)) => {
                let protocol = protocol.as_deref().unwrap_or("https");
                let suffix = suffix.as_deref().unwrap_or("core.windows.net");
                format!("{protocol}://{account}.blob.{suffix}")
            }
            (None, None) => {
                return Err(ConnectionStringError::Missing(
                    "give BlobEndpoint or AccountName",
                ))
            }
        };
        let blob_endpoint = Url::parse(endpoint.trim_end_matches('/')).map_err(|e| {
            ConnectionStringError::Invalid {
                setting: "BlobEndpoint",
                problem: format!("is not a URL ({e})"),
            }
        })?;
        if !matches!(blob_endpoint.scheme(), "http" | "https") {
            return Err(ConnectionStringError::Invalid {
                setting: "BlobEndpoint",
                problem: "must be an http or https URL".to_owned(),
            });
        }
        let auth = match (key, sas) {
            (Some(key), _) => {
                let account = account.ok_or(ConnectionStringError::Missing(
                    "AccountKey needs AccountName",
                ))?;
                BlobAuth::SharedKey(SharedKey::new(&account, &key).map_err(|e| {
                    ConnectionStringError::Invalid {
                        setting: "AccountKey",
                        problem: e.to_string(),
                    }
                })?)
            }
            (None, Some(sas)) => {
                BlobAuth::sas(&sas).map_err(|e| ConnectionStringError::Invalid {
                    setting: "SharedAccessSignature",
                    problem: e.to_string(),
                })?
            }
            (None, None) => {
                return Err(ConnectionStringError::Missing(
                    "give AccountKey or SharedAccessSignature",
                ))
            }
        };
        Ok(ConnectionString {
            blob_endpoint,
            auth,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<(String, String), ConnectionStringError> {
        ConnectionString::parse(&Secret::new(text)).map(|c| {
            let auth = match &c.auth {
                BlobAuth::SharedKey(k) => format!("key:{}", k.account()),
                BlobAuth::Sas(_) => "sas".to_owned(),
                BlobAuth::Bearer(_) => "bearer".to_owned(),
            };
            (
                c.blob_endpoint.as_str().trim_end_matches('/').to_owned(),
                auth,
            )
        })
    }

    #[test]
    fn the_shapes_people_paste() {
        let table = [
            (
                "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net",
                ("https://acct.blob.core.windows.net", "key:acct"),
            ),
            (
                "AccountName=acct;AccountKey=a2V5",
                ("https://acct.blob.core.windows.net", "key:acct"),
            ),
            (
                "defaultendpointsprotocol=http;accountname=acct;accountkey=a2V5;endpointsuffix=core.chinacloudapi.cn;",
                ("http://acct.blob.core.chinacloudapi.cn", "key:acct"),
            ),
            (
                "BlobEndpoint=https://acct.blob.core.windows.net/;SharedAccessSignature=sv=2023-11-03&sig=abc",
                ("https://acct.blob.core.windows.net", "sas"),
            ),
            (
                "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:4321/devstoreaccount1;",
                ("http://127.0.0.1:4321/devstoreaccount1", "key:devstoreaccount1"),
            ),
            (
                "UseDevelopmentStorage=true",
                ("http://127.0.0.1:10000/devstoreaccount1", "key:devstoreaccount1"),
            ),
        ];
        for (text, (endpoint, auth)) in table {
            assert_eq!(
                parse(text).unwrap(),
                (endpoint.to_owned(), auth.to_owned()),
                "{text}"
            );
        }
    }

    #[test]
    fn mistakes_are_named_and_values_never_shown() {
        let table = [
            (
                "AccountName=acct",
                "give AccountKey or SharedAccessSignature",
            ),
            (
                "AccountKey=c2VjcmV0a2V5",
                "give BlobEndpoint or AccountName",
            ),
            (
                "BlobEndpoint=https://x;AccountKey=c2VjcmV0a2V5",
                "AccountKey needs AccountName",
            ),
            ("AccountName=acct;AccountKey=c2VjcmV0a2V5;junk", "part 3"),
            ("AccountName=acct;AccountKey=!!secretkey!!", "AccountKey"),
            (
                "BlobEndpoint=ftp://x;SharedAccessSignature=sig=1",
                "http or https",
            ),
            (
                "BlobEndpoint=https://x;SharedAccessSignature=sv=secretsas",
                "no sig=",
            ),
        ];
        for (text, want) in table {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text} -> {err}");
            for secret in ["c2VjcmV0a2V5", "secretkey", "secretsas"] {
                assert!(!err.contains(secret), "{err}");
            }
        }
    }
}
