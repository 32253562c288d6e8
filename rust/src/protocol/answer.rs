//! Response bodies for notification requests: `{"status": "success"}` or
//! `{"status": "failure", "messages": [...]}` with unique messages.

use serde_json::json;

use super::problem::{messages, Problem};

/// The success body, the same for every accepted notification.
const SUCCESS: &str = r#"{"status":"success"}"#;

pub fn success() -> String {
    SUCCESS.to_owned()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_body_is_status_success() {
        let body: serde_json::Value = serde_json::from_str(&success()).unwrap();
        assert_eq!(body, json!({ "status": "success" }));
    }
}
