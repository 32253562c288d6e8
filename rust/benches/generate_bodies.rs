//! Writes the benchmark bodies to tests/fixtures/bench/.
//!
//! Run with `cargo run --example generate-bench-bodies` after changing `bodies.rs`, and commit
//! the files. The property tests fail when the committed files and the generator disagree.

#[path = "bodies.rs"]
mod bodies;

use std::fs;
use std::path::Path;

fn main() -> std::io::Result<()> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bench");
    fs::create_dir_all(&folder)?;

    fs::write(folder.join("flat.json"), bodies::FLAT_BODY)?;
    for (file_name, target_bytes) in bodies::SIZES {
        let body = bodies::body_near(target_bytes);
        println!("{file_name}: {} bytes", body.len());
        fs::write(folder.join(file_name), body)?;
    }
    Ok(())
}
