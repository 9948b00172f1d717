//! The delivery side of a sink: one [`Transport`] per configured sink sends a job (one
//! alert, or a digest of several) and says how it went, in terms the retry policy
//! understands: success, a retryable failure (with the receiver's `Retry-After`), or
//! a permanent refusal. [`build`] turns a `[[sinks]]` table into its transport,
//! reading its secrets.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use super::secret::{Redactor, SecretError};
use super::webhook::chat::{ChatApp, ChatWebhook};
use super::{email, file, webhook};
use crate::alert::Alert;
use crate::config::{SinkConfig, SinkKind, SinkSettings};

/// What one attempt carries.
#[derive(Debug, Clone, Copy)]
pub enum Job<'a> {
    /// One alert.
    One(&'a Alert),
    /// Several alerts in one message (email digests).
    Digest(&'a [Alert]),
}

impl Job<'_> {
    /// How many alerts it carries.
    pub fn len(&self) -> usize {
        match self {
            Job::One(_) => 1,
            Job::Digest(a) => a.len(),
        }
    }

    /// Whether it carries none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why an attempt failed. The message never contains a secret.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptError {
    /// Another attempt may succeed (timeouts, refused connections, 5xx, 429).
    pub retryable: bool,
    /// The receiver said "slow down" (HTTP 429): not counted as a try.
    pub rate_limited: bool,
    /// The receiver's `Retry-After`, when it gave one.
    pub retry_after: Option<Duration>,
    /// What happened.
    pub message: String,
}

impl AttemptError {
    /// A failure worth retrying.
    pub fn retryable(message: impl Into<String>) -> Self {
        AttemptError {
            retryable: true,
            rate_limited: false,
            retry_after: None,
            message: message.into(),
        }
    }

    /// A refusal no retry will change (bad request, authentication, a missing endpoint).
    pub fn permanent(message: impl Into<String>) -> Self {
        AttemptError {
            retryable: false,
            rate_limited: false,
            retry_after: None,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for AttemptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Sends jobs to one receiver.
pub trait Transport: Send + Sync {
    /// The sink's kind.
    fn kind(&self) -> SinkKind;

    /// Whether the transport can send [`Job::Digest`] (email only).
    fn digests(&self) -> bool {
        false
    }

    /// One attempt. The delivery worker bounds it with the attempt timeout as well.
    fn send<'a>(&'a self, job: Job<'a>) -> BoxFuture<'a, Result<(), AttemptError>>;

    /// The secrets this transport knows, for scrubbing messages.
    fn redactor(&self) -> &Redactor;
}

/// Why a sink could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A secret is missing or unreadable.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// A value is unusable.
    #[error("{key}: {message}")]
    Invalid {
        /// The config key (`sinks[0].from`).
        key: String,
        /// What is wrong (never a secret).
        message: String,
    },
}

/// Settings every transport shares.
#[derive(Debug, Clone, Copy)]
pub struct TransportOptions {
    /// The longest one attempt may take.
    pub timeout: Duration,
}

/// Builds the transport of sink number `index`.
pub fn build(
    index: usize,
    sink: &SinkConfig,
    opts: TransportOptions,
) -> Result<Arc<dyn Transport>, BuildError> {
    let key = |k: &str| format!("sinks[{index}].{k}");
    Ok(match &sink.settings {
        SinkSettings::Email(s) => Arc::new(email::EmailTransport::new(s, &key, opts)?),
        SinkSettings::Webhook(s) => Arc::new(webhook::generic::GenericWebhook::new(s, &key, opts)?),
        SinkSettings::Slack(s) => Arc::new(ChatWebhook::new(ChatApp::Slack, s, &key, opts)?),
        SinkSettings::Teams(s) => Arc::new(ChatWebhook::new(ChatApp::Teams, s, &key, opts)?),
        SinkSettings::PagerDuty(s) => Arc::new(webhook::pagerduty::PagerDuty::new(s, &key, opts)?),
        SinkSettings::File(s) => Arc::new(file::FileTransport::new(s)),
    })
}

/// The default request rate limit of a kind (per minute), from each service's
/// published limits; `None` is unlimited.
pub fn default_rate(kind: SinkKind) -> Option<u32> {
    match kind {
        // Slack: about one message a second per incoming webhook.
        SinkKind::Slack => Some(60),
        // Teams Workflows (Power Automate) throttles bursts; stay well below.
        SinkKind::Teams => Some(120),
        // PagerDuty Events API v2: 120 events a minute per integration key.
        SinkKind::PagerDuty => Some(120),
        SinkKind::Email | SinkKind::Webhook | SinkKind::File => None,
    }
}
