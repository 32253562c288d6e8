//! The event log: accepted notifications appended as JSON lines to a file that log shippers tail.
//!
//! Each line is `{"received_at": "<RFC 3339 UTC>", "kind": "stage-status", "event": {...}}`, where
//! `event` is the serde form of [`crate::event::StageEvent`] or [`crate::event::AgentEvent`].

use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

/// Appends event lines; one lock serializes the writes so that lines from concurrent calls never
/// interleave.
#[derive(Default)]
pub struct EventLog {
    write_lock: Mutex<()>,
}

#[derive(Serialize)]
struct Line<'a, T> {
    received_at: String,
    kind: &'a str,
    event: &'a T,
}

/// A failed append, naming the file and the operating system's error.
#[derive(Debug)]
pub struct EventLogError {
    pub path: PathBuf,
    pub error: io::Error,
}

impl fmt::Display for EventLogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot append to event log {}: {}. Check that its folder exists and that the GoCD server user may \
             write the file, or change the event log file in the Herald plugin settings",
            self.path.display(),
            self.error
        )
    }
}

impl std::error::Error for EventLogError {}

impl EventLog {
    pub fn new() -> EventLog {
        EventLog::default()
    }

    /// Appends `event` as one line to the file at `path`, creating the file when absent.
    ///
    /// The file is opened for each line so that a log rotated away (renamed or removed) is
    /// recreated instead of written to after its rotation.
    pub fn append<T: Serialize>(
        &self,
        path: &Path,
        kind: &str,
        received_at: DateTime<Utc>,
        event: &T,
    ) -> Result<(), EventLogError> {
        let line = Line {
            received_at: received_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            kind,
            event,
        };
        let mut bytes = serde_json::to_vec(&line).map_err(|error| EventLogError {
            path: path.to_path_buf(),
            error: io::Error::new(io::ErrorKind::InvalidData, error),
        })?;
        bytes.push(b'\n');

        // The lock guards no data, so a lock poisoned by a panicking thread is still safe to use.
        let _guard = self
            .write_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        reject_special_file(path)
            .and_then(|()| OpenOptions::new().create(true).append(true).open(path))
            .and_then(|mut file| file.write_all(&bytes))
            .map_err(|error| EventLogError {
                path: path.to_path_buf(),
                error,
            })
    }
}

/// Returns an error when `path` exists and is not a regular file. Opening a FIFO for writing
/// blocks until a reader opens it, which would stall GoCD's notification thread.
///
/// NOTE: a FIFO created between this check and the open still blocks the open.
fn reject_special_file(path: &Path) -> io::Result<()> {
    match std::fs::metadata(path) {
        Ok(metadata) if !metadata.is_file() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a folder, FIFO, socket or device)",
        )),
        _ => Ok(()),
    }
}
