//! The alert contract as JSON Lines, to a file or standard output.

use std::io::Write;

use super::{AlertSink, SinkError};
use crate::alert::Alert;

/// Writes one alert per line.
pub struct JsonLinesSink {
    target: String,
    out: Box<dyn Write + Send>,
}

impl JsonLinesSink {
    /// A sink writing to `out`; `target` names it in errors.
    pub fn new(target: impl Into<String>, out: Box<dyn Write + Send>) -> Self {
        JsonLinesSink {
            target: target.into(),
            out,
        }
    }

    fn io(&self, source: std::io::Error) -> SinkError {
        SinkError::Io {
            target: self.target.clone(),
            source,
        }
    }
}

impl AlertSink for JsonLinesSink {
    fn deliver(&mut self, alert: &Alert) -> Result<(), SinkError> {
        let line = alert.to_json_line();
        self.out
            .write_all(line.as_bytes())
            .and_then(|()| self.out.write_all(b"\n"))
            .map_err(|e| self.io(e))
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.out.flush().map_err(|e| self.io(e))
    }
}
