//! Chat webhooks: Slack and Microsoft Teams take the same job (one alert, rendered for
//! the app, posted to a secret URL) and differ only in the message format, so one
//! transport serves both and [`ChatApp`] names the difference.
//!
//! - Slack incoming webhooks get a Block Kit message. Slack answers `200 ok`, `429` with
//!   `Retry-After` when a webhook posts faster than about once a second, and `4xx` with a
//!   reason (`invalid_payload`, `no_service`) that no retry fixes.
//! - Teams gets an Adaptive Card in a message envelope, through a Workflows ("Post to a
//!   channel when a webhook request is received") URL. The retired Office 365
//!   connectors' MessageCard format is not supported. Workflows answer `202 Accepted`;
//!   throttling comes back as `429` with `Retry-After`.

use futures::future::BoxFuture;
use reqwest::header::HeaderMap;
use serde_json::Value;

use super::Poster;
use crate::alert::Alert;
use crate::config::delivery::ChatSettings;
use crate::config::SinkKind;
use crate::sink::render::chat::{slack_message, teams_message};
use crate::sink::secret::Redactor;
use crate::sink::transport::{AttemptError, BuildError, Job, Transport, TransportOptions};

/// Which chat application a webhook posts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatApp {
    /// Slack: Block Kit messages.
    Slack,
    /// Microsoft Teams (Workflows): Adaptive Cards.
    Teams,
}

impl ChatApp {
    fn kind(self) -> SinkKind {
        match self {
            ChatApp::Slack => SinkKind::Slack,
            ChatApp::Teams => SinkKind::Teams,
        }
    }

    fn message(self, alert: &Alert) -> Value {
        match self {
            ChatApp::Slack => slack_message(alert),
            ChatApp::Teams => teams_message(alert),
        }
    }

    fn name(self) -> &'static str {
        match self {
            ChatApp::Slack => "Slack",
            ChatApp::Teams => "Teams",
        }
    }
}

/// Posts one alert at a time, rendered for its chat application.
pub struct ChatWebhook {
    app: ChatApp,
    poster: Poster,
}

impl ChatWebhook {
    /// Reads the webhook URL (`url`, a secret).
    pub fn new(
        app: ChatApp,
        settings: &ChatSettings,
        key: &dyn Fn(&str) -> String,
        opts: TransportOptions,
    ) -> Result<Self, BuildError> {
        Ok(ChatWebhook {
            app,
            poster: Poster::new(&settings.url, &key("url"), opts)?,
        })
    }
}

impl Transport for ChatWebhook {
    fn kind(&self) -> SinkKind {
        self.app.kind()
    }

    fn send<'a>(&'a self, job: Job<'a>) -> BoxFuture<'a, Result<(), AttemptError>> {
        Box::pin(async move {
            let Job::One(alert) = job else {
                return Err(AttemptError::permanent(format!(
                    "{} takes one alert at a time",
                    self.app.name()
                )));
            };
            let body = serde_json::to_vec(&self.app.message(alert))
                .map_err(|e| AttemptError::permanent(e.to_string()))?;
            self.poster
                .post(body, HeaderMap::new())
                .await?
                .into_result()
        })
    }

    fn redactor(&self) -> &Redactor {
        self.poster.redactor()
    }
}
