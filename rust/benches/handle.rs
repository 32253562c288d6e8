//! Criterion benchmarks of the Rust core alone, with no JVM: `Plugin::handle("stage-status",
//! ...)` for the flat example body and for GoCD API 4.0 bodies of about 2 KB, 20 KB and 200 KB.
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

criterion_group!(benches, bench_handle_stage_status);
criterion_main!(benches);
