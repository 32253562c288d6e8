//! Helper process for the crash tests: opens a delivery engine on a queue folder, accepts a
//! range of stage events, prints `accepted <event id>` after each `accept` returns, prints
//! `done`, then keeps delivering until it is killed.
//!
//! Usage: `delivery-crash-worker QUEUE_DIR URL FIRST_COUNTER COUNT`

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use herald::delivery::{Config, Engine};
use herald::event::StageEvent;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: delivery-crash-worker QUEUE_DIR URL FIRST_COUNTER COUNT");
        std::process::exit(2);
    }
    let queue_dir = PathBuf::from(&args[1]);
    let first: u64 = args[3].parse().expect("FIRST_COUNTER is a number");
    let count: u64 = args[4].parse().expect("COUNT is a number");

    let settings: HashMap<String, String> = [
        (
            "delivery_destinations",
            format!("audit webhook {}", args[2]),
        ),
        ("delivery_rules", "-> audit".to_string()),
        ("delivery_request_timeout_seconds", "5".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut config = Config::from_settings(&settings, queue_dir).expect("valid settings");
    config.retry_min = Duration::from_millis(10);
    config.retry_max = Duration::from_millis(100);

    let engine = Engine::open(config).expect("queue opens");
    engine.start().expect("senders start");

    let mut stdout = std::io::stdout().lock();
    for counter in first..first + count {
        let event = event(counter);
        let raw = serde_json::to_vec(&event).unwrap();
        let accepted = engine.accept(&event, &raw).expect("event accepted");
        writeln!(stdout, "accepted {}", accepted.event_id).unwrap();
        stdout.flush().unwrap();
    }
    writeln!(stdout, "done").unwrap();
    stdout.flush().unwrap();

    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

fn event(counter: u64) -> StageEvent<'static> {
    let json = serde_json::json!({
        "pipeline": { "name": "crash", "counter": counter, "group": "apps" },
        "stage": { "name": "build", "counter": 1, "state": "Passed", "result": "Passed" },
        "jobs": [],
        "build_cause": [],
        "source": { "format": "nested", "api_version": "4.0" },
    });
    serde_json::from_value(json).expect("event matches the event types")
}
