//! Sinks: where alerts go. The pipeline hands each alert to one [`AlertSink`]; the
//! JSON Lines sink writes the alert contract to a file or standard output.
//!
//! Durable delivery: the [`enqueue::OutboxSink`] commits routed alerts to the
//! [`outbox`] (the pipeline's `flush` is the durability point); [`delivery`] workers
//! send them through each sink's [`transport`] ([`email`], [`webhook`], [`file`]),
//! retrying per [`retry`] and reporting to a [`observe::DeliveryObserver`], each
//! send allowed by the delivery [`gate`] (coordination's fence). What an
//! analyst reads is rendered by [`render`]; [`secret`] keeps credentials out of text.

pub mod delivery;
pub mod email;
pub mod enqueue;
pub mod file;
pub mod gate;
pub mod json_lines;
pub mod observe;
pub mod outbox;
pub mod redact;
pub mod render;
pub mod retry;
pub mod sample;
pub mod secret;
pub mod transport;
pub mod webhook;
mod worker;

use crate::alert::Alert;

/// Why an alert could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Writing failed.
    #[error("cannot write alerts to {target}: {source}")]
    Io {
        /// Where.
        target: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The outbox could not commit.
    #[error(transparent)]
    Outbox(#[from] outbox::OutboxError),
}

/// Receives alerts from the pipeline, in order.
pub trait AlertSink: Send {
    /// Takes one alert; when this returns, the alert is the sink's responsibility.
    fn deliver(&mut self, alert: &Alert) -> Result<(), SinkError>;

    /// Makes everything delivered so far durable (or visible).
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Keeps alerts in memory (tests, reports, rule examples).
#[derive(Debug, Default, Clone)]
pub struct Collect(pub std::sync::Arc<std::sync::Mutex<Vec<Alert>>>);

impl Collect {
    /// The alerts collected so far.
    pub fn alerts(&self) -> Vec<Alert> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl AlertSink for Collect {
    fn deliver(&mut self, alert: &Alert) -> Result<(), SinkError> {
        if let Ok(mut v) = self.0.lock() {
            v.push(alert.clone());
        }
        Ok(())
    }
}
