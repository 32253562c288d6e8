//! Criterion benchmarks of the Rust core alone, with no JVM: `Plugin::handle("stage-status",
//! ...)` for the flat example body and for GoCD API 4.0 bodies of about 2 KB, 20 KB and 200 KB.
//!
//! The second group runs the same requests with delivery on: one webhook destination on
//! loopback selected for every event, so each accepted event is also written durably to the
//! queue. Nothing listens on the destination port, so senders only retry in the background.
//!
//! Run with `cargo bench --bench handle`. Figures go into docs/BENCHMARKS.md.

use std::fs;
use std::path::Path;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use herald::plugin::Plugin;

/// Bench cases: name, API version sent with the request, body file under tests/fixtures/bench/.
const CASES: [(&str, &str, &str); 4] = [
    ("flat", "1.0", "flat.json"),
    ("api-4.0-2k", "4.0", "api-4.0-2k.json"),
    ("api-4.0-20k", "4.0", "api-4.0-20k.json"),
    ("api-4.0-200k", "4.0", "api-4.0-200k.json"),
];

fn read_body(file_name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bench")
        .join(file_name);
    fs::read(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

fn bench_handle_stage_status(c: &mut Criterion) {
    let plugin = Plugin::new();
    let mut group = c.benchmark_group("handle-stage-status");

    for (name, api_version, file_name) in CASES {
        let body = read_body(file_name);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &body, |b, body| {
            b.iter(|| plugin.handle("stage-status", api_version, Some(body.as_slice())))
        });
    }
    group.finish();
}

/// A folder removed when the bench ends.
struct TempFolder(std::path::PathBuf);

impl Drop for TempFolder {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn bench_handle_with_queue(c: &mut Criterion) {
    let queue = TempFolder(
        std::env::temp_dir().join(format!("herald-bench-handle-queue-{}", std::process::id())),
    );
    fs::create_dir_all(&queue.0).expect("queue folder created");

    let plugin = Plugin::new();
    let settings = serde_json::json!({
        "delivery_destinations": "hook webhook http://127.0.0.1:9/hook",
        "delivery_rules": "on=all -> hook",
        "delivery_queue_dir": queue.0.to_str().expect("UTF-8 path"),
        "delivery_queue_max_events": "100000000",
        "delivery_queue_max_mib": "100000",
    });
    let response = plugin.handle(
        "go.plugin-settings.plugin-settings-changed",
        "4.0",
        Some(settings.to_string().as_bytes()),
    );
    assert_eq!(
        response.code, 200,
        "delivery settings rejected: {response:?}"
    );
    plugin.start();

    let mut group = c.benchmark_group("handle-stage-status-queued");
    // Every accepted event waits for fsync, so fewer samples keep the run short.
    group.sample_size(20);
    for (name, api_version, file_name) in CASES {
        let body = read_body(file_name);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &body, |b, body| {
            b.iter(|| {
                let response = plugin.handle("stage-status", api_version, Some(body.as_slice()));
                // The body turns to a failure naming the unreachable destination once its first
                // delivery fails; the event is queued either way.
                assert_eq!(response.code, 200);
            })
        });
    }
    group.finish();
    plugin.stop();
}

criterion_group!(benches, bench_handle_stage_status, bench_handle_with_queue);
criterion_main!(benches);
