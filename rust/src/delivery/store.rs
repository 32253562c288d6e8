//! The durable queue on disk.
//!
//! Layout under the queue folder:
//!
//! ```text
//! queue/<destination>/<seq>.json   one pending delivery: the exact request body for one
//!                                  destination, with its event id and acceptance time
//! quarantine/<destination>/...     files that could not be read, moved aside and logged
//! history/<pipeline>~<stage>.json  stage history for broken/fixed (see `history`)
//! ```
//!
//! `<seq>` is a zero-padded number that grows with every accepted event, so the files of one
//! destination sort in acceptance order and each sender delivers oldest first.
//!
//! Every file is written to a temporary name in its final folder, flushed with `fsync` and
//! renamed, and then the folder is flushed too. So after a crash a file is either complete or
//! absent, and a file that `write` reported is on disk. A delivered file is deleted without flushing the
//! folder, so a crash right after a delivery can bring the file back: delivery is at least once.
//! Temporary files left by a crash are deleted at open; files that do not parse are moved to
//! `quarantine/` with a log line and never stop the queue.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::DeliveryError;

/// Folder, under the queue folder, of the entries that their destination rejected.
pub const REJECTED_FOLDER: &str = "rejected";

/// One pending delivery, as stored in its file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    pub event_id: String,
    /// Milliseconds since the Unix epoch when `accept` stored the event.
    pub accepted_at_ms: u64,
    /// The request body, sent byte for byte.
    pub body: String,
}

/// A pending delivery file, known to the sender without reading it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryRef {
    pub seq: u64,
    pub path: PathBuf,
    pub size: u64,
}

#[derive(Default)]
struct Usage {
    count: u64,
    bytes: u64,
}

/// The queue folder and its limits.
pub struct Store {
    queue_dir: PathBuf,
    quarantine_dir: PathBuf,
    rejected_dir: PathBuf,
    max_count: u64,
    max_bytes: u64,
    usage: Mutex<Usage>,
    next_seq: AtomicU64,
}

/// Pending deliveries per destination folder name, oldest first.
pub type Pending = BTreeMap<String, VecDeque<EntryRef>>;

impl Store {
    /// Opens (or creates) the queue under `dir` and lists the pending deliveries.
    pub fn open(dir: &Path, max_count: u64, max_bytes: u64) -> io::Result<(Store, Pending)> {
        let queue_dir = dir.join("queue");
        let quarantine_dir = dir.join("quarantine");
        let rejected_dir = dir.join(REJECTED_FOLDER);
        fs::create_dir_all(&queue_dir)?;
        fs::create_dir_all(&quarantine_dir)?;

        let store = Store {
            queue_dir,
            quarantine_dir,
            rejected_dir,
            max_count,
            max_bytes,
            usage: Mutex::new(Usage::default()),
            next_seq: AtomicU64::new(1),
        };

        let mut pending = Pending::new();
        let mut usage = Usage::default();
        let mut max_seq = 0;
        for destination in fs::read_dir(&store.queue_dir)? {
            let destination = destination?;
            if !destination.file_type()?.is_dir() {
                continue;
            }
            let name = destination.file_name().to_string_lossy().into_owned();
            let entries = store.scan_destination(&name, &destination.path())?;
            for entry in &entries {
                usage.count += 1;
                usage.bytes += entry.size;
                max_seq = max_seq.max(entry.seq);
            }
            pending.insert(name, entries);
        }

        *store.usage.lock().unwrap() = usage;
        store.next_seq.store(max_seq + 1, Ordering::SeqCst);
        Ok((store, pending))
    }

    fn scan_destination(&self, name: &str, dir: &Path) -> io::Result<VecDeque<EntryRef>> {
        let mut entries = Vec::new();
        for file in fs::read_dir(dir)? {
            let file = file?;
            let file_name = file.file_name().to_string_lossy().into_owned();
            let path = file.path();
            if file_name.starts_with(".tmp-") {
                // Written by an `accept` that never returned, so no caller was told it was stored.
                fs::remove_file(&path)?;
                continue;
            }
            let seq = file_name
                .strip_suffix(".json")
                .filter(|digits| digits.len() == 20)
                .and_then(|digits| digits.parse::<u64>().ok());
            match seq {
                Some(seq) => entries.push(EntryRef {
                    seq,
                    size: file.metadata()?.len(),
                    path,
                }),
                None => self.quarantine(name, &path, "unexpected file name"),
            }
        }
        entries.sort_by_key(|e| e.seq);
        Ok(entries.into())
    }

    /// Takes the next sequence number. Called under the engine's accept lock, so numbers are
    /// handed out in acceptance order.
    pub fn next_seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::SeqCst)
    }

    /// Stores one delivery per destination and flushes them to disk before returning.
    /// Rejects the whole event when the queue limits would be exceeded.
    pub fn write(&self, entries: &[(String, Entry)]) -> Result<Vec<EntryRef>, DeliveryError> {
        let mut files = Vec::with_capacity(entries.len());
        for (destination, entry) in entries {
            let bytes = serde_json::to_vec(entry).map_err(|e| DeliveryError::Io(e.to_string()))?;
            files.push((destination, entry.seq, bytes));
        }

        let added_count = files.len() as u64;
        let added_bytes: u64 = files.iter().map(|(_, _, bytes)| bytes.len() as u64).sum();
        {
            let mut usage = self.usage.lock().unwrap();
            if usage.count + added_count > self.max_count
                || usage.bytes + added_bytes > self.max_bytes
            {
                return Err(DeliveryError::QueueFull {
                    queued: usage.count,
                    queued_bytes: usage.bytes,
                    max_count: self.max_count,
                    max_bytes: self.max_bytes,
                    needed: added_count,
                    needed_bytes: added_bytes,
                });
            }
            // Reserved now so concurrent writers cannot overshoot; released on failure below.
            usage.count += added_count;
            usage.bytes += added_bytes;
        }

        let result = self.write_files(&files);
        if result.is_err() {
            let mut usage = self.usage.lock().unwrap();
            usage.count -= added_count;
            usage.bytes -= added_bytes;
        }
        result.map_err(|e| DeliveryError::Io(format!("could not write the queue: {e}")))
    }

    fn write_files(&self, files: &[(&String, u64, Vec<u8>)]) -> io::Result<Vec<EntryRef>> {
        let mut refs = Vec::with_capacity(files.len());
        for (destination, seq, bytes) in files {
            let dir = self.queue_dir.join(destination);
            fs::create_dir_all(&dir)?;
            let name = format!("{seq:020}.json");
            write_file_synced(&dir, &name, bytes)?;
            refs.push(EntryRef {
                seq: *seq,
                path: dir.join(name),
                size: bytes.len() as u64,
            });
        }
        for (destination, _, _) in files {
            sync_dir(&self.queue_dir.join(destination))?;
        }
        Ok(refs)
    }

    /// Reads a pending delivery. Fails when the file is missing or does not parse.
    pub fn read(&self, entry: &EntryRef) -> Result<Entry, String> {
        let bytes = fs::read(&entry.path).map_err(|e| e.to_string())?;
        let parsed: Entry = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        if parsed.seq != entry.seq {
            return Err(format!("file holds sequence number {}", parsed.seq));
        }
        Ok(parsed)
    }

    /// Deletes a delivered (or given up) file and releases its share of the limits.
    pub fn remove(&self, entry: &EntryRef) {
        if let Err(error) = fs::remove_file(&entry.path) {
            if error.kind() != io::ErrorKind::NotFound {
                log::warn!(
                    "Could not delete delivered queue file {}: {error}. It will be delivered again after a restart.",
                    entry.path.display()
                );
            }
        }
        self.release(entry);
    }

    /// Moves an unreadable file aside so it never blocks its destination again.
    pub fn quarantine_entry(&self, destination: &str, entry: &EntryRef, reason: &str) {
        self.quarantine(destination, &entry.path, reason);
        self.release(entry);
    }

    /// Moves an entry that its destination rejected to `rejected/<destination>/`, where an admin
    /// can inspect it and send it again. Nothing is deleted unless the move fails.
    pub fn reject_entry(&self, destination: &str, entry: &EntryRef, reason: &str) {
        let dir = self.rejected_dir.join(destination);
        let target = dir.join(entry.path.file_name().unwrap_or_default());
        match fs::create_dir_all(&dir).and_then(|_| fs::rename(&entry.path, &target)) {
            Ok(()) => log::error!(
                "Destination {destination} rejected queue file {} ({reason}); moved it to {} so later events are not held back.",
                entry.path.display(),
                target.display()
            ),
            Err(error) => log::error!(
                "Destination {destination} rejected queue file {} ({reason}), and moving it to {} failed ({error}); it stays queued.",
                entry.path.display(),
                target.display()
            ),
        }
        self.release(entry);
    }

    fn release(&self, entry: &EntryRef) {
        let mut usage = self.usage.lock().unwrap();
        usage.count = usage.count.saturating_sub(1);
        usage.bytes = usage.bytes.saturating_sub(entry.size);
    }

    fn quarantine(&self, destination: &str, path: &Path, reason: &str) {
        let dir = self.quarantine_dir.join(destination);
        let target = dir.join(path.file_name().unwrap_or_default());
        let moved = fs::create_dir_all(&dir).and_then(|_| fs::rename(path, &target));
        match moved {
            Ok(()) => log::error!(
                "Moved unreadable queue file {} to {} ({reason}); its event is not delivered.",
                path.display(),
                target.display()
            ),
            Err(error) => {
                log::error!(
                    "Unreadable queue file {} ({reason}) could not be moved to quarantine ({error}); deleting it.",
                    path.display()
                );
                let _ = fs::remove_file(path);
            }
        }
    }
}

fn write_file_synced(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let temporary = dir.join(format!(".tmp-{name}"));
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temporary, dir.join(name))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Replaces `dir/name` with `bytes` so that a crash leaves the old or the new content, and
/// flushes both the file and the folder.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    write_file_synced(dir, name, bytes)?;
    sync_dir(dir)
}
