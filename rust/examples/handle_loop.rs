//! Calls `Plugin::handle("stage-status", ...)` on one bench body a given number of times, for
//! instruction counts under `valgrind --tool=callgrind`, which stay stable on a busy machine.
//!
//! Usage: `cargo run --release --example handle-loop -- BODY CALLS`, where BODY is a file name under
//! `tests/fixtures/bench/` (`flat.json` is sent as API 1.0, the others as 4.0). The cost of one
//! call is the difference between two runs with different CALLS, divided by the difference.

use std::fs;
use std::hint::black_box;
use std::path::Path;
use std::process::ExitCode;

use herald::plugin::Plugin;

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let [body_name, calls] = arguments.as_slice() else {
        eprintln!("usage: handle-loop BODY CALLS (BODY is a file under tests/fixtures/bench/)");
        return ExitCode::FAILURE;
    };
    let Ok(calls) = calls.parse::<u64>() else {
        eprintln!("handle-loop: CALLS must be a whole number, got {calls:?}");
        return ExitCode::FAILURE;
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bench")
        .join(body_name);
    let body = match fs::read(&path) {
        Ok(body) => body,
        Err(error) => {
            eprintln!("handle-loop: cannot read {}: {error}", path.display());
            return ExitCode::FAILURE;
        }
    };
    let api_version = if body_name == "flat.json" {
        "1.0"
    } else {
        "4.0"
    };

    let plugin = Plugin::new();
    for _ in 0..calls {
        let response = plugin.handle("stage-status", api_version, Some(black_box(&body)));
        if !response.body.contains("\"success\"") {
            eprintln!(
                "handle-loop: the plugin rejected {body_name}: {}",
                response.body
            );
            return ExitCode::FAILURE;
        }
        black_box(response);
    }
    ExitCode::SUCCESS
}
