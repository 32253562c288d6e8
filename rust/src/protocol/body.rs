//! Decoding of request bodies: bytes to a JSON object, with one problem naming what went wrong.

use serde_json::{Map, Value};

use super::duplicate_keys;
use super::problem::Problem;

/// Path that problems about the body as a whole are reported under.
pub const BODY: &str = "body";

/// A notification body decoded into a JSON object.
#[derive(Debug)]
pub struct DecodedObject {
    /// The object, in which a repeated key kept its last value.
    pub object: Map<String, Value>,
    /// One `<path>: duplicate key` problem for each repeated key in any object of the body.
    pub duplicate_keys: Vec<Problem>,
}

/// Decodes a notification body that must be a JSON object, noting repeated keys.
///
/// `None` is a null body from GoCD. Problems name the byte offset of invalid UTF-8 and the line
/// and column where JSON parsing failed.
pub fn decode_object(body: Option<&[u8]>) -> Result<DecodedObject, Problem> {
    parse_object(decode_text(body)?)
}

/// Decodes a request body that must be JSON of any type.
pub fn decode_value(body: Option<&[u8]>) -> Result<Value, Problem> {
    parse_value(decode_text(body)?)
}

/// Checks that a request body is present, valid UTF-8 and not blank, and returns its text.
pub(crate) fn decode_text(body: Option<&[u8]>) -> Result<&str, Problem> {
    let bytes = body.ok_or_else(|| {
        Problem::new(
            BODY,
            "missing (the request body is null), expected a JSON object",
        )
    })?;

    let text = std::str::from_utf8(bytes).map_err(|error| {
        Problem::new(
            BODY,
            format!(
                "invalid UTF-8 at byte offset {}, expected UTF-8 encoded JSON",
                error.valid_up_to()
            ),
        )
    })?;

    // GoCD hands the plugin each request body as a Java string of JSON, and the Java side of the
    // plugin encodes it with `String.getBytes(UTF_8)`, which adds no byte-order mark.
    if text.starts_with('\u{feff}') {
        return Err(Problem::new(
            BODY,
            "starts with a byte-order mark (U+FEFF), which GoCD request bodies do not carry, \
             expected JSON without it",
        ));
    }

    if text.trim().is_empty() {
        return Err(Problem::new(BODY, "empty, expected a JSON object"));
    }
    Ok(text)
}

/// Parses text that [`decode_text`] accepted into a JSON value.
pub(crate) fn parse_value(text: &str) -> Result<Value, Problem> {
    serde_json::from_str(text).map_err(|error| invalid_json(&error))
}

/// Parses text that [`decode_text`] accepted into a JSON object, noting repeated keys.
pub(crate) fn parse_object(text: &str) -> Result<DecodedObject, Problem> {
    let (value, duplicate_keys) =
        duplicate_keys::parse_value(text).map_err(|error| invalid_json(&error))?;
    match value {
        Value::Object(object) => Ok(DecodedObject {
            object,
            duplicate_keys,
        }),
        other => Err(Problem::expected(BODY, "a JSON object", &other)),
    }
}

fn invalid_json(error: &serde_json::Error) -> Problem {
    Problem::new(
        BODY,
        format!(
            "invalid JSON at line {}, column {}: {}",
            error.line(),
            error.column(),
            error_without_position(error)
        ),
    )
}

/// Returns serde_json's description of `error` without its trailing " at line L column C".
fn error_without_position(error: &serde_json::Error) -> String {
    let full = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    full.strip_suffix(&suffix).unwrap_or(&full).to_string()
}

/// Returns `value` as an object, or the problem for `path`.
pub(crate) fn as_object<'a>(
    path: &str,
    value: &'a Value,
) -> Result<&'a Map<String, Value>, Problem> {
    value
        .as_object()
        .ok_or_else(|| Problem::expected(path, "an object", value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem_for(body: Option<&[u8]>) -> String {
        decode_object(body).unwrap_err().to_string()
    }

    #[test]
    fn null_body_is_reported() {
        assert_eq!(
            problem_for(None),
            "body: missing (the request body is null), expected a JSON object"
        );
    }

    #[test]
    fn empty_and_blank_bodies_are_reported() {
        assert_eq!(
            problem_for(Some(b"")),
            "body: empty, expected a JSON object"
        );
        assert_eq!(
            problem_for(Some(b" \n\t")),
            "body: empty, expected a JSON object"
        );
    }

    #[test]
    fn invalid_utf8_names_byte_offset() {
        assert_eq!(
            problem_for(Some(b"{\"a\": \"\xff\"}")),
            "body: invalid UTF-8 at byte offset 7, expected UTF-8 encoded JSON"
        );
    }

    #[test]
    fn invalid_json_names_line_and_column() {
        assert_eq!(
            problem_for(Some(b"{\n  \"a\": 1,\n}")),
            "body: invalid JSON at line 3, column 1: trailing comma"
        );
    }

    #[test]
    fn non_object_names_found_type() {
        assert_eq!(
            problem_for(Some(b"[1, 2]")),
            "body: expected a JSON object, found an array"
        );
        assert_eq!(
            problem_for(Some(b"null")),
            "body: expected a JSON object, found null"
        );
        assert_eq!(
            problem_for(Some(b"\"x\"")),
            "body: expected a JSON object, found \"x\""
        );
    }

    #[test]
    fn object_is_decoded() {
        let decoded = decode_object(Some("{\"name\": \"构建\"}".as_bytes())).unwrap();
        assert_eq!(decoded.object["name"], "构建");
        assert!(decoded.duplicate_keys.is_empty());
    }

    #[test]
    fn repeated_keys_are_noted() {
        let decoded =
            decode_object(Some(b"{\"a\": 1, \"b\": {\"c\": 1, \"c\": 2}, \"a\": 3}")).unwrap();
        assert_eq!(decoded.object["a"], 3);
        let problems: Vec<String> = decoded
            .duplicate_keys
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(problems, vec!["b.c: duplicate key", "a: duplicate key"]);
    }

    #[test]
    fn byte_order_mark_is_named() {
        let expected = "body: starts with a byte-order mark (U+FEFF), which GoCD request bodies \
                        do not carry, expected JSON without it";
        assert_eq!(problem_for(Some(b"\xef\xbb\xbf{}")), expected);
        assert_eq!(problem_for(Some(b"\xef\xbb\xbf")), expected);
        assert_eq!(
            decode_value(Some(b"\xef\xbb\xbf[]"))
                .unwrap_err()
                .to_string(),
            expected
        );
    }

    #[test]
    fn byte_order_mark_after_space_is_invalid_json() {
        assert_eq!(
            problem_for(Some(b" \xef\xbb\xbf{}")),
            "body: invalid JSON at line 1, column 2: expected value"
        );
    }
}
