//! kill -9 of a process that uses the delivery engine, with events queued and one in flight:
//! after a restart every accepted event arrives, and duplicates carry the same event id.

mod delivery_support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Lines};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use delivery_support::{temp_dir, Mode, Receiver};

const LIMIT: Duration = Duration::from_secs(60);

struct Worker {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Worker {
    fn start(queue_dir: &Path, url: &str, first: u64, count: u64) -> Worker {
        let mut child = Command::new(env!("CARGO_BIN_EXE_delivery-crash-worker"))
            .arg(queue_dir)
            .arg(url)
            .arg(first.to_string())
            .arg(count.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("worker starts");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Worker { child, lines }
    }

    /// Reads `accepted` lines until `done` or `limit` of them; returns the event ids.
    fn read_accepted(&mut self, limit: usize) -> Vec<String> {
        let mut ids = Vec::new();
        while ids.len() < limit {
            match self.lines.next() {
                Some(Ok(line)) if line == "done" => break,
                Some(Ok(line)) => ids.push(line.strip_prefix("accepted ").unwrap().to_string()),
                _ => break,
            }
        }
        ids
    }

    /// Sends SIGKILL: no destructor, no flush, no stop.
    fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// Checks that every accepted id was delivered, in acceptance order once duplicates are
/// removed, and that every copy of one id has the same body.
fn assert_all_delivered(receiver: &Receiver, accepted: &[String]) {
    receiver.wait_for(LIMIT, "every accepted event", |requests| {
        let delivered: BTreeSet<&str> = requests
            .iter()
            .filter(|r| r.answered == Mode::Ok)
            .filter_map(|r| r.header("x-herald-event-id"))
            .collect();
        accepted.iter().all(|id| delivered.contains(id.as_str()))
    });

    let mut first_seen: Vec<String> = Vec::new();
    let mut bodies: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for request in receiver.delivered() {
        let id = request.header("x-herald-event-id").unwrap().to_string();
        assert_eq!(
            request.json()["event_id"],
            id.as_str(),
            "header and body ids differ"
        );
        match bodies.get(&id) {
            Some(body) => assert_eq!(body, &request.body, "duplicate of {id} has another body"),
            None => {
                bodies.insert(id.clone(), request.body.clone());
                first_seen.push(id);
            }
        }
    }
    let accepted_order: Vec<&String> = first_seen
        .iter()
        .filter(|id| accepted.contains(id))
        .collect();
    let expected: Vec<&String> = accepted.iter().collect();
    assert_eq!(
        accepted_order, expected,
        "delivery order differs from acceptance order"
    );
}

fn quarantined(queue_dir: &Path) -> usize {
    let Ok(folders) = std::fs::read_dir(queue_dir.join("quarantine")) else {
        return 0;
    };
    folders
        .map(|f| std::fs::read_dir(f.unwrap().path()).unwrap().count())
        .sum()
}

#[test]
fn kill_with_queue_and_request_in_flight() {
    let receiver = Receiver::start(Mode::Hang);
    let dir = temp_dir("crash-in-flight");
    let url = receiver.url("/hook");

    let mut worker = Worker::start(&dir, &url, 1, 20);
    let accepted = worker.read_accepted(usize::MAX);
    assert_eq!(accepted.len(), 20);
    receiver.wait_for(LIMIT, "the request in flight", |r| !r.is_empty());
    worker.kill_9();

    receiver.set_mode(Mode::Ok);
    let worker = Worker::start(&dir, &url, 0, 0);
    assert_all_delivered(&receiver, &accepted);
    worker.kill_9();
    assert_eq!(quarantined(&dir), 0);
}

#[test]
fn kill_at_random_points_while_accepting() {
    let receiver = Receiver::start(Mode::Ok);
    let dir = temp_dir("crash-random");
    let url = receiver.url("/hook");

    let mut accepted = Vec::new();
    let mut next_counter = 1;
    for _ in 0..5 {
        // The worker dies after a random number of accepted events, usually in the middle of
        // the next accept or of a delivery.
        let mut worker = Worker::start(&dir, &url, next_counter, 200);
        let stop_after = fastrand::usize(1..150);
        accepted.extend(worker.read_accepted(stop_after));
        worker.kill_9();
        next_counter += 200;
    }

    let worker = Worker::start(&dir, &url, 0, 0);
    assert_all_delivered(&receiver, &accepted);
    worker.kill_9();
    assert_eq!(
        quarantined(&dir),
        0,
        "a crash left an unreadable queue file"
    );
}
