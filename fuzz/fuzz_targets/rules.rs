//! Fuzzes the delivery rules parser with arbitrary text. The first line lists the known
//! destination names, separated by commas, and the rest is the rules text.
#![no_main]

use herald::delivery::rules::Rules;
use herald_fuzz::split_input;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (destinations, rules) = split_input(data);
    let Some(rules) = rules.and_then(|bytes| std::str::from_utf8(bytes).ok()) else {
        return;
    };
    let destinations: Vec<String> = destinations
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(String::from)
        .collect();

    if let Err(messages) = Rules::parse(rules, &destinations) {
        assert!(
            !messages.is_empty(),
            "a rejected text has at least one message"
        );
        for message in &messages {
            assert!(!message.is_empty(), "every message is non-empty");
        }
    }
});
