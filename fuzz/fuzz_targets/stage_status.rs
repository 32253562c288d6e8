//! Fuzzes `stage-status` bodies in every form: flat, and nested for API 1.0 to 4.0.
//! Input: the API version on the first line, then the body.
#![no_main]

use herald::plugin::Plugin;
use herald_fuzz::{assert_notification_response, split_input};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (api_version, body) = split_input(data);
    let plugin = Plugin::new();

    let first = plugin.handle("stage-status", &api_version, body);
    assert_notification_response(&first);

    let second = plugin.handle("stage-status", &api_version, body);
    assert_eq!(first, second, "a repeated request gets the same response");
});
