//! Lifecycle of the delivery engine inside the plugin: at most one engine, opened while the
//! plugin runs and at least one destination is configured, replaced when the delivery settings
//! change.
//!
//! Notification requests hold a read lock on the engine slot while they accept an event, so an
//! engine is never stopped or replaced in the middle of an accept. Opening, stopping and
//! replacing take the write lock, so notifications wait for them; settings requests never touch
//! the slot.

use std::collections::BTreeMap;
use std::sync::{Mutex, RwLock, RwLockReadGuard};
use std::time::Duration;

use super::{AgentView, Config, DeliveryError, Engine};
use crate::event::StageEvent;

/// Time that in-flight delivery requests get to finish when the engine stops. Requests still
/// running then are cut off, and their events stay queued for the next start.
pub const STOP_DEADLINE: Duration = Duration::from_secs(5);

/// State of the engine slot, as notification requests read it.
enum Slot {
    /// No engine: the plugin is stopped or no destination is configured.
    Off,
    Open(Engine),
    /// Opening failed. The message names the failure and the fix.
    Failed(String),
}

/// State changed only by start, stop and settings changes.
#[derive(Default)]
struct Lifecycle {
    running: bool,
    config: Option<Config>,
    /// Delivery values of `config`, to tell whether new settings change delivery at all.
    values: BTreeMap<String, String>,
}

/// The plugin's delivery engine and its lifecycle. Safe to share between threads.
pub struct Service {
    /// Serializes start, stop and settings changes. Taken before `slot`.
    lifecycle: Mutex<Lifecycle>,
    slot: RwLock<Slot>,
    /// Site URL that the GoCD server reports, kept for engines opened later.
    server_site_url: Mutex<Option<String>>,
}

impl Default for Service {
    fn default() -> Service {
        Service {
            lifecycle: Mutex::new(Lifecycle::default()),
            slot: RwLock::new(Slot::Off),
            server_site_url: Mutex::new(None),
        }
    }
}

impl Service {
    /// Marks the plugin running and opens an engine for the configuration applied last, if it
    /// has destinations.
    pub fn start(&self) {
        let mut lifecycle = self.lock_lifecycle();
        if lifecycle.running {
            return;
        }
        lifecycle.running = true;
        self.reopen(&lifecycle);
    }

    /// Stops the engine, waiting at most [`STOP_DEADLINE`] for requests in flight, and joins
    /// every sender thread. Events still queued are delivered after the next start.
    pub fn stop(&self) {
        let mut lifecycle = self.lock_lifecycle();
        lifecycle.running = false;
        let mut slot = self.write_slot();
        close(&mut slot);
    }

    /// Applies new delivery settings. `values` are the delivery settings values in force; when
    /// they equal the ones applied last, the open engine is kept. Otherwise the engine is
    /// stopped and, while the plugin runs, a new one is opened for `config`.
    pub fn apply(&self, config: Config, values: BTreeMap<String, String>) {
        let mut lifecycle = self.lock_lifecycle();
        let unchanged = lifecycle.config.is_some() && lifecycle.values == values;
        let healthy = !matches!(*self.read_slot(), Slot::Failed(_));
        if unchanged && healthy {
            return;
        }
        lifecycle.config = Some(config);
        lifecycle.values = values;
        if lifecycle.running {
            self.reopen(&lifecycle);
        }
    }

    /// Sets the site URL that GoCD reports, for the open engine and for engines opened later.
    /// The site URL setting takes precedence over it.
    pub fn set_server_site_url(&self, site_url: Option<String>) {
        *self
            .server_site_url
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = site_url.clone();
        if let Slot::Open(engine) = &*self.read_slot() {
            engine.set_server_site_url(site_url);
        }
    }

    /// Queues a stage event for delivery. Returns the messages for the stage-status response:
    /// why the event could not be queued, and every failing destination. Empty means success.
    pub fn accept(&self, event: &StageEvent, raw_body: &[u8]) -> Vec<String> {
        self.with_engine(|engine| engine.accept(event, raw_body).map(drop))
    }

    /// Queues an agent event for delivery; returns messages as [`Service::accept`] does.
    pub fn accept_agent(&self, event: &dyn AgentView, raw_body: &[u8]) -> Vec<String> {
        self.with_engine(|engine| engine.accept_agent(event, raw_body).map(drop))
    }

    /// Returns one message per failing destination, or the reason the engine could not open.
    pub fn status(&self) -> Vec<String> {
        match &*self.read_slot() {
            Slot::Off => Vec::new(),
            Slot::Open(engine) => engine.status(),
            Slot::Failed(message) => vec![message.clone()],
        }
    }

    /// Returns true while an engine is open.
    pub fn is_open(&self) -> bool {
        matches!(*self.read_slot(), Slot::Open(_))
    }

    fn with_engine(
        &self,
        accept: impl FnOnce(&Engine) -> Result<(), DeliveryError>,
    ) -> Vec<String> {
        if matches!(*self.read_slot(), Slot::Failed(_)) {
            self.retry_open();
        }

        let slot = self.read_slot();
        match &*slot {
            Slot::Off => Vec::new(),
            Slot::Failed(message) => vec![format!("{message} This event was not queued.")],
            Slot::Open(engine) => {
                let mut messages = Vec::new();
                if let Err(error) = accept(engine) {
                    log::error!("Could not queue an event for delivery: {error}");
                    messages.push(accept_failure_message(&error));
                }
                messages.extend(engine.status());
                messages
            }
        }
    }

    /// Tries again to open an engine whose opening failed, so that fixing the folder (for
    /// example its permissions) takes effect without saving the settings again. Skipped when a
    /// start, stop or settings change is under way.
    fn retry_open(&self) {
        let Ok(lifecycle) = self.lifecycle.try_lock() else {
            return;
        };
        if lifecycle.running && matches!(*self.read_slot(), Slot::Failed(_)) {
            self.reopen(&lifecycle);
        }
    }

    /// Stops the open engine, then opens one for the configuration in `lifecycle` when it has
    /// destinations. Holds the slot's write lock throughout, so no accept reaches either engine
    /// while they change over.
    fn reopen(&self, lifecycle: &Lifecycle) {
        let mut slot = self.write_slot();
        close(&mut slot);

        let Some(config) = lifecycle
            .config
            .as_ref()
            .filter(|config| !config.destinations.is_empty())
        else {
            log::info!("No delivery destination is configured; delivery is off");
            return;
        };
        *slot = match open(config.clone()) {
            Ok(engine) => {
                let site_url = self
                    .server_site_url
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .clone();
                engine.set_server_site_url(site_url);
                Slot::Open(engine)
            }
            Err(message) => {
                log::error!("{message}");
                Slot::Failed(message)
            }
        };
    }

    fn lock_lifecycle(&self) -> std::sync::MutexGuard<'_, Lifecycle> {
        self.lifecycle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn read_slot(&self) -> RwLockReadGuard<'_, Slot> {
        self.slot
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_slot(&self) -> std::sync::RwLockWriteGuard<'_, Slot> {
        self.slot
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Opens and starts an engine. On failure, returns a message for the admin that names the fix.
fn open(config: Config) -> Result<Engine, String> {
    let queue_folder = config.queue_dir.clone();
    let destinations = config.destinations.len();
    let engine = Engine::open(config).map_err(|error| open_failure_message(&error))?;
    engine
        .start()
        .map_err(|error| open_failure_message(&error))?;
    log::info!(
        "Delivery started: {destinations} destination(s), queue folder {}",
        queue_folder.display()
    );
    Ok(engine)
}

fn open_failure_message(error: &DeliveryError) -> String {
    let fix = match error {
        DeliveryError::Setup(_) => {
            "Check the CA certificates and proxy settings of the Herald plugin."
        }
        _ => {
            "Give the GoCD server user write access to the queue folder, or choose another queue folder in the Herald plugin settings."
        }
    };
    format!("Delivery is not running: {error}. {fix}")
}

/// Returns the response message for an event that could not be queued. A queue-full message
/// already names its fix; a write failure such as a read-only folder or a full disk does not.
fn accept_failure_message(error: &DeliveryError) -> String {
    match error {
        DeliveryError::Io(_) => format!(
            "{error}. This event was not queued. Make the queue folder writable by the GoCD server user and free space on its disk, or choose another queue folder in the Herald plugin settings. Events queued earlier are kept."
        ),
        _ => error.to_string(),
    }
}

fn close(slot: &mut Slot) {
    if let Slot::Open(engine) = std::mem::replace(slot, Slot::Off) {
        engine.stop(STOP_DEADLINE);
        log::info!("Delivery stopped");
    }
}
