//! Delivery of notifications to webhooks and chat, without blocking GoCD and without losing an
//! accepted event.
//!
//! [`Engine::accept`] classifies an event (including `broken`/`fixed` from the stage history),
//! routes it with the [`rules`], writes one request body per destination to the durable queue
//! in [`store`] and flushes it to disk, then returns. It never touches the network. One sender
//! thread per destination delivers from the queue with retries ([`sender`]), so a dead
//! destination delays no other. [`Engine::status`] returns the failure messages for the
//! `stage-status` answer.
//!
//! One engine at a time may use a queue folder: two engines on one folder would deliver the
//! same files twice and interleave sequence numbers.

pub mod config;
pub mod history;
pub mod payload;
pub mod placeholders;
pub mod rules;
pub mod sender;
pub mod service;
pub mod store;
pub mod template;

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use config::{
    Config, Destination, DestinationKind, FieldError, SettingsField, SETTINGS_FIELDS,
};
pub use payload::AgentView;
pub use rules::EventKind;

use crate::event::{StageEvent, StageState};
use history::{History, RunOutcome, Transition};
use rules::Subject;
use sender::{DestinationState, SenderContext};
use store::{Entry, Store};

/// Error of opening the engine or accepting an event. The messages are meant for the GoCD admin
/// and never contain URLs or secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryError {
    /// The queue limits are reached; nothing queued was dropped.
    QueueFull {
        queued: u64,
        queued_bytes: u64,
        max_count: u64,
        max_bytes: u64,
        /// Deliveries the rejected event needed: one per selected destination.
        needed: u64,
        needed_bytes: u64,
    },
    /// Reading or writing the queue folder failed.
    Io(String),
    /// The HTTP client could not be built from the settings.
    Setup(String),
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliveryError::QueueFull {
                queued,
                queued_bytes,
                max_count,
                max_bytes,
                needed,
                needed_bytes,
            } => write!(
                f,
                "delivery queue is full ({}, {} queued; limits {}, {}): this event needed {} ({}) and was not queued. Fix the failing destinations or raise the queue limits in the plugin settings.",
                count_noun(*queued, "delivery", "deliveries"),
                mebibytes(*queued_bytes),
                count_noun(*max_count, "delivery", "deliveries"),
                mebibytes(*max_bytes),
                count_noun(*needed, "delivery", "deliveries"),
                mebibytes(*needed_bytes)
            ),
            DeliveryError::Io(message) => write!(f, "delivery queue error: {message}"),
            DeliveryError::Setup(message) => write!(f, "delivery setup error: {message}"),
        }
    }
}

impl std::error::Error for DeliveryError {}

/// Formats a count with the singular or plural form of its noun: "1 event", "2 events".
/// Formats a byte count in MiB with one decimal, as the queue limit setting is given in MiB.
fn mebibytes(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

pub(crate) fn count_noun(count: u64, singular: &str, plural: &str) -> String {
    let noun = if count == 1 { singular } else { plural };
    format!("{count} {noun}")
}

/// Result of a successful `accept`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    pub event_id: String,
    pub kinds: Vec<EventKind>,
    /// Destinations the event was queued for; empty when no rule selected it.
    pub destinations: Vec<String>,
}

struct Shared {
    config: Config,
    store: Arc<Store>,
    /// Also the accept lock: held while an event is classified, queued and remembered, so
    /// sequence numbers and history follow the order of acceptance.
    history: Mutex<History>,
    destinations: BTreeMap<String, Arc<DestinationState>>,
    server_site_url: RwLock<Option<String>>,
    stopping: Arc<AtomicBool>,
    agent: ureq::Agent,
}

/// The delivery engine for one set of settings.
pub struct Engine {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Engine {
    /// Opens the queue folder and the stage history; starts no thread (see [`Engine::start`]).
    pub fn open(config: Config) -> Result<Engine, DeliveryError> {
        let io_error = |e: std::io::Error| {
            DeliveryError::Io(format!(
                "cannot use queue folder {}: {e}",
                config.queue_dir.display()
            ))
        };
        let (store, mut pending) = Store::open(
            &config.queue_dir,
            config.queue_max_events,
            config.queue_max_bytes,
        )
        .map_err(io_error)?;
        let history = History::open(&config.queue_dir.join("history")).map_err(io_error)?;
        let agent = sender::build_agent(&config).map_err(DeliveryError::Setup)?;

        let mut destinations = BTreeMap::new();
        for destination in &config.destinations {
            let queued = pending.remove(&destination.name).unwrap_or_default();
            if !queued.is_empty() {
                log::info!(
                    "Destination {} has {} queued from before",
                    destination.name,
                    count_noun(queued.len() as u64, "delivery", "deliveries")
                );
            }
            let state = DestinationState::new(destination.clone(), queued);
            destinations.insert(destination.name.clone(), Arc::new(state));
        }
        for (name, queued) in &pending {
            if !queued.is_empty() {
                log::warn!(
                    "{} in {} for destination {name}, which is no longer defined; they are sent if a destination of that name is defined again",
                    count_noun(queued.len() as u64, "delivery waits", "deliveries wait"),
                    config.queue_dir.join("queue").join(name).display()
                );
            }
        }

        let shared = Shared {
            store: Arc::new(store),
            history: Mutex::new(history),
            destinations,
            server_site_url: RwLock::new(None),
            stopping: Arc::new(AtomicBool::new(false)),
            agent,
            config,
        };
        Ok(Engine {
            shared: Arc::new(shared),
            threads: Mutex::new(Vec::new()),
        })
    }

    /// Starts one sender thread per destination. Calling it again does nothing.
    pub fn start(&self) -> Result<(), DeliveryError> {
        let mut threads = self.threads.lock().unwrap();
        if !threads.is_empty() || self.shared.stopping.load(Ordering::SeqCst) {
            return Ok(());
        }
        for (name, state) in &self.shared.destinations {
            let context = SenderContext {
                store: Arc::clone(&self.shared.store),
                agent: self.shared.agent.clone(),
                stopping: Arc::clone(&self.shared.stopping),
                max_event_age: self.shared.config.max_event_age,
                retry_min: self.shared.config.retry_min,
                retry_max: self.shared.config.retry_max,
            };
            let state = Arc::clone(state);
            let handle = sender::spawn_thread(format!("herald-send-{name}"), move || {
                sender::run(state, context)
            })
            .map_err(|e| DeliveryError::Setup(format!("cannot start a sender thread: {e}")))?;
            threads.push(handle);
        }
        Ok(())
    }

    /// Sets the site URL that the GoCD server reports (`go.processor.server-info.get`); the
    /// settings' site URL, when set, takes precedence.
    pub fn set_server_site_url(&self, site_url: Option<String>) {
        *self.shared.server_site_url.write().unwrap() = site_url.filter(|url| !url.is_empty());
    }

    fn site_url(&self) -> Option<String> {
        self.shared
            .config
            .site_url
            .clone()
            .or_else(|| self.shared.server_site_url.read().unwrap().clone())
    }

    /// Queues a stage-status event for every destination its rules select, durably, and
    /// remembers completed runs for broken/fixed. Never waits for the network.
    pub fn accept(&self, event: &StageEvent, raw_body: &[u8]) -> Result<Accepted, DeliveryError> {
        let event_id = event.event_id();
        let mut history = self.shared.history.lock().unwrap();

        let mut kinds: Vec<EventKind> = base_kind(event.stage.state).into_iter().collect();
        let outcome = completed_outcome(event);
        if let Some(run) = outcome {
            match history.classify(&event.pipeline.name, &event.stage.name, run) {
                Transition::Broken => kinds.push(EventKind::Broken),
                Transition::Fixed => kinds.push(EventKind::Fixed),
                Transition::None => {}
            }
        }

        let subject = Subject::Stage {
            group: event.pipeline.group.as_deref(),
            pipeline: &event.pipeline.name,
            stage: &event.stage.name,
        };
        let destinations = self.shared.config.rules.route(&subject, &kinds);

        let site_url = self.site_url();
        let mut webhook_body: Option<String> = None;
        let mut chat_body: Option<String> = None;
        let bodies = |kind: DestinationKind| -> String {
            match kind {
                DestinationKind::Webhook => webhook_body
                    .get_or_insert_with(|| {
                        payload::stage_webhook_body(event, &kinds, site_url.as_deref(), raw_body)
                    })
                    .clone(),
                DestinationKind::Chat => chat_body
                    .get_or_insert_with(|| match &self.shared.config.chat_template {
                        Some(template) => placeholders::stage_chat_body(
                            template,
                            event,
                            &kinds,
                            site_url.as_deref(),
                        ),
                        None => payload::stage_chat_body(event, &kinds, site_url.as_deref()),
                    })
                    .clone(),
            }
        };
        self.enqueue(&event_id, &destinations, bodies)?;

        if let Some(run) = outcome {
            // The event is already queued, so a failure here only costs broken/fixed accuracy
            // for this stage's next run.
            if let Err(error) = history.record(&event.pipeline.name, &event.stage.name, run) {
                log::error!(
                    "Could not save the history of {}/{}: {error}. The next run of this stage may not be reported as broken or fixed.",
                    event.pipeline.name,
                    event.stage.name
                );
            }
        }

        Ok(Accepted {
            event_id,
            kinds,
            destinations,
        })
    }

    /// Queues an agent-status event for the destinations of the rules that name `on=agent`.
    pub fn accept_agent(
        &self,
        event: &dyn AgentView,
        raw_body: &[u8],
    ) -> Result<Accepted, DeliveryError> {
        let event_id = event.event_id();
        let _accept_lock = self.shared.history.lock().unwrap();

        let kinds = vec![EventKind::Agent];
        let destinations = self.shared.config.rules.route(&Subject::Agent, &kinds);
        self.enqueue(&event_id, &destinations, |kind| match kind {
            DestinationKind::Webhook => payload::agent_webhook_body(event, raw_body),
            DestinationKind::Chat => match &self.shared.config.agent_chat_template {
                Some(template) => placeholders::agent_chat_body(template, event),
                None => payload::agent_chat_body(event),
            },
        })?;

        Ok(Accepted {
            event_id,
            kinds,
            destinations,
        })
    }

    /// Writes one entry per destination, then hands them to the senders. The caller holds the
    /// accept lock.
    fn enqueue(
        &self,
        event_id: &str,
        destinations: &[String],
        mut body_for: impl FnMut(DestinationKind) -> String,
    ) -> Result<(), DeliveryError> {
        if destinations.is_empty() {
            return Ok(());
        }

        let seq = self.shared.store.next_seq();
        let accepted_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let mut entries = Vec::with_capacity(destinations.len());
        for name in destinations {
            let state = &self.shared.destinations[name];
            let entry = Entry {
                seq,
                event_id: event_id.to_string(),
                accepted_at_ms,
                body: body_for(state.destination.kind),
            };
            entries.push((name.clone(), entry));
        }

        let refs = self.shared.store.write(&entries)?;

        for ((name, _), entry_ref) in entries.iter().zip(refs) {
            let state = &self.shared.destinations[name];
            state.pending.lock().unwrap().push_back(entry_ref);
            state.wake.notify_all();
        }
        Ok(())
    }

    /// Returns one message per failing destination, for the `stage-status` response: the name,
    /// how many deliveries wait and the last error. Empty when every destination is healthy.
    pub fn status(&self) -> Vec<String> {
        let mut messages = Vec::new();
        for (name, state) in &self.shared.destinations {
            let health = state.health.lock().unwrap().clone();
            if health.consecutive_failures > 0 {
                let waiting = state.pending.lock().unwrap().len();
                messages.push(format!(
                    "Destination {name} is failing: {} waiting, last error: {} ({} in a row)",
                    count_noun(waiting as u64, "event", "events"),
                    health.last_error.as_deref().unwrap_or("unknown"),
                    count_noun(
                        u64::from(health.consecutive_failures),
                        "failed attempt",
                        "failed attempts"
                    )
                ));
            }
            if health.quarantined > 0 {
                messages.extend(self.quarantine_message(name, state, health.quarantined));
            }
            if health.rejected > 0 {
                messages.extend(self.rejected_message(name, state, health.rejected));
            }
        }
        messages
    }

    /// Returns `<queue folder>/<folder>/<destination>` when it still contains a file, so the
    /// status keeps reporting set-aside files until an administrator deletes them.
    fn files_set_aside(&self, folder: &str, destination: &str) -> Option<PathBuf> {
        let dir = self.shared.config.queue_dir.join(folder).join(destination);
        let still_there = fs::read_dir(&dir)
            .map(|mut entries| entries.next().is_some())
            .unwrap_or(false);
        still_there.then_some(dir)
    }

    /// Returns a message about queue files of `name` moved to quarantine while they are still
    /// there. Once the admin empties the folder, clears the count and returns `None`.
    fn quarantine_message(
        &self,
        name: &str,
        state: &DestinationState,
        quarantined: u32,
    ) -> Option<String> {
        let Some(dir) = self.files_set_aside("quarantine", name) else {
            state.health.lock().unwrap().quarantined = 0;
            return None;
        };
        Some(format!(
            "Destination {name}: {} (corrupt, for example after a crash or a full disk) and moved to {}; their events were not delivered. Check the disk, look at those files, then delete them to clear this message.",
            count_noun(u64::from(quarantined), "queue file could not be read", "queue files could not be read"),
            dir.display()
        ))
    }

    /// Returns a message about events that `name` rejected while their files are still in
    /// `rejected/`. Once the admin empties the folder, clears the count and returns `None`.
    fn rejected_message(
        &self,
        name: &str,
        state: &DestinationState,
        rejected: u32,
    ) -> Option<String> {
        let Some(dir) = self.files_set_aside(store::REJECTED_FOLDER, name) else {
            state.health.lock().unwrap().rejected = 0;
            return None;
        };
        let health = state.health.lock().unwrap().clone();
        Some(format!(
            "Destination {name} rejected {} with a client error (last: {}), and their files were moved to {}; later events are still delivered. Check the destination's URL and settings, then delete those files to clear this message.",
            count_noun(u64::from(rejected), "event", "events"),
            health.last_error.as_deref().unwrap_or("unknown"),
            dir.display()
        ))
    }

    /// Returns the number of deliveries waiting per destination.
    pub fn waiting(&self) -> BTreeMap<String, usize> {
        self.shared
            .destinations
            .iter()
            .map(|(name, state)| (name.clone(), state.pending.lock().unwrap().len()))
            .collect()
    }

    /// Stops the senders and joins every thread. Senders that wait or back off stop at once.
    /// Requests still in flight at `deadline` are cut off by closing their connections. Their
    /// events stay queued and are sent again after the next start (at least once).
    pub fn stop(&self, deadline: Duration) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        for state in self.shared.destinations.values() {
            state.notify();
        }

        let threads: Vec<JoinHandle<()>> = std::mem::take(&mut *self.threads.lock().unwrap());
        let until = Instant::now() + deadline;
        while Instant::now() < until && threads.iter().any(|t| !t.is_finished()) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let busy = threads.iter().filter(|t| !t.is_finished()).count();
        if busy > 0 {
            log::info!(
                "Cutting off {busy} delivery requests still in flight after the stop deadline of {} ms; their events stay queued",
                deadline.as_millis()
            );
            // Closes every connection of the agent, so blocked reads and writes return at once.
            // NOTE: a TCP connect or name lookup in progress is not interrupted; the request
            // timeout setting bounds it.
            self.shared.agent.clone().shutdown();
        }
        for thread in threads {
            let _ = thread.join();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if !self.threads.lock().unwrap().is_empty() {
            self.stop(Duration::from_secs(1));
        }
    }
}

/// Returns the rule kind of a stage state. `Failing` (a job failed while others still run) is
/// `building`, because the stage has not completed; `Unknown` has no kind of its own.
fn base_kind(state: StageState) -> Option<EventKind> {
    match state {
        StageState::Building | StageState::Failing => Some(EventKind::Building),
        StageState::Passed => Some(EventKind::Passed),
        StageState::Failed => Some(EventKind::Failed),
        StageState::Cancelled => Some(EventKind::Cancelled),
        StageState::Unknown => None,
    }
}

fn completed_outcome(event: &StageEvent) -> Option<RunOutcome> {
    let passed = match event.stage.state {
        StageState::Passed => true,
        StageState::Failed => false,
        _ => return None,
    };
    Some(RunOutcome {
        pipeline_counter: event.pipeline.counter,
        stage_counter: event.stage.counter,
        passed,
    })
}

#[cfg(test)]
mod format_tests {
    use super::{count_noun, mebibytes};

    #[test]
    fn count_noun_picks_singular_for_one() {
        assert_eq!(count_noun(0, "event", "events"), "0 events");
        assert_eq!(count_noun(1, "event", "events"), "1 event");
        assert_eq!(count_noun(2, "delivery", "deliveries"), "2 deliveries");
    }

    #[test]
    fn mebibytes_keeps_one_decimal() {
        assert_eq!(mebibytes(0), "0.0 MiB");
        assert_eq!(mebibytes(3 * 1024), "0.0 MiB");
        assert_eq!(mebibytes(1536 * 1024), "1.5 MiB");
        assert_eq!(mebibytes(100 * 1024 * 1024), "100.0 MiB");
    }
}
