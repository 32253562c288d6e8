//! Shared parts of the delivery tests: a recording HTTP receiver on loopback, stage events and
//! settings.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use herald::delivery::Config;
use herald::event::{StageEvent, StageResult, StageState};

/// How the receiver responds to the next requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Ok,
    Status(u16),
    /// Reads the request and never responds until the mode changes or the receiver is dropped.
    Hang,
    /// Reads the request and closes the connection without a response.
    Close,
}

/// One request as the receiver read it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub path: String,
    /// Header names in lowercase.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// The mode in force when the request arrived.
    pub answered: Mode,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }

    /// True when the signature header is the HMAC-SHA256 of the body under `secret`, computed
    /// here independently of the code under test.
    pub fn signature_valid(&self, secret: &str) -> bool {
        let Some(header) = self.header("x-herald-signature-256") else {
            return false;
        };
        let Some(hex) = header.strip_prefix("sha256=") else {
            return false;
        };
        let Ok(expected) = decode_hex(hex) else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(&self.body);
        mac.verify_slice(&expected).is_ok()
    }
}

fn decode_hex(text: &str) -> Result<Vec<u8>, ()> {
    if text.len() % 2 != 0 {
        return Err(());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|_| ()))
        .collect()
}

struct State {
    mode: Mutex<Mode>,
    requests: Mutex<Vec<Recorded>>,
    changed: Condvar,
    closed: AtomicBool,
}

/// An HTTP/1.1 server on 127.0.0.1 that records every request.
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<State>,
}

impl Receiver {
    pub fn start(mode: Mode) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            mode: Mutex::new(mode),
            requests: Mutex::new(Vec::new()),
            changed: Condvar::new(),
            closed: AtomicBool::new(false),
        });

        let accept_state = Arc::clone(&state);
        thread::spawn(move || {
            for stream in listener.incoming() {
                if accept_state.closed.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let connection_state = Arc::clone(&accept_state);
                thread::spawn(move || serve(stream, connection_state));
            }
        });
        Receiver { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
        self.state.changed.notify_all();
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Requests that were answered with 200.
    pub fn delivered(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.answered == Mode::Ok)
            .collect()
    }

    /// Returns the event ids of the requests that got a 200, in arrival order, decoded from their
    /// percent-encoded `X-Herald-Event-Id` headers as a receiver would.
    pub fn delivered_ids(&self) -> Vec<String> {
        self.delivered()
            .iter()
            .map(|r| percent_decode(r.header("x-herald-event-id").unwrap_or("")))
            .collect()
    }

    /// Waits until `condition` holds on the recorded requests; panics after `limit`. The limit
    /// only keeps a broken test from hanging; it is far above the expected time.
    pub fn wait_for(&self, limit: Duration, what: &str, condition: impl Fn(&[Recorded]) -> bool) {
        let until = Instant::now() + limit;
        let mut requests = self.state.requests.lock().unwrap();
        while !condition(&requests) {
            let now = Instant::now();
            assert!(
                now < until,
                "gave up waiting for {what}; received {} requests",
                requests.len()
            );
            requests = self
                .state
                .changed
                .wait_timeout(requests, until - now)
                .unwrap()
                .0;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.state.closed.store(true, Ordering::SeqCst);
        self.state.changed.notify_all();
        // Wakes the accept loop so it reads `closed`.
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(stream: TcpStream, state: Arc<State>) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let Some(request) = read_request(&mut reader) else {
            return;
        };
        let mode = *state.mode.lock().unwrap();
        let mut recorded = request;
        recorded.answered = mode;
        state.requests.lock().unwrap().push(recorded);
        state.changed.notify_all();

        match mode {
            Mode::Ok => {
                if writer
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .is_err()
                {
                    return;
                }
            }
            Mode::Status(code) => {
                let answer = format!("HTTP/1.1 {code} Test\r\nContent-Length: 5\r\n\r\nerror");
                if writer.write_all(answer.as_bytes()).is_err() {
                    return;
                }
            }
            Mode::Close => return,
            Mode::Hang => {
                // Waits for a mode change or the receiver's end, then drops the connection.
                let mut current = state.mode.lock().unwrap();
                while *current == Mode::Hang && !state.closed.load(Ordering::SeqCst) {
                    current = state.changed.wait(current).unwrap();
                }
                return;
            }
        }
    }
}

/// Reads one HTTP/1.1 request with a `Content-Length` body; `None` at end of stream.
pub fn read_request(reader: &mut impl BufRead) -> Option<Recorded> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).ok()? == 0 {
        return None;
    }
    let path = request_line.split_whitespace().nth(1)?.to_string();

    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
    }

    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Recorded {
        path,
        headers,
        body,
        answered: Mode::Ok,
    })
}

/// Builds a stage event; when the stage failed, job `test` failed and job `compile` passed.
/// Built from JSON so that optional fields added to the event types later default to `None`.
pub fn stage_event(
    pipeline: &str,
    counter: u64,
    stage: &str,
    stage_counter: u64,
    state: StageState,
) -> StageEvent<'static> {
    let result = match state {
        StageState::Passed => StageResult::Passed,
        StageState::Failed => StageResult::Failed,
        StageState::Cancelled => StageResult::Cancelled,
        _ => StageResult::Unknown,
    };
    let compile_result = if result == StageResult::Failed {
        StageResult::Passed
    } else {
        result
    };
    let job = |name: &str, result: StageResult| {
        serde_json::json!({
            "name": name, "state": "Completed", "result": result,
            "schedule_time": null, "assign_time": null, "complete_time": null,
            "agent_uuid": "agent-1",
        })
    };
    let event = serde_json::json!({
        "pipeline": { "name": pipeline, "counter": counter, "label": counter.to_string(), "group": "apps" },
        "stage": {
            "name": stage, "counter": stage_counter, "state": state, "result": result,
            "approval_type": "success", "approved_by": "changes",
        },
        "jobs": [job("compile", compile_result), job("test", result)],
        "build_cause": [{
            "material_type": "git", "configuration": {}, "changed": true,
            "modifications": [{ "revision": "0123456789abcdef0123", "data": {} }],
        }],
        "source": { "format": "nested", "api_version": "4.0" },
    });
    serde_json::from_value(event).expect("test event matches the event types")
}

/// Returns a small GoCD-like body for an event, used as the raw body.
pub fn raw_body(event: &StageEvent) -> Vec<u8> {
    serde_json::json!({
        "pipeline": {
            "name": event.pipeline.name,
            "counter": event.pipeline.counter.to_string(),
            "stage": {
                "name": event.stage.name,
                "counter": event.stage.counter.to_string(),
                "state": event.stage.state.as_str(),
            }
        }
    })
    .to_string()
    .into_bytes()
}

/// Builds a config through the settings path, with short retry waits for tests.
pub fn config(queue_dir: &Path, settings: &[(&str, &str)]) -> Config {
    let values: HashMap<String, String> = settings
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut config = Config::from_settings(&values, queue_dir.to_path_buf())
        .unwrap_or_else(|errors| panic!("test settings are invalid: {errors:?}"));
    config.retry_min = Duration::from_millis(10);
    config.retry_max = Duration::from_millis(50);
    config
}

/// Creates a fresh, empty folder under the system temp folder.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("herald-delivery-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Waits until `condition` returns true; panics after `limit` (a guard against hanging, not a
/// timing check).
pub fn wait_until(limit: Duration, what: &str, condition: impl Fn() -> bool) {
    let until = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < until, "gave up waiting for {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

/// Decodes `%XX` escapes; the bytes must form UTF-8.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' && index + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap();
            decoded.push(u8::from_str_radix(hex, 16).expect("a %XX escape"));
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).expect("percent-decoded event id is UTF-8")
}
