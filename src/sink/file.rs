//! The file sink: the alert contract as JSON Lines, appended to a file (synced after
//! each alert; a new file is created `0600`) or written to standard output, as
//! `kvwatch replay` prints it. A redelivery after a crash appends the line again;
//! readers drop repeats by `id`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use futures::future::BoxFuture;

use super::secret::Redactor;
use super::transport::{AttemptError, Job, Transport};
use crate::config::delivery::FileSettings;
use crate::config::SinkKind;

/// Appends JSON Lines.
pub struct FileTransport {
    path: PathBuf,
    lock: Mutex<()>,
    redactor: Redactor,
}

impl FileTransport {
    /// A sink writing to `settings.path` (`-`: standard output).
    pub fn new(settings: &FileSettings) -> Self {
        FileTransport {
            path: settings.path.clone(),
            lock: Mutex::new(()),
            redactor: Redactor::new(),
        }
    }

    fn write(&self, text: &str) -> Result<(), AttemptError> {
        let _guard = self
            .lock
            .lock()
            .map_err(|_| AttemptError::retryable("file sink lock poisoned"))?;
        let io = |e: std::io::Error| {
            AttemptError::retryable(format!("cannot write to {}: {e}", self.path.display()))
        };
        if self.path.as_os_str() == "-" {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .map_err(io)
        } else {
            // Created readable by kvwatch's account only (alerts name who read what).
            let mut file = crate::state::private::open_append(&self.path).map_err(io)?;
            file.write_all(text.as_bytes())
                .and_then(|()| file.sync_data())
                .map_err(io)
        }
    }
}

impl Transport for FileTransport {
    fn kind(&self) -> SinkKind {
        SinkKind::File
    }

    fn send<'a>(&'a self, job: Job<'a>) -> BoxFuture<'a, Result<(), AttemptError>> {
        let mut text = String::new();
        let alerts: &[crate::alert::Alert] = match job {
            Job::One(a) => std::slice::from_ref(a),
            Job::Digest(a) => a,
        };
        for a in alerts {
            text.push_str(&a.to_json_line());
            text.push('\n');
        }
        // A line and a sync: short enough to do on the worker's thread.
        Box::pin(async move { self.write(&text) })
    }

    fn redactor(&self) -> &Redactor {
        &self.redactor
    }
}
