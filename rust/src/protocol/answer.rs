//! Response bodies for notification requests: `{"status": "success"}` or
//! `{"status": "failure", "messages": [...]}` with unique messages.

use std::collections::HashSet;

use serde_json::json;

use super::problem::{messages, Problem};

/// The success body, the same for every accepted notification.
const SUCCESS: &str = r#"{"status":"success"}"#;

pub fn success() -> String {
    SUCCESS.to_owned()
}

/// Maximum number of messages a failure body or a log line lists. One last message counts the rest.
pub const MAX_MESSAGES: usize = 20;

/// Keeps the first [`MAX_MESSAGES`] messages and replaces the rest with `and N more problems`,
/// so a body with thousands of problems gets a response of bounded size.
pub fn limit_messages(mut messages: Vec<String>) -> Vec<String> {
    if messages.len() > MAX_MESSAGES {
        let more = messages.len() - MAX_MESSAGES;
        messages.truncate(MAX_MESSAGES);
        messages.push(format!("and {more} more problems"));
    }
    messages
}

/// Builds a failure body that lists each repeated message once, and at most [`MAX_MESSAGES`].
pub fn failure<I: IntoIterator<Item = String>>(messages: I) -> String {
    let mut seen = HashSet::new();
    let unique: Vec<String> = messages
        .into_iter()
        .filter(|message| seen.insert(message.clone()))
        .collect();
    json!({ "status": "failure", "messages": limit_messages(unique) }).to_string()
}

/// Builds the failure body that lists `problems`.
pub fn failure_for(problems: &[Problem]) -> String {
    failure(messages(problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_messages_counts_the_rest() {
        let messages: Vec<String> = (0..25).map(|index| format!("problem {index}")).collect();
        let limited = limit_messages(messages);
        assert_eq!(limited.len(), MAX_MESSAGES + 1);
        assert_eq!(limited[MAX_MESSAGES - 1], "problem 19");
        assert_eq!(limited[MAX_MESSAGES], "and 5 more problems");
    }

    #[test]
    fn limit_messages_keeps_short_lists() {
        let messages = vec!["a".to_string(), "b".to_string()];
        assert_eq!(limit_messages(messages.clone()), messages);
    }

    #[test]
    fn success_body_is_status_success() {
        let body: serde_json::Value = serde_json::from_str(&success()).unwrap();
        assert_eq!(body, json!({ "status": "success" }));
    }
}
