//! Rust core of the Herald GoCD notification plugin.
//!
//! The Java `GoPlugin` forwards each GoCD request to [`bridge`], whose JNI exports only convert
//! arguments and call [`plugin::Plugin`]. Everything else is plain Rust, testable with `cargo test`.

pub mod bridge;
pub mod delivery;
pub mod event;
pub mod event_log;
pub mod plugin;
pub mod protocol;
pub mod settings;
