//! Microsoft Teams through a Workflows ("Post to a channel when a webhook request is
//! received") URL: the alert as an Adaptive Card in a message envelope. The retired
//! Office 365 connectors' MessageCard format is not supported. Workflows answer
//! `202 Accepted`; throttling comes back as `429` with `Retry-After`.

use futures::future::BoxFuture;
use reqwest::header::HeaderMap;

use super::Poster;
use crate::config::delivery::ChatSettings;
use crate::config::SinkKind;
use crate::sink::render::chat::teams_message;
use crate::sink::secret::Redactor;
use crate::sink::transport::{AttemptError, BuildError, Job, Transport, TransportOptions};

/// Posts Adaptive Cards.
pub struct TeamsWebhook {
    poster: Poster,
}

impl TeamsWebhook {
    /// Reads the Workflows URL.
    pub fn new(
        settings: &ChatSettings,
        key: &dyn Fn(&str) -> String,
        opts: TransportOptions,
    ) -> Result<Self, BuildError> {
        Ok(TeamsWebhook {
            poster: Poster::new(&settings.url, &key("url"), opts)?,
        })
    }
}

impl Transport for TeamsWebhook {
    fn kind(&self) -> SinkKind {
        SinkKind::Teams
    }

    fn send<'a>(&'a self, job: Job<'a>) -> BoxFuture<'a, Result<(), AttemptError>> {
        Box::pin(async move {
            let Job::One(alert) = job else {
                return Err(AttemptError::permanent("Teams takes one alert at a time"));
            };
            let body = serde_json::to_vec(&teams_message(alert))
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
