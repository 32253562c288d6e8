//! Criterion benchmarks of the steps inside `stage-status` handling, with no JVM: parse and
//! validate a body into a `StageEvent`, render the webhook and chat payloads, and enqueue an
//! event durably (file and folder fsync) in the delivery queue.
//!
//! Run with `cargo bench --bench core`. Figures go into docs/BENCHMARKS.md. The enqueue bench
//! writes below the system temporary folder, so its figures depend on that disk's fsync latency.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use herald::delivery::config::{self, Config};
use herald::delivery::payload::{stage_chat_body, stage_webhook_body};
use herald::delivery::rules::EventKind;
use herald::delivery::Engine;
use herald::event::StageEvent;
use herald::protocol::stage::parse_stage_status;

/// Bench bodies: name, API version, file under tests/fixtures/bench/.
const CASES: [(&str, &str, &str); 4] = [
    ("flat", "1.0", "flat.json"),
    ("api-4.0-2k", "4.0", "api-4.0-2k.json"),
    ("api-4.0-20k", "4.0", "api-4.0-20k.json"),
    ("api-4.0-200k", "4.0", "api-4.0-200k.json"),
];

/// Site URL for stage links in the payloads. Nothing connects to it.
const SITE_URL: &str = "http://127.0.0.1:8153";

fn read_body(file_name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bench")
        .join(file_name);
    fs::read(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

fn parse<'a>(body: &'a [u8], api_version: &str) -> StageEvent<'a> {
    parse_stage_status(Some(body), api_version, chrono_tz::UTC)
        .unwrap_or_else(|problems| panic!("bench body rejected: {problems:?}"))
}

fn bench_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse-stage-status");
    for (name, api_version, file_name) in CASES {
        let body = read_body(file_name);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &body, |b, body| {
            b.iter(|| parse_stage_status(Some(body), api_version, chrono_tz::UTC))
        });
    }
    group.finish();
}

/// Decoding into a `serde_json::Value` alone: the floor under any parser that builds the tree first.
fn bench_decode_only(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode-json-value");
    for (name, _, file_name) in CASES {
        let body = read_body(file_name);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &body, |b, body| {
            b.iter(|| serde_json::from_slice::<serde_json::Value>(body).expect("JSON"))
        });
    }
    group.finish();
}

fn bench_render(c: &mut Criterion) {
    let kinds = [EventKind::Failed, EventKind::Broken];
    let mut group = c.benchmark_group("render");
    for (name, api_version, file_name) in CASES {
        let body = read_body(file_name);
        let event = parse(&body, api_version);
        group.bench_with_input(BenchmarkId::new("webhook", name), &event, |b, event| {
            b.iter(|| stage_webhook_body(event, &kinds, Some(SITE_URL), &body))
        });
        group.bench_with_input(BenchmarkId::new("chat", name), &event, |b, event| {
            b.iter(|| stage_chat_body(event, &kinds, Some(SITE_URL)))
        });
    }
    group.finish();
}

/// A queue folder removed when the bench ends.
struct QueueFolder(PathBuf);

impl Drop for QueueFolder {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Opens an engine with one webhook and one chat destination on loopback, selected for every
/// stage event. The engine is never started, so events only accumulate in the queue.
fn open_engine(folder: &Path) -> Engine {
    let values = HashMap::from([
        (
            config::DESTINATIONS.to_string(),
            "hook webhook http://127.0.0.1:9/hook\nchat chat http://127.0.0.1:9/chat".to_string(),
        ),
        (
            config::RULES.to_string(),
            "on=all -> hook, chat".to_string(),
        ),
        (
            config::QUEUE_MAX_EVENTS.to_string(),
            "100000000".to_string(),
        ),
        (config::QUEUE_MAX_MIB.to_string(), "100000".to_string()),
    ]);
    let config = Config::from_settings(&values, folder.to_path_buf())
        .unwrap_or_else(|errors| panic!("bench settings rejected: {errors:?}"));
    Engine::open(config).unwrap_or_else(|error| panic!("cannot open the queue: {error}"))
}

fn bench_enqueue(c: &mut Criterion) {
    let mut group = c.benchmark_group("enqueue");
    // Every accept waits for fsync, so fewer samples keep the run short.
    group.sample_size(20);

    for (name, api_version, file_name) in CASES {
        let folder = QueueFolder(
            std::env::temp_dir().join(format!("herald-bench-queue-{}-{name}", std::process::id())),
        );
        let engine = open_engine(&folder.0);
        let body = read_body(file_name);
        let event = parse(&body, api_version);

        group.bench_with_input(BenchmarkId::from_parameter(name), &event, |b, event| {
            b.iter(|| {
                engine
                    .accept(event, &body)
                    .unwrap_or_else(|error| panic!("accept failed: {error}"))
            })
        });
        engine.stop(std::time::Duration::from_secs(5));
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_decode_only,
    bench_parse,
    bench_render,
    bench_enqueue
);
criterion_main!(benches);
