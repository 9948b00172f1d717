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

/// One output several pipelines write alert lines to (the partitions of a balanced
/// `kvwatch run`): each writer keeps its lines until a flush and hands over whole
/// lines only, under the lock, so lines of two pipelines never interleave.
#[derive(Clone)]
pub struct SharedLines {
    out: std::sync::Arc<std::sync::Mutex<Box<dyn Write + Send>>>,
}

impl SharedLines {
    /// Shares `out`.
    pub fn new(out: Box<dyn Write + Send>) -> SharedLines {
        SharedLines {
            out: std::sync::Arc::new(std::sync::Mutex::new(out)),
        }
    }

    /// A writer of its own for one pipeline.
    pub fn writer(&self) -> LineWriter {
        LineWriter {
            shared: self.clone(),
            pending: Vec::new(),
        }
    }
}

/// One pipeline's writer on [`SharedLines`].
pub struct LineWriter {
    shared: SharedLines,
    pending: Vec<u8>,
}

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let Some(end) = self.pending.iter().rposition(|b| *b == b'\n') else {
            return Ok(());
        };
        let mut out = self
            .shared
            .out
            .lock()
            .map_err(|_| std::io::Error::other("another pipeline panicked while writing"))?;
        out.write_all(&self.pending[..=end])?;
        out.flush()?;
        drop(out);
        self.pending.drain(..=end);
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        // Best effort: a failure here was already reported by the last flush.
        let _ = self.flush();
    }
}
