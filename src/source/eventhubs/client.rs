//! Building Event Hubs clients from the configuration: the credential (managed
//! identity, workload identity, client secret, or a connection string), the custom
//! endpoint, the SDK's retry options, and a bound on every connection attempt.
//!
//! Each partition reader opens its own [`ConsumerClient`] through a [`Connector`]: a
//! client caches one receiver link per partition and re-attaches it with the start
//! position it was first opened with, so a reader that must resume from a new
//! position after an error needs a fresh client (see `reader.rs`).

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use azure_identity::{
    ClientSecretCredential, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use azure_messaging_eventhubs::{ConsumerClient, EventHubsError, ProducerClient, RetryOptions};

use crate::config::eventhubs::{CredentialConfig, HubConfig, TargetHubConfig};
use crate::sink::secret::{self, Secret};

/// Why a client could not be built or connected.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The credential could not be set up (a missing variable, an unreadable file).
    #[error("{key}: {message}")]
    Credential {
        /// The config key.
        key: String,
        /// What is wrong (never a secret's value).
        message: String,
    },
    /// The configuration asks for something the hub does not have.
    #[error("{key}: {message}")]
    Config {
        /// The config key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The service did not answer in time.
    #[error("{what}: no answer within {}", humantime::format_duration(*.after))]
    Timeout {
        /// What was attempted.
        what: String,
        /// The bound.
        after: Duration,
    },
    /// The SDK reported an error.
    #[error("{what}: {source}")]
    EventHubs {
        /// What was attempted.
        what: String,
        /// The cause.
        #[source]
        source: EventHubsError,
    },
}

/// How a client authenticates.
#[derive(Clone)]
pub enum Auth {
    /// A Microsoft Entra token credential.
    Token(Arc<dyn TokenCredential>),
    /// A shared access connection string.
    ConnectionString(Secret),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::Token(_) => "Auth::Token",
            Auth::ConnectionString(_) => "Auth::ConnectionString(<redacted>)",
        })
    }
}

impl Auth {
    /// The credential `config` describes; `key` names it in errors.
    pub fn from_config(config: &CredentialConfig, key: &str) -> Result<Auth, ClientError> {
        let fail = |message: String| ClientError::Credential {
            key: key.to_owned(),
            message,
        };
        let env_or = |given: &Option<String>, var: &str| -> Result<String, ClientError> {
            given
                .clone()
                .or_else(|| std::env::var(var).ok().filter(|v| !v.is_empty()))
                .ok_or_else(|| ClientError::Credential {
                    key: key.to_owned(),
                    message: format!("give it in the config or set {var}"),
                })
        };
        let token: Arc<dyn TokenCredential> = match config {
            CredentialConfig::ManagedIdentity {
                client_id,
                object_id,
                resource_id,
            } => {
                let user_assigned_id = match (client_id, object_id, resource_id) {
                    (Some(id), _, _) => Some(UserAssignedId::ClientId(id.clone())),
                    (_, Some(id), _) => Some(UserAssignedId::ObjectId(id.clone())),
                    (_, _, Some(id)) => Some(UserAssignedId::ResourceId(id.clone())),
                    _ => None,
                };
                let options = ManagedIdentityCredentialOptions {
                    user_assigned_id,
                    ..Default::default()
                };
                ManagedIdentityCredential::new(Some(options)).map_err(|e| fail(e.to_string()))?
            }
            CredentialConfig::WorkloadIdentity {
                client_id,
                tenant_id,
                token_file,
            } => {
                let options = WorkloadIdentityCredentialOptions {
                    client_id: client_id.clone(),
                    tenant_id: tenant_id.clone(),
                    token_file_path: token_file.clone(),
                    ..Default::default()
                };
                WorkloadIdentityCredential::new(Some(options)).map_err(|e| fail(e.to_string()))?
            }
            CredentialConfig::ClientSecret {
                tenant_id,
                client_id,
                secret,
            } => {
                let tenant = env_or(tenant_id, "AZURE_TENANT_ID")?;
                let client = env_or(client_id, "AZURE_CLIENT_ID")?;
                let value = secret::resolve(secret, &format!("{key}.secret"))
                    .map_err(|e| fail(e.to_string()))?;
                let value = azure_core::credentials::Secret::new(value.expose().to_owned());
                ClientSecretCredential::new(&tenant, client, value, None)
                    .map_err(|e| fail(e.to_string()))?
            }
            CredentialConfig::ConnectionString { connection_string } => {
                let value = secret::resolve(connection_string, &format!("{key}.connection_string"))
                    .map_err(|e| fail(e.to_string()))?;
                return Ok(Auth::ConnectionString(value));
            }
        };
        Ok(Auth::Token(token))
    }
}

/// Everything needed to open clients for one hub.
#[derive(Debug, Clone)]
pub struct Connector {
    /// The fully qualified namespace.
    pub namespace: String,
    /// The hub.
    pub hub: String,
    /// The consumer group (consumers only).
    pub consumer_group: String,
    /// A custom endpoint, if any.
    pub endpoint: Option<String>,
    /// The credential.
    pub auth: Auth,
    /// The bound on one connection attempt (and on management calls and closes).
    pub timeout: Duration,
    /// The SDK's own retries inside one attempt.
    pub retry: RetryOptions,
}

impl Connector {
    /// A connector for a `[[eventhubs.hubs]]` entry.
    pub fn for_hub(
        hub: &HubConfig,
        auth: Auth,
        timeout: Duration,
        backoff: (Duration, Duration),
    ) -> Self {
        Connector {
            namespace: hub.namespace.clone(),
            hub: hub.hub.clone(),
            consumer_group: hub.consumer_group.clone(),
            endpoint: hub.endpoint.clone(),
            auth,
            timeout,
            retry: retry_options(backoff, timeout),
        }
    }

    /// A connector for `[route.target]`.
    pub fn for_target(
        target: &TargetHubConfig,
        auth: Auth,
        timeout: Duration,
        backoff: (Duration, Duration),
    ) -> Self {
        Connector {
            namespace: target.namespace.clone(),
            hub: target.hub.clone(),
            consumer_group: String::new(),
            endpoint: target.endpoint.clone(),
            auth,
            timeout,
            retry: retry_options(backoff, timeout),
        }
    }

    /// `namespace/hub`, for messages.
    pub fn name(&self) -> String {
        format!("{}/{}", self.namespace, self.hub)
    }

    /// Opens a consumer client on the hub's consumer group.
    pub async fn consumer(&self) -> Result<ConsumerClient, ClientError> {
        let mut builder = ConsumerClient::builder()
            .with_consumer_group(self.consumer_group.clone())
            .with_retry_options(self.retry.clone())
            .with_application_id("kvwatch".to_owned());
        if let Some(endpoint) = &self.endpoint {
            builder = builder.with_custom_endpoint(endpoint.clone());
        }
        let what = format!(
            "connecting to {} (consumer group {})",
            self.name(),
            self.consumer_group
        );
        let open = async {
            match &self.auth {
                Auth::Token(credential) => {
                    builder
                        .open(&self.namespace, self.hub.clone(), credential.clone())
                        .await
                }
                Auth::ConnectionString(cs) => {
                    builder
                        .open_with_connection_string(cs.expose(), Some(&self.hub))
                        .await
                }
            }
        };
        self.bounded(what, open).await
    }

    /// Opens a producer client on the hub.
    pub async fn producer(&self) -> Result<ProducerClient, ClientError> {
        let mut builder = ProducerClient::builder()
            .with_retry_options(self.retry.clone())
            .with_application_id("kvwatch".to_owned());
        if let Some(endpoint) = &self.endpoint {
            builder = builder.with_custom_endpoint(endpoint.clone());
        }
        let open = async {
            match &self.auth {
                Auth::Token(credential) => {
                    builder
                        .open(&self.namespace, &self.hub, credential.clone())
                        .await
                }
                Auth::ConnectionString(cs) => {
                    builder
                        .open_with_connection_string(cs.expose(), Some(&self.hub))
                        .await
                }
            }
        };
        self.bounded(format!("connecting a producer to {}", self.name()), open)
            .await
    }

    /// Awaits an SDK call for at most the connector's timeout.
    pub async fn bounded<T>(
        &self,
        what: String,
        call: impl std::future::Future<Output = Result<T, EventHubsError>>,
    ) -> Result<T, ClientError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(source)) => Err(ClientError::EventHubs { what, source }),
            Err(_) => Err(ClientError::Timeout {
                what,
                after: self.timeout,
            }),
        }
    }
}

/// The SDK's retries inside one connection attempt: a few, within our backoff, and
/// never longer in all than the attempt's bound (our reader retries after that).
fn retry_options((initial, max): (Duration, Duration), timeout: Duration) -> RetryOptions {
    let ms = |d: Duration| {
        azure_core::time::Duration::milliseconds(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    };
    RetryOptions {
        initial_delay: ms(initial.min(max)),
        max_delay: ms(max),
        max_total_elapsed: ms(timeout),
        max_retries: 3,
    }
}
