//! Fuzzes every settings body the plugin reads. The first line picks the entry point:
//! `validate` (validate-configuration), `changed` (plugin-settings-changed), `stored` (the response
//! to go.processor.plugin-settings.get) or `server-info` (the response to
//! go.processor.server-info.get). Any other first line is treated as `validate`.
#![no_main]

use herald::plugin::Plugin;
use herald_fuzz::{
    assert_status_body, assert_validation_response, confine_event_log_paths, split_input,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (selector, body) = split_input(data);
    let body = confine_event_log_paths(body);
    let body = body.as_deref();
    let plugin = Plugin::new();

    match selector.as_str() {
        "changed" => {
            let response = plugin.handle("go.plugin-settings.plugin-settings-changed", "4.0", body);
            match response.code {
                200 => assert_eq!(response.body, "{}"),
                400 => assert_status_body(&response.body),
                other => panic!("unexpected code {other}: {response:?}"),
            }
        }
        "stored" => {
            if let Err(message) = plugin.apply_plugin_settings(body) {
                assert!(!message.is_empty(), "an error names the problem");
            }
        }
        "server-info" => {
            if let Err(message) = plugin.apply_server_info(body) {
                assert!(!message.is_empty(), "an error names the problem");
            }
        }
        _ => {
            let response = plugin.handle("go.plugin-settings.validate-configuration", "4.0", body);
            assert_validation_response(&response);
        }
    }
});
