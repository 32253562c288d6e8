//! Fault battery: the queue folder turned read-only, the disk full and a queue file corrupted
//! between two plugin instances, all driven through `Plugin::handle` as GoCD drives it. Each
//! fault must give a failure response that names the problem and the fix, and every event
//! accepted before the fault must reach a loopback receiver once the fault is removed.
//!
//! The read-only and disk-full cases mount a small tmpfs of their own, which needs root (root
//! ignores permission bits, so a chmod would not make the folder read-only for it). They print
//! why and pass without checking anything when the mount is not permitted.

mod delivery_support;

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use delivery_support::{temp_dir, Mode, Receiver};
use herald::plugin::{Plugin, Response};
use serde_json::{json, Value};

/// Guard against a hanging test, far above the expected time. A failed attempt is retried after
/// 1 s, then 2 s, 4 s and so on.
const LIMIT: Duration = Duration::from_secs(90);

/// A tmpfs mounted by the test, unmounted when dropped, also when the test fails.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (a mount option such as `256k`) at `path`. Returns why not when
    /// the process is not root or the mount is not permitted.
    fn mount(path: &Path, size: &str) -> Result<Tmpfs, String> {
        let uid = run("id", &["-u"]).map_err(|error| format!("cannot run id -u: {error}"))?;
        if uid.trim() != "0" {
            return Err(format!("the test runs as uid {}, not root", uid.trim()));
        }
        fs::create_dir_all(path).unwrap();
        let options = format!("size={size},mode=0755");
        run(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &options,
                "herald-faults",
                path_str(path),
            ],
        )
        .map_err(|error| format!("mount -t tmpfs at {} failed: {error}", path.display()))?;
        Ok(Tmpfs {
            path: path.to_path_buf(),
        })
    }

    fn remount(&self, mode: &str) {
        let options = format!("remount,{mode}");
        if let Err(error) = run("mount", &["-o", &options, path_str(&self.path)]) {
            panic!("mount -o {options} {} failed: {error}", self.path.display());
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        if let Err(error) = run("umount", &[path_str(&self.path)]) {
            eprintln!(
                "umount {} failed ({error}); detaching it lazily",
                self.path.display()
            );
            let _ = run("umount", &["-l", path_str(&self.path)]);
        }
    }
}

/// Runs a command and returns its standard output, or its exit status and standard error.
fn run(program: &str, arguments: &[&str]) -> Result<String, String> {
    let output = Command::new(program)
        .args(arguments)
        .output()
        .map_err(|error| error.to_string())?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "{}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

/// Mounts a tmpfs under a fresh temp folder, or prints why the test is skipped.
fn mounted_tmpfs(name: &str, size: &str) -> Option<Tmpfs> {
    match Tmpfs::mount(&temp_dir(name).join("mnt"), size) {
        Ok(tmpfs) => Some(tmpfs),
        Err(reason) => {
            eprintln!("skipping {name}: {reason}");
            None
        }
    }
}

/// Builds a flat stage-status body of run `counter` of pipeline `faults`, whose event id is
/// [`event_id`]`(counter)`.
fn stage_status_body(counter: u64) -> Vec<u8> {
    json!({
        "pipeline-name": "faults", "pipeline-counter": counter,
        "stage-name": "deploy", "stage-counter": "1",
        "stage-state": "Passed", "stage-result": "Passed",
        "create-time": "2026-12-04T20:00:00.000Z",
    })
    .to_string()
    .into_bytes()
}

fn event_id(counter: u64) -> String {
    format!("faults/{counter}/deploy/1/Passed")
}

/// Starts a plugin that delivers every stage event to the webhook `destination` on `receiver`.
fn started_plugin(queue: &Path, destination: &str, receiver: &Receiver) -> Plugin {
    let plugin = Plugin::new();
    plugin.start();
    let settings = json!({
        "delivery_destinations": format!("{destination} webhook {}", receiver.url("/hook")),
        "delivery_rules": format!("on=all -> {destination}"),
        "delivery_queue_dir": path_str(queue),
    });
    let response = plugin.handle(
        "go.plugin-settings.plugin-settings-changed",
        "4.0",
        Some(settings.to_string().as_bytes()),
    );
    assert_eq!(response.code, 200, "settings change: {}", response.body);
    assert!(
        plugin.delivery_running(),
        "delivery did not start: {:?}",
        plugin.delivery_status()
    );
    plugin
}

fn stage_status(plugin: &Plugin, counter: u64) -> Value {
    let response: Response =
        plugin.handle("stage-status", "1.0", Some(&stage_status_body(counter)));
    assert_eq!(
        response.code, 200,
        "stage-status response: {}",
        response.body
    );
    serde_json::from_str(&response.body)
        .unwrap_or_else(|error| panic!("response {:?} is not JSON: {error}", response.body))
}

/// Asserts that `answer` accepted the event: success, or failure only because `destination` is
/// failing (which the plugin reports while the event is queued).
fn assert_accepted(answer: &Value, destination: &str) {
    if answer["status"] == "success" {
        return;
    }
    let messages = answer["messages"].as_array().expect("failure has messages");
    for message in messages {
        let message = message.as_str().unwrap();
        assert!(
            message.starts_with(&format!("Destination {destination} is failing")),
            "the event was not accepted: {answer}"
        );
    }
}

/// Returns the messages of a failure response that rejected the event.
fn rejection_messages(answer: &Value) -> Vec<String> {
    assert_eq!(answer["status"], "failure", "response: {answer}");
    answer["messages"]
        .as_array()
        .expect("failure has messages")
        .iter()
        .map(|message| message.as_str().unwrap().to_string())
        .collect()
}

/// Asserts that one of `messages` contains each of `parts` (compared in lower case).
fn assert_message_names(messages: &[String], parts: &[&str]) {
    let found = messages.iter().any(|message| {
        let lower = message.to_lowercase();
        parts
            .iter()
            .all(|part| lower.contains(&part.to_lowercase()))
    });
    assert!(found, "no message names all of {parts:?}: {messages:?}");
}

fn wait_delivered(receiver: &Receiver, ids: &[String]) {
    receiver.wait_for(LIMIT, &format!("deliveries of {ids:?}"), |requests| {
        ids.iter().all(|id| {
            requests.iter().any(|request| {
                request.answered == Mode::Ok && request.header("x-herald-event-id") == Some(id)
            })
        })
    });
}

#[test]
fn read_only_queue_folder() {
    let Some(tmpfs) = mounted_tmpfs("faults-read-only", "4m") else {
        return;
    };
    let receiver = Receiver::start(Mode::Status(500));
    let queue = tmpfs.path.join("queue");
    let plugin = started_plugin(&queue, "ro", &receiver);

    assert_accepted(&stage_status(&plugin, 1), "ro");
    receiver.wait_for(LIMIT, "a failed attempt of event 1", |requests| {
        !requests.is_empty()
    });

    tmpfs.remount("ro");
    let messages = rejection_messages(&stage_status(&plugin, 2));
    assert_message_names(&messages, &["read-only file system", "not queued"]);
    assert_message_names(&messages, &["read-only file system", "queue folder"]);

    tmpfs.remount("rw");
    receiver.set_mode(Mode::Ok);
    assert_accepted(&stage_status(&plugin, 3), "ro");
    wait_delivered(&receiver, &[event_id(1), event_id(3)]);
    plugin.stop();
    report_rejected_delivery(&receiver, &event_id(2));
}

#[test]
fn read_only_queue_folder_at_start() {
    let Some(tmpfs) = mounted_tmpfs("faults-read-only-start", "4m") else {
        return;
    };
    tmpfs.remount("ro");
    let receiver = Receiver::start(Mode::Ok);
    let queue = tmpfs.path.join("queue");
    let plugin = Plugin::new();
    plugin.start();
    let settings = json!({
        "delivery_destinations": format!("start webhook {}", receiver.url("/hook")),
        "delivery_rules": "on=all -> start",
        "delivery_queue_dir": path_str(&queue),
    });
    let response = plugin.handle(
        "go.plugin-settings.plugin-settings-changed",
        "4.0",
        Some(settings.to_string().as_bytes()),
    );
    assert_eq!(response.code, 200, "settings change: {}", response.body);
    assert!(
        !plugin.delivery_running(),
        "delivery opened on a read-only folder"
    );

    let messages = rejection_messages(&stage_status(&plugin, 1));
    assert_message_names(&messages, &["read-only file system", "not queued"]);
    assert_message_names(&messages, &["read-only file system", "write access"]);

    // The next notification opens the engine again, without a settings change.
    tmpfs.remount("rw");
    assert_accepted(&stage_status(&plugin, 2), "start");
    assert!(plugin.delivery_running());
    wait_delivered(&receiver, &[event_id(2)]);
    plugin.stop();
}

#[test]
fn full_disk() {
    let Some(tmpfs) = mounted_tmpfs("faults-full", "256k") else {
        return;
    };
    let receiver = Receiver::start(Mode::Status(500));
    let queue = tmpfs.path.join("queue");
    let plugin = started_plugin(&queue, "full", &receiver);

    assert_accepted(&stage_status(&plugin, 1), "full");
    receiver.wait_for(LIMIT, "a failed attempt of event 1", |requests| {
        !requests.is_empty()
    });

    let filler = tmpfs.path.join("filler");
    fill(&filler);
    let messages = rejection_messages(&stage_status(&plugin, 2));
    assert_message_names(&messages, &["no space left on device", "not queued"]);
    assert_message_names(&messages, &["no space left on device", "queue folder"]);

    fs::remove_file(&filler).unwrap();
    receiver.set_mode(Mode::Ok);
    assert_accepted(&stage_status(&plugin, 3), "full");
    wait_delivered(&receiver, &[event_id(1), event_id(3)]);
    plugin.stop();
    report_rejected_delivery(&receiver, &event_id(2));
}

/// Writes zeros to `path` until the file system reports that it is full.
fn fill(path: &Path) {
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(path)
        .unwrap();
    let block = vec![0u8; 4096];
    loop {
        match file.write_all(&block).and_then(|()| file.sync_all()) {
            Ok(()) => continue,
            Err(error) if error.raw_os_error() == Some(28) => return,
            Err(error) => panic!("filling {} failed: {error}", path.display()),
        }
    }
}

/// Prints whether a rejected event arrived anyway. GoCD does not resend a rejected event, so
/// either outcome is allowed, but a rejection that still delivers is worth knowing about.
fn report_rejected_delivery(receiver: &Receiver, id: &str) {
    let delivered = receiver
        .delivered_ids()
        .iter()
        .any(|delivered| delivered == id);
    eprintln!("rejected event {id} delivered anyway: {delivered}");
}

#[test]
fn corrupted_queue_file() {
    let receiver = Receiver::start(Mode::Status(500));
    let queue = temp_dir("faults-corrupt");
    let first = started_plugin(&queue, "corrupt", &receiver);
    for counter in 1..=4 {
        assert_accepted(&stage_status(&first, counter), "corrupt");
    }
    receiver.wait_for(LIMIT, "a failed attempt", |requests| !requests.is_empty());
    first.stop();
    drop(first);

    let files = queued_files(&queue.join("queue").join("corrupt"));
    assert_eq!(
        files.len(),
        4,
        "queue files after the first instance: {files:?}"
    );
    let truncated = &files[1];
    let length = fs::metadata(truncated).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(truncated)
        .unwrap()
        .set_len(length / 2)
        .unwrap();
    fs::write(&files[2], b"\x00\xff{garbled after a crash").unwrap();

    receiver.set_mode(Mode::Ok);
    let second = started_plugin(&queue, "corrupt", &receiver);
    wait_delivered(&receiver, &[event_id(1), event_id(4)]);
    let quarantined = queued_files(&queue.join("quarantine").join("corrupt"));
    assert_eq!(quarantined.len(), 2, "quarantined files: {quarantined:?}");

    let answer = stage_status(&second, 5);
    let messages = rejection_messages(&answer);
    assert_message_names(&messages, &["quarantine", "corrupt"]);
    wait_delivered(&receiver, &[event_id(5)]);
    second.stop();
}

fn queued_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(entries) => entries.map(|entry| entry.unwrap().path()).collect(),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(error) => panic!("cannot list {}: {error}", dir.display()),
    };
    files.retain(|path| !path.file_name().unwrap().to_string_lossy().starts_with('.'));
    files.sort();
    files
}
