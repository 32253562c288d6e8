//! The one error type of the protocol layer.

use std::borrow::Cow;
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
///
/// Besides what JSON escapes, control characters (DEL and U+0080 to U+009F included), bidi
/// formatting characters and the line and paragraph separators are written as `\uXXXX`, so no
/// message or log line carries them raw. The result is still a valid JSON string literal.
pub(crate) fn quote(text: &str) -> String {
    let length = text.chars().count();
    let mut quoted = String::with_capacity(text.len().min(4 * MAX_QUOTED_CHARS) + 2);
    quoted.push('"');
    for character in text.chars().take(MAX_QUOTED_CHARS) {
        push_escaped(&mut quoted, character);
    }
    quoted.push('"');
    if length > MAX_QUOTED_CHARS {
        quoted.push_str(&format!("... ({length} characters)"));
    }
    quoted
}

/// Appends `character` to a JSON string literal, escaped where [`quote`] promises it.
fn push_escaped(quoted: &mut String, character: char) {
    match character {
        '"' => quoted.push_str("\\\""),
        '\\' => quoted.push_str("\\\\"),
        '\n' => quoted.push_str("\\n"),
        '\r' => quoted.push_str("\\r"),
        '\t' => quoted.push_str("\\t"),
        '\u{8}' => quoted.push_str("\\b"),
        '\u{c}' => quoted.push_str("\\f"),
        character if needs_unicode_escape(character) => {
            let mut units = [0u16; 2];
            for unit in character.encode_utf16(&mut units) {
                quoted.push_str(&format!("\\u{unit:04x}"));
            }
        }
        character => quoted.push(character),
    }
}

/// Returns true for characters that could hide or reorder text in a terminal or log viewer.
fn needs_unicode_escape(character: char) -> bool {
    character.is_control()
        || matches!(
            character,
            // Arabic letter mark, left-to-right and right-to-left marks, the embeddings and
            // overrides U+202A to U+202E, and the isolates U+2066 to U+2069.
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                // Line and paragraph separators, which some viewers show as line breaks.
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// Formats an object key as one segment of a field path such as `pipeline.stage.name`.
///
/// A plain name (ASCII letters, digits, `-` and `_`, at most [`MAX_QUOTED_CHARS`] characters)
/// stays as it is. Any other key, the empty key included, is quoted and shortened by [`quote`], so
/// a key can neither break a message up nor make it long.
pub(crate) fn path_segment(key: &str) -> Cow<'_, str> {
    let plain = !key.is_empty()
        && key.len() <= MAX_QUOTED_CHARS
        && key
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    if plain {
        Cow::Borrowed(key)
    } else {
        Cow::Owned(quote(key))
    }
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
    fn quote_escapes_controls_and_bidi_characters() {
        assert_eq!(quote("a\u{1b}[0m"), "\"a\\u001b[0m\"");
        assert_eq!(quote("\u{7f}\u{9b}"), "\"\\u007f\\u009b\"");
        assert_eq!(quote("abc\u{202e}cba"), "\"abc\\u202ecba\"");
        assert_eq!(quote("\u{2066}x\u{2069}"), "\"\\u2066x\\u2069\"");
        assert_eq!(quote("a\u{2028}b"), "\"a\\u2028b\"");
        assert_eq!(quote("構建 🚀"), "\"構建 🚀\"");
    }

    #[test]
    fn quote_is_a_json_string() {
        let text = "tab\t, quote \", backslash \\, esc \u{1b}, rlo \u{202e}, csi \u{9b}";
        let quoted = quote(text);
        assert_eq!(serde_json::from_str::<String>(&quoted).unwrap(), text);
    }

    #[test]
    fn path_segment_keeps_plain_names() {
        assert_eq!(path_segment("pipeline"), "pipeline");
        assert_eq!(path_segment("build-cause"), "build-cause");
        assert_eq!(path_segment("PR_ID2"), "PR_ID2");
        assert_eq!(path_segment(&"a".repeat(60)), "a".repeat(60));
    }

    #[test]
    fn path_segment_quotes_other_keys() {
        assert_eq!(path_segment(""), "\"\"");
        assert_eq!(path_segment("a.b"), "\"a.b\"");
        assert_eq!(path_segment("a b"), "\"a b\"");
        assert_eq!(path_segment("é"), "\"é\"");
        assert_eq!(path_segment("x\ny"), "\"x\\ny\"");
        assert_eq!(
            path_segment(&"a".repeat(61)),
            format!("\"{}\"... (61 characters)", "a".repeat(60))
        );
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
