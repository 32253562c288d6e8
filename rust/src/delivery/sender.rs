//! One sender thread per destination: delivers its queued requests oldest first, retrying with
//! exponential backoff and jitter, and keeps the health that `stage-status` responses report.
//!
//! A destination delivers strictly in acceptance order and the next request waits until the
//! current one succeeds or is given up, so events of one pipeline stage arrive in the order
//! GoCD sent them. A failed request is retried until the event is older than the maximum age,
//! except that an event rejected with a client error (4xx other than 408, 425 and 429) on
//! several attempts is moved to `rejected/`, so it cannot hold back later events.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use super::config::{Config, Destination};
use super::count_noun;
use super::payload::{event_id_header_value, sign, EVENT_ID_HEADER, SIGNATURE_HEADER};
use super::store::{Entry, EntryRef, Store};

/// Largest response body read from a destination; the rest is ignored.
const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

/// Failure state of one destination, as status messages report it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Health {
    /// Failed attempts since the last success.
    pub consecutive_failures: u32,
    /// Never contains the URL or the secret.
    pub last_error: Option<String>,
    /// Unreadable queue files of this destination moved to quarantine since the engine opened.
    pub quarantined: u32,
    /// Events that the destination rejected with a client error, moved to `rejected/`.
    pub rejected: u32,
}

/// The queue and health of one destination, shared by `accept`, the sender and `status`.
pub struct DestinationState {
    pub destination: Destination,
    pub pending: Mutex<VecDeque<EntryRef>>,
    pub wake: Condvar,
    pub health: Mutex<Health>,
}

impl DestinationState {
    pub fn new(destination: Destination, pending: VecDeque<EntryRef>) -> Self {
        DestinationState {
            destination,
            pending: Mutex::new(pending),
            wake: Condvar::new(),
            health: Mutex::new(Health::default()),
        }
    }

    /// Wakes the sender; taking the lock first means no wake-up falls between its check and
    /// its wait.
    pub fn notify(&self) {
        let _guard = self.pending.lock().unwrap();
        self.wake.notify_all();
    }
}

/// Shared parts that a sender uses besides its destination.
pub struct SenderContext {
    pub store: Arc<Store>,
    pub agent: ureq::Agent,
    pub stopping: Arc<AtomicBool>,
    pub max_event_age: Duration,
    pub retry_min: Duration,
    pub retry_max: Duration,
}

/// Builds the HTTP agent: per-attempt timeout, optional proxy and CA bundle, and status codes
/// returned as responses rather than errors.
pub fn build_agent(config: &Config) -> Result<ureq::Agent, String> {
    let proxy = match &config.proxy_url {
        Some(url) => Some(ureq::Proxy::new(url).map_err(|_| "invalid proxy URL".to_string())?),
        None => ureq::Proxy::try_from_env(),
    };

    let mut tls = TlsConfig::builder();
    if let Some(pem) = &config.ca_bundle {
        let certificates = parse_ca_bundle(pem)?;
        tls = tls.root_certs(RootCerts::new_with_certs(&certificates));
    }

    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(config.request_timeout))
        .max_redirects(0)
        .max_redirects_will_error(false)
        .user_agent(format!("herald/{}", crate::plugin::CORE_VERSION))
        .proxy(proxy)
        .tls_config(tls.build())
        .build()
        .new_agent();
    Ok(agent)
}

/// Parses PEM text into certificates, failing when it contains none.
pub fn parse_ca_bundle(pem: &str) -> Result<Vec<Certificate<'static>>, String> {
    let mut certificates = Vec::new();
    for item in ureq::tls::parse_pem(pem.as_bytes()) {
        match item {
            Ok(PemItem::Certificate(certificate)) => certificates.push(certificate),
            Ok(_) => {}
            Err(error) => return Err(format!("invalid PEM in the CA bundle: {error}")),
        }
    }
    if certificates.is_empty() {
        return Err("the CA bundle contains no \"BEGIN CERTIFICATE\" block".to_string());
    }
    Ok(certificates)
}

/// Starts a named sender thread without leaving a thread-local destructor on the calling thread.
///
/// `std::thread::Builder::spawn` reads a thread-local with a destructor (the spawn hooks of Rust
/// 1.84 and later) on the spawning thread. glibc does not unmap a library while a thread-local
/// destructor that it registered is pending, and the calling thread here is a GoCD thread that
/// lives as long as the server. So a sender spawned straight from `@Load` or a settings request
/// kept every unloaded copy of the library mapped, about 4 MiB resident per reload. A short-lived
/// helper thread spawns the sender instead, and it runs its destructors when it ends, before this
/// function returns.
#[cfg(unix)]
pub fn spawn_thread(
    name: String,
    work: impl FnOnce() + Send + 'static,
) -> io::Result<JoinHandle<()>> {
    use std::ffi::c_void;

    struct Launch {
        name: String,
        work: Option<Box<dyn FnOnce() + Send>>,
        spawned: Option<io::Result<JoinHandle<()>>>,
    }

    extern "C" fn start_sender(argument: *mut c_void) -> *mut c_void {
        // SAFETY: `argument` points to the `Launch` below, which outlives this thread because
        // `spawn_thread` joins it before reading or dropping the value.
        let launch = unsafe { &mut *argument.cast::<Launch>() };
        let name = std::mem::take(&mut launch.name);
        let work = launch.work.take();
        // A panic must not unwind out of an `extern "C"` function, which would abort the JVM.
        let spawned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let work = work.expect("the work is set before the helper thread starts");
            std::thread::Builder::new().name(name).spawn(work)
        }));
        launch.spawned = Some(
            spawned
                .unwrap_or_else(|_| Err(io::Error::other("panic while starting a sender thread"))),
        );
        std::ptr::null_mut()
    }

    let mut launch = Launch {
        name,
        work: Some(Box::new(work)),
        spawned: None,
    };
    let mut helper: libc::pthread_t = 0;
    // SAFETY: `launch` stays alive and is not touched by this thread until `pthread_join`
    // returns, and `helper` is joined exactly once.
    unsafe {
        let argument = std::ptr::addr_of_mut!(launch).cast::<c_void>();
        let code = libc::pthread_create(&mut helper, std::ptr::null(), start_sender, argument);
        if code != 0 {
            return Err(io::Error::from_raw_os_error(code));
        }
        let code = libc::pthread_join(helper, std::ptr::null_mut());
        if code != 0 {
            return Err(io::Error::from_raw_os_error(code));
        }
    }
    launch.spawned.unwrap_or_else(|| {
        Err(io::Error::other(
            "the helper thread started no sender thread",
        ))
    })
}

/// Starts a named sender thread. Only the glibc loader is known to keep a library mapped for a
/// pending thread-local destructor, so other platforms spawn directly.
#[cfg(not(unix))]
pub fn spawn_thread(
    name: String,
    work: impl FnOnce() + Send + 'static,
) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name(name).spawn(work)
}

/// Runs until `stopping` is set: delivers the destination's queue, oldest first.
pub fn run(state: Arc<DestinationState>, context: SenderContext) {
    let name = state.destination.name.clone();
    log::info!("Sender for destination {name} started");

    // Client-error responses to the entry at the front, and which entry they belong to.
    let mut rejections: (Option<EntryRef>, u32) = (None, 0);

    while let Some(entry_ref) = next_entry(&state, &context.stopping) {
        let entry = match context.store.read(&entry_ref) {
            Ok(entry) => entry,
            Err(reason) => {
                context.store.quarantine_entry(&name, &entry_ref, &reason);
                state.health.lock().unwrap().quarantined += 1;
                pop_front(&state, &entry_ref);
                continue;
            }
        };

        if is_too_old(&entry, context.max_event_age) {
            log::error!(
                "Giving up event {} for destination {name}: not delivered within {} hours. Last error: {}",
                entry.event_id,
                context.max_event_age.as_secs() / 3600,
                state.health.lock().unwrap().last_error.as_deref().unwrap_or("none")
            );
            context.store.remove(&entry_ref);
            pop_front(&state, &entry_ref);
            continue;
        }

        match attempt(&context.agent, &state.destination, &entry) {
            Ok(()) => {
                context.store.remove(&entry_ref);
                pop_front(&state, &entry_ref);
                record_success(&state);
            }
            Err(_) if context.stopping.load(Ordering::SeqCst) => {
                // Cut off by `stop`: the entry stays queued for the next start.
                break;
            }
            Err(error) => {
                if is_rejection(&error) {
                    if rejections.0.as_ref() != Some(&entry_ref) {
                        rejections = (Some(entry_ref.clone()), 0);
                    }
                    rejections.1 += 1;
                    if rejections.1 >= REJECTIONS_BEFORE_SET_ASIDE {
                        // A client error repeated for one event means the destination will not
                        // take it; keeping it at the front would hold back every later event.
                        let attempts = count_noun(u64::from(rejections.1), "attempt", "attempts");
                        let reason = format!("{error} on {attempts}");
                        context.store.reject_entry(&name, &entry_ref, &reason);
                        pop_front(&state, &entry_ref);
                        let mut health = state.health.lock().unwrap();
                        health.rejected += 1;
                        health.consecutive_failures = 0;
                        health.last_error = Some(error);
                        continue;
                    }
                }
                let failures = record_failure(&state, &error);
                let delay = backoff(failures, context.retry_min, context.retry_max);
                // Logged on the 1st, 2nd, 4th, 8th... failure in a row, so a long outage does
                // not flood the log.
                if failures.is_power_of_two() {
                    log::warn!(
                        "Delivery of event {} to destination {name} failed ({error}), {} in a row; next attempt in {:.1} s",
                        entry.event_id,
                        count_noun(u64::from(failures), "failed attempt", "failed attempts"),
                        delay.as_secs_f64()
                    );
                }
                wait_or_stop(&state, &context.stopping, delay);
            }
        }
    }

    log::info!("Sender for destination {name} stopped");
}

fn next_entry(state: &DestinationState, stopping: &AtomicBool) -> Option<EntryRef> {
    let mut pending = state.pending.lock().unwrap();
    loop {
        if stopping.load(Ordering::SeqCst) {
            return None;
        }
        if let Some(front) = pending.front() {
            return Some(front.clone());
        }
        pending = state.wake.wait(pending).unwrap();
    }
}

fn pop_front(state: &DestinationState, entry_ref: &EntryRef) {
    let mut pending = state.pending.lock().unwrap();
    if pending.front() == Some(entry_ref) {
        pending.pop_front();
    }
}

fn wait_or_stop(state: &DestinationState, stopping: &AtomicBool, delay: Duration) {
    let deadline = Instant::now() + delay;
    let mut pending = state.pending.lock().unwrap();
    while !stopping.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        pending = state.wake.wait_timeout(pending, deadline - now).unwrap().0;
    }
}

fn is_too_old(entry: &Entry, max_age: Duration) -> bool {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    now_ms.saturating_sub(entry.accepted_at_ms) > max_age.as_millis() as u64
}

fn record_success(state: &DestinationState) {
    let mut health = state.health.lock().unwrap();
    if health.consecutive_failures > 0 {
        log::info!(
            "Destination {} recovered after {}",
            state.destination.name,
            count_noun(
                u64::from(health.consecutive_failures),
                "failed attempt",
                "failed attempts"
            )
        );
    }
    health.consecutive_failures = 0;
    health.last_error = None;
}

fn record_failure(state: &DestinationState, error: &str) -> u32 {
    let mut health = state.health.lock().unwrap();
    health.consecutive_failures = health.consecutive_failures.saturating_add(1);
    health.last_error = Some(error.to_string());
    health.consecutive_failures
}

/// Client-error responses to one event before it is set aside in `rejected/`.
const REJECTIONS_BEFORE_SET_ASIDE: u32 = 3;

/// Tells whether an attempt's error is an HTTP client error that retrying will not change:
/// any 4xx except 408 (request timeout), 425 (too early) and 429 (too many requests).
fn is_rejection(error: &str) -> bool {
    let Some(code) = error.strip_prefix("HTTP status ") else {
        return false;
    };
    match code.parse::<u16>() {
        Ok(408 | 425 | 429) => false,
        Ok(code) => (400..500).contains(&code),
        Err(_) => false,
    }
}

/// Returns the wait before the next attempt: `min * 2^(failures-1)` capped at `max`, then
/// scaled by a random factor in [0.5, 1.0) so senders that failed together retry apart.
pub fn backoff(failures: u32, min: Duration, max: Duration) -> Duration {
    let exponent = failures.saturating_sub(1).min(30);
    let base = min.saturating_mul(1 << exponent).min(max);
    base.mul_f64(0.5 + fastrand::f64() * 0.5)
}

/// Sends one request. The error text is safe to show: it never contains the URL or the secret,
/// because chat webhook URLs carry their token.
fn attempt(agent: &ureq::Agent, destination: &Destination, entry: &Entry) -> Result<(), String> {
    let mut request = agent
        .post(&destination.url)
        .header("Content-Type", "application/json; charset=utf-8")
        .header(EVENT_ID_HEADER, event_id_header_value(&entry.event_id));
    if let Some(secret) = &destination.secret {
        request = request.header(SIGNATURE_HEADER, sign(secret, entry.body.as_bytes()));
    }

    match request.send(entry.body.as_bytes()) {
        Ok(response) => {
            let status = response.status();
            // Reading the body lets the connection be reused; its content does not matter.
            let _ = response
                .into_body()
                .with_config()
                .limit(MAX_RESPONSE_BYTES)
                .read_to_vec();
            if status.is_success() {
                Ok(())
            } else {
                Err(format!("HTTP status {}", status.as_u16()))
            }
        }
        Err(error) => Err(describe_error(&error)),
    }
}

fn describe_error(error: &ureq::Error) -> String {
    match error {
        ureq::Error::StatusCode(code) => format!("HTTP status {code}"),
        ureq::Error::Timeout(_) => "timed out".to_string(),
        ureq::Error::HostNotFound => "host not found".to_string(),
        ureq::Error::ConnectionFailed => "connection failed".to_string(),
        ureq::Error::BadUri(_) => "invalid URL".to_string(),
        // TLS failures arrive here too, e.g. "invalid peer certificate: UnknownIssuer".
        ureq::Error::Io(io) => format!("connection error: {io}"),
        other => format!("request failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spawn_thread_runs_named_work() {
        let handle = spawn_thread("herald-send-test".to_string(), || {
            let name = std::thread::current().name().map(str::to_owned);
            assert_eq!(name.as_deref(), Some("herald-send-test"));
        })
        .unwrap();
        assert_eq!(handle.thread().name(), Some("herald-send-test"));
        handle.join().unwrap();
    }

    #[test]
    fn spawn_thread_returns_panic_on_join() {
        let handle =
            spawn_thread("herald-send-panic".to_string(), || panic!("sender failed")).unwrap();
        assert!(handle.join().is_err());
    }
}
