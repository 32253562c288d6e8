//! Measures `Engine::accept` with a hung destination versus a responsive one, and the queue's
//! throughput, against loopback receivers. Prints the figures; asserts nothing.
//!
//! Run: `cargo run --release --example delivery-bench [EVENTS] [QUEUE_PARENT_DIR]`

#[path = "../tests/delivery_support/mod.rs"]
mod delivery_support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use delivery_support::{config, raw_body, stage_event, wait_until, Mode, Receiver};
use herald::delivery::Engine;
use herald::event::StageState;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let events: u64 = args
        .get(1)
        .map(|n| n.parse().expect("EVENTS is a number"))
        .unwrap_or(2000);
    let parent = args
        .get(2)
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);

    let idle = Receiver::start(Mode::Ok);
    let latencies = accept_latencies(&parent.join("bench-idle"), &idle, events);
    report("accept, responsive destination", &latencies);

    let hung = Receiver::start(Mode::Hang);
    let latencies = accept_latencies(&parent.join("bench-hung"), &hung, events);
    report("accept, hung destination", &latencies);

    throughput(&parent.join("bench-throughput"), events);
}

fn open(dir: &Path, receiver: &Receiver) -> Engine {
    let _ = std::fs::remove_dir_all(dir);
    let destinations = format!("bench webhook {}", receiver.url("/"));
    let settings = [
        ("delivery_destinations", destinations.as_str()),
        ("delivery_rules", "-> bench"),
        ("delivery_request_timeout_seconds", "60"),
    ];
    let engine = Engine::open(config(dir, &settings)).expect("queue opens");
    engine.start().expect("senders start");
    engine
}

fn accept_latencies(dir: &Path, receiver: &Receiver, events: u64) -> Vec<Duration> {
    let engine = open(dir, receiver);
    let mut latencies = Vec::with_capacity(events as usize);
    for counter in 1..=events {
        let event = stage_event("bench", counter, "build", 1, StageState::Passed);
        let raw = raw_body(&event);
        let started = Instant::now();
        engine.accept(&event, &raw).expect("accepted");
        latencies.push(started.elapsed());
    }
    engine.stop(Duration::from_millis(100));
    latencies
}

fn report(label: &str, latencies: &[Duration]) {
    let mut sorted = latencies.to_vec();
    sorted.sort();
    let at = |q: f64| sorted[((sorted.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{label}: {} calls, median {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        sorted.len(),
        at(0.5).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0,
        sorted[sorted.len() - 1].as_secs_f64() * 1000.0
    );
}

fn throughput(dir: &Path, events: u64) {
    let receiver = Receiver::start(Mode::Ok);
    let engine = open(dir, &receiver);

    let started = Instant::now();
    for counter in 1..=events {
        let event = stage_event("bench", counter, "build", 1, StageState::Passed);
        engine.accept(&event, &raw_body(&event)).expect("accepted");
    }
    let accepted_in = started.elapsed();
    wait_until(Duration::from_secs(600), "every delivery", || {
        engine.waiting()["bench"] == 0
    });
    let delivered_in = started.elapsed();
    engine.stop(Duration::from_secs(1));

    println!(
        "throughput: {events} events accepted in {:.2} s ({:.0} events/s), delivered to a loopback receiver in {:.2} s ({:.0} events/s end to end)",
        accepted_in.as_secs_f64(),
        events as f64 / accepted_in.as_secs_f64(),
        delivered_in.as_secs_f64(),
        events as f64 / delivered_in.as_secs_f64()
    );
    assert_eq!(receiver.delivered().len() as u64, events);
}
