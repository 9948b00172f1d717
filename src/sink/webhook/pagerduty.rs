//! PagerDuty Events API v2: each alert is a `trigger` event whose `dedup_key` is the
//! incident id (default) or the alert id. With the incident id, a retry of the same
//! alert and every later revision of the incident land on the same PagerDuty alert
//! instead of paging again; with the alert id, each revision pages on its own while
//! retries still deduplicate. PagerDuty answers `202`; `429` means slow down.

use futures::future::BoxFuture;
use reqwest::header::HeaderMap;
use serde_json::json;

use super::Poster;
use crate::alert::{Alert, Severity};
use crate::config::delivery::{DedupKey, PagerDutySettings};
use crate::config::SinkKind;
use crate::sink::render::{clip, headline, inert};
use crate::sink::secret::{resolve, Redactor, Secret};
use crate::sink::transport::{AttemptError, BuildError, Job, Transport, TransportOptions};

/// Sends Events API v2 triggers.
pub struct PagerDuty {
    poster: Poster,
    routing_key: Secret,
    dedup: DedupKey,
}

impl PagerDuty {
    /// Reads the routing key.
    pub fn new(
        settings: &PagerDutySettings,
        key: &dyn Fn(&str) -> String,
        opts: TransportOptions,
    ) -> Result<Self, BuildError> {
        let routing_key = resolve(&settings.routing_key, &key("routing_key"))?;
        let mut poster = Poster::public(&settings.url, &key("url"), opts)?;
        poster.redact_also(&routing_key);
        Ok(PagerDuty {
            poster,
            routing_key,
            dedup: settings.dedup_key,
        })
    }
}

/// PagerDuty's severity for an alert's.
pub fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "info",
    }
}

/// The event body (without the routing key, which [`PagerDuty`] adds).
pub fn event(alert: &Alert, dedup: DedupKey) -> serde_json::Value {
    let dedup_key = match dedup {
        DedupKey::Incident => &alert.incident_id,
        DedupKey::Alert => &alert.id,
    };
    json!({
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "client": "kvwatch",
        "payload": {
            "summary": clip(&inert(&format!("{} — {}", headline(alert), alert.summary)), 1024),
            "source": clip(&inert(&alert.vault), 255),
            "severity": severity(alert.severity),
            "timestamp": alert.last_seen.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "component": "azure-key-vault",
            "group": clip(&inert(&alert.vault), 255),
            "class": alert.detector,
            "custom_details": alert,
        }
    })
}

impl Transport for PagerDuty {
    fn kind(&self) -> SinkKind {
        SinkKind::PagerDuty
    }

    fn send<'a>(&'a self, job: Job<'a>) -> BoxFuture<'a, Result<(), AttemptError>> {
        Box::pin(async move {
            let Job::One(alert) = job else {
                return Err(AttemptError::permanent(
                    "PagerDuty takes one alert at a time",
                ));
            };
            let mut body = event(alert, self.dedup);
            body["routing_key"] = json!(self.routing_key.expose());
            let bytes =
                serde_json::to_vec(&body).map_err(|e| AttemptError::permanent(e.to_string()))?;
            self.poster
                .post(bytes, HeaderMap::new())
                .await?
                .into_result()
        })
    }

    fn redactor(&self) -> &Redactor {
        self.poster.redactor()
    }
}
