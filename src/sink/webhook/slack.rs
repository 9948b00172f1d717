//! Slack incoming webhooks: the alert as a Block Kit message. Slack answers `200 ok`,
//! `429` with `Retry-After` when a webhook posts faster than about once a second, and
//! `4xx` with a reason (`invalid_payload`, `no_service`) that no retry fixes.

use futures::future::BoxFuture;
use reqwest::header::HeaderMap;

use super::Poster;
use crate::config::delivery::ChatSettings;
use crate::config::SinkKind;
use crate::sink::render::chat::slack_message;
use crate::sink::secret::Redactor;
use crate::sink::transport::{AttemptError, BuildError, Job, Transport, TransportOptions};

/// Posts Block Kit messages.
pub struct SlackWebhook {
    poster: Poster,
}

impl SlackWebhook {
    /// Reads the webhook URL.
    pub fn new(
        settings: &ChatSettings,
        key: &dyn Fn(&str) -> String,
        opts: TransportOptions,
    ) -> Result<Self, BuildError> {
        Ok(SlackWebhook {
            poster: Poster::new(&settings.url, &key("url"), opts)?,
        })
    }
}

impl Transport for SlackWebhook {
    fn kind(&self) -> SinkKind {
        SinkKind::Slack
    }

    fn send<'a>(&'a self, job: Job<'a>) -> BoxFuture<'a, Result<(), AttemptError>> {
        Box::pin(async move {
            let Job::One(alert) = job else {
                return Err(AttemptError::permanent("Slack takes one alert at a time"));
            };
            let body = serde_json::to_vec(&slack_message(alert))
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
