//! A progress line with events per second on standard error, when it is a terminal.

use indicatif::{ProgressBar, ProgressStyle};

use crate::pipeline::{Happening, Observer};

/// Updates a spinner every few thousand records.
pub struct Progress {
    bar: ProgressBar,
    records: u64,
}

impl Progress {
    /// A spinner on standard error.
    pub fn new() -> Self {
        let bar = ProgressBar::new_spinner();
        let style = ProgressStyle::with_template("{spinner} {pos} records  {per_sec}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        Progress { bar, records: 0 }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Observer for Progress {
    fn observe(&mut self, what: &Happening<'_>) {
        match what {
            Happening::Received { .. } | Happening::Refused { .. } => {
                self.records += 1;
                if self.records % 4096 == 0 {
                    self.bar.set_position(self.records);
                }
            }
            Happening::Watermark { at, .. } => self
                .bar
                .set_message(format!("event time {}", at.format("%Y-%m-%d %H:%M"))),
            _ => {}
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
