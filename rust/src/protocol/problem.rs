//! The one error type of the protocol layer.

use std::collections::HashSet;
use std::fmt;

use serde_json::Value;

/// One thing wrong with a request: the field path (or `body`) and what was expected there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    path: String,
    message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }

    /// Creates the problem for a value of the wrong type or form: `<path>: expected X, found Y`.
    pub(crate) fn expected(path: &str, expected: &str, found: &Value) -> Problem {
        Problem::new(
            path,
            format!("expected {expected}, found {}", describe(found)),
        )
    }

    /// Creates the problem for a required field that the body lacks.
    pub(crate) fn missing(path: &str, expected: &str) -> Problem {
        Problem::new(path, format!("missing, expected {expected}"))
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Returns the messages of `problems` in order, without duplicates.
pub fn messages(problems: &[Problem]) -> Vec<String> {
    let mut seen = HashSet::new();
    problems
        .iter()
        .map(Problem::to_string)
        .filter(|message| seen.insert(message.clone()))
        .collect()
}

/// Maximum number of characters of a string value that a message quotes.
const MAX_QUOTED_CHARS: usize = 60;

/// Describes a JSON value for a message: `the number 1`, `"Green"`, `null`, `an array`.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(flag) => format!("the boolean {flag}"),
        Value::Number(number) => format!("the number {number}"),
        Value::String(text) => quote(text),
        Value::Array(_) => "an array".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}

/// Quotes a string as JSON does, shortened to [`MAX_QUOTED_CHARS`] characters.
pub(crate) fn quote(text: &str) -> String {
    if text.chars().count() <= MAX_QUOTED_CHARS {
        return Value::from(text).to_string();
    }
    let head: String = text.chars().take(MAX_QUOTED_CHARS).collect();
    format!(
        "{}... ({} characters)",
        Value::from(head),
        text.chars().count()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn describe_names_each_json_type() {
        assert_eq!(describe(&json!(null)), "null");
        assert_eq!(describe(&json!(true)), "the boolean true");
        assert_eq!(describe(&json!(1)), "the number 1");
        assert_eq!(describe(&json!(1.5)), "the number 1.5");
        assert_eq!(describe(&json!("Green")), "\"Green\"");
        assert_eq!(describe(&json!([1])), "an array");
        assert_eq!(describe(&json!({})), "an object");
    }

    #[test]
    fn quote_shortens_long_strings() {
        let long = "é".repeat(100);
        let quoted = quote(&long);
        assert!(
            quoted.starts_with(&format!("\"{}\"", "é".repeat(60))),
            "{quoted}"
        );
        assert!(quoted.ends_with("... (100 characters)"), "{quoted}");
    }

    #[test]
    fn quote_escapes_like_json() {
        assert_eq!(quote("a\"b\n"), "\"a\\\"b\\n\"");
    }

    #[test]
    fn messages_drop_duplicates_in_order() {
        let problems = vec![
            Problem::new("b", "two"),
            Problem::new("a", "one"),
            Problem::new("b", "two"),
        ];
        assert_eq!(messages(&problems), vec!["b: two", "a: one"]);
    }
}
