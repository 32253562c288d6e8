//! Fuzzes the delivery settings that an administrator types: destinations, destination secrets,
//! rules and the numeric and URL fields. Input: lines of `KEY=VALUE`, where a value continues on
//! the following lines until the next line that starts with a known key and `=`.
//!
//! The queue folder and CA bundle fields are left out: validating them opens paths on the file
//! system, and a fuzzer running as root must not probe arbitrary paths.
#![no_main]

use std::collections::HashMap;

use herald::delivery::config::{self, validate_settings};
use libfuzzer_sys::fuzz_target;

const KEYS: [&str; 12] = [
    config::DESTINATIONS,
    config::DESTINATION_SECRETS,
    config::RULES,
    config::SITE_URL,
    config::PROXY_URL,
    config::REQUEST_TIMEOUT,
    config::MAX_EVENT_AGE,
    config::QUEUE_MAX_EVENTS,
    config::QUEUE_MAX_MIB,
    config::AGENT_STATUS,
    config::CHAT_TEMPLATE,
    config::AGENT_CHAT_TEMPLATE,
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let values = settings_values(text);

    for error in validate_settings(&values) {
        assert!(
            KEYS.contains(&error.key),
            "error for a field not sent: {}",
            error.key
        );
        assert!(
            !error.message.trim().is_empty(),
            "blank message for {}",
            error.key
        );
    }
});

fn settings_values(text: &str) -> HashMap<String, String> {
    let mut values: HashMap<String, String> = HashMap::new();
    let mut current: Option<&str> = None;

    for line in text.split('\n') {
        let starts_field = line
            .split_once('=')
            .and_then(|(key, _)| KEYS.iter().find(|known| **known == key));
        if let (Some(key), Some((_, value))) = (starts_field, line.split_once('=')) {
            values.insert(key.to_string(), value.to_string());
            current = Some(key);
        } else if let Some(key) = current {
            let value = values.get_mut(key).expect("current key has a value");
            value.push('\n');
            value.push_str(line);
        }
    }
    values
}
