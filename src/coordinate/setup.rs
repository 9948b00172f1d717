//! From `[coordination]` to a [`BlobClient`] and [`CoordinatorSettings`]: the
//! endpoint, the credential (the Microsoft Entra ones built exactly as for Event
//! Hubs), the CA file, the group and the owner id.

use std::sync::Arc;

use reqwest::Url;

use super::blob::{BlobAuth, BlobClient, BlobClientOptions, ConnectionString, SharedKey};
use super::layout::GroupLayout;
use super::{CoordinateError, CoordinatorSettings};
use crate::config::coordination::{CoordinationConfig, StorageCredentialConfig};
use crate::config::EventHubsConfig;
use crate::pipeline::clock::Clock;
use crate::sink::secret;
use crate::source::eventhubs::client::Auth;

const KEY: &str = "coordination.credential";

/// The blob client `[coordination]` describes. Secrets are read here (from the
/// environment or files); errors name the key, never a value.
pub fn client_from_config(
    config: &CoordinationConfig,
    clock: Arc<dyn Clock>,
) -> Result<BlobClient, CoordinateError> {
    let setup = |message: String| CoordinateError::Setup(message);
    let resolve = |reference, key: &str| {
        secret::resolve(reference, &format!("{KEY}.{key}")).map_err(|e| setup(e.to_string()))
    };
    let account_url = || -> Result<Url, CoordinateError> {
        let text = config
            .account_url
            .as_deref()
            .ok_or_else(|| setup("coordination.account_url: missing".into()))?;
        Url::parse(text).map_err(|e| setup(format!("coordination.account_url: {e}")))
    };
    let (endpoint, auth) = match &config.credential {
        StorageCredentialConfig::ConnectionString { connection_string } => {
            let text = resolve(connection_string, "connection_string")?;
            let parsed = ConnectionString::parse(&text)
                .map_err(|e| setup(format!("{KEY}.connection_string: {e}")))?;
            (parsed.blob_endpoint, parsed.auth)
        }
        StorageCredentialConfig::SharedKey { account, key } => {
            let url = account_url()?;
            let account = match account {
                Some(a) => a.clone(),
                None => account_from_url(&url).ok_or_else(|| {
                    setup(format!(
                        "{KEY}.account: cannot tell the account from the URL; give it"
                    ))
                })?,
            };
            let key = resolve(key, "key")?;
            let shared =
                SharedKey::new(&account, &key).map_err(|e| setup(format!("{KEY}: {e}")))?;
            (url, BlobAuth::SharedKey(shared))
        }
        StorageCredentialConfig::Sas { token } => {
            let token = resolve(token, "token")?;
            let auth = BlobAuth::sas(&token).map_err(|e| setup(format!("{KEY}: {e}")))?;
            (account_url()?, auth)
        }
        identity => {
            let credential = identity
                .as_identity()
                .ok_or_else(|| setup(format!("{KEY}: not an identity")))?;
            match Auth::from_config(&credential, KEY).map_err(|e| setup(e.to_string()))? {
                Auth::Token(token) => (account_url()?, BlobAuth::bearer(token)),
                Auth::ConnectionString(_) => {
                    return Err(setup(format!("{KEY}: not an identity")));
                }
            }
        }
    };
    let ca_pem = match &config.ca_file {
        Some(path) => Some(std::fs::read(path).map_err(|e| {
            setup(format!(
                "coordination.ca_file: cannot read {}: {e}",
                path.display()
            ))
        })?),
        None => None,
    };
    let options = BlobClientOptions {
        timeout: config.operation_timeout.as_std(),
        ca_pem,
    };
    Ok(BlobClient::new(
        &endpoint,
        &config.container,
        auth,
        options,
        clock,
    )?)
}

/// The account name in a blob endpoint: the first host label
/// (`acct.blob.core.windows.net`), or the first path segment when the host is an
/// address or `localhost` (Azurite's path-style URLs).
pub fn account_from_url(url: &Url) -> Option<String> {
    let host = url.host_str()?;
    let path_style =
        host == "localhost" || host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[');
    let name = if path_style {
        url.path_segments()?.find(|s| !s.is_empty())?
    } else {
        host.split('.').next()?
    };
    Some(name.to_owned()).filter(|n| !n.is_empty())
}

/// The settings `[coordination]` describes, for the hubs of `eventhubs`.
pub fn settings_from_config(
    config: &CoordinationConfig,
    eventhubs: &EventHubsConfig,
) -> Result<CoordinatorSettings, CoordinateError> {
    let group = config.group_name(eventhubs);
    let layout = GroupLayout::new(&group)
        .map_err(|m| CoordinateError::Setup(format!("coordination.group: {m}")))?;
    Ok(CoordinatorSettings {
        layout,
        owner_id: owner_id(config.instance_name.as_deref()),
        ownership_expiry: config.ownership_expiry.as_std(),
        renew_interval: config.renew_interval.as_std(),
        safety_margin: config.safety_margin.as_std(),
        standby_poll: config.standby_poll.as_std(),
        snapshots_kept: usize::try_from(config.snapshots_kept).unwrap_or(usize::MAX),
        max_snapshot_bytes: config.max_snapshot_bytes,
    })
}

/// `NAME-PID-RANDOM` (NAME: `instance_name`, else the host, which is the pod's name
/// on Kubernetes): readable for people, and unique to this process, which the
/// coordinator relies on (a blob naming this owner was written by this process).
pub fn owner_id(instance_name: Option<&str>) -> String {
    let host = instance_name
        .map(str::to_owned)
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .unwrap_or_default();
    let host: String = host
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    let host = if host.is_empty() {
        "kvwatch".to_owned()
    } else {
        host
    };
    let random: u32 = rand::random();
    format!("{host}-{}-{random:08x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_names_from_both_url_styles() {
        let table = [
            ("https://acct.blob.core.windows.net", Some("acct")),
            (
                "http://127.0.0.1:10000/devstoreaccount1",
                Some("devstoreaccount1"),
            ),
            (
                "http://localhost:10000/devstoreaccount1/",
                Some("devstoreaccount1"),
            ),
            ("http://127.0.0.1:10000/", None),
        ];
        for (url, want) in table {
            let url = Url::parse(url).unwrap();
            assert_eq!(account_from_url(&url).as_deref(), want, "{url}");
        }
    }

    #[test]
    fn owner_ids_are_unique_per_process_and_valid_metadata() {
        let a = owner_id(None);
        let b = owner_id(None);
        assert_ne!(a, b);
        let named = owner_id(Some("kvwatch-0"));
        assert!(named.starts_with("kvwatch-0-"), "{named}");
        assert_ne!(named, owner_id(Some("kvwatch-0")));
        assert!(a.bytes().all(|c| c.is_ascii_graphic()), "{a}");
        assert!(a.contains(&format!("-{}-", std::process::id())), "{a}");
    }
}
