//! Response bodies for notification requests: `{"status": "success"}` or
//! `{"status": "failure", "messages": [...]}` with unique messages.

use serde_json::json;

use super::problem::{messages, Problem};

pub fn success() -> String {
    json!({ "status": "success" }).to_string()
}

/// Builds a failure body; repeated messages are listed once.
pub fn failure<I: IntoIterator<Item = String>>(messages: I) -> String {
    let mut unique: Vec<String> = Vec::new();
    for message in messages {
        if !unique.contains(&message) {
            unique.push(message);
        }
    }
    json!({ "status": "failure", "messages": unique }).to_string()
}

/// Builds the failure body that lists `problems`.
pub fn failure_for(problems: &[Problem]) -> String {
    failure(messages(problems))
}
