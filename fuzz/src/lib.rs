//! Shared parts of the fuzz targets: the input layout and the checks every response must pass.
//!
//! Every target reads its input as `<selector>\n<body>`: the first line picks the API version or
//! the request, and the bytes after the first newline are the request body. An input without a
//! newline sends a null body, which GoCD does for some requests.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use herald::plugin::Response;
use serde_json::Value;

/// Splits an input into the selector line and the body (`None` when there is no newline).
pub fn split_input(data: &[u8]) -> (String, Option<&[u8]>) {
    match data.iter().position(|&byte| byte == b'\n') {
        Some(newline) => (
            String::from_utf8_lossy(&data[..newline]).into_owned(),
            Some(&data[newline + 1..]),
        ),
        None => (String::from_utf8_lossy(data).into_owned(), None),
    }
}

/// Checks the response to a `stage-status` or `agent-status` request: code 200 and either
/// `{"status": "success"}` or `{"status": "failure", "messages": [...]}` with at least one
/// message, every message a distinct string.
pub fn assert_notification_response(response: &Response) {
    assert_eq!(
        response.code, 200,
        "notification response code for {response:?}"
    );
    assert_status_body(&response.body);
}

/// Checks a `{"status": ...}` body, whatever the code.
pub fn assert_status_body(body: &str) {
    let response_json: Value = serde_json::from_str(body).expect("the response is JSON");
    let object = response_json
        .as_object()
        .expect("the response is a JSON object");

    match object.get("status").and_then(Value::as_str) {
        Some("success") => assert_eq!(
            object.len(),
            1,
            "a success response has only status: {body}"
        ),
        Some("failure") => {
            assert_eq!(
                object.len(),
                2,
                "a failure response has status and messages: {body}"
            );
            assert_unique_messages(object.get("messages"), body);
        }
        _ => panic!("status is neither success nor failure: {body}"),
    }
}

fn assert_unique_messages(messages: Option<&Value>, body: &str) {
    let messages = messages
        .and_then(Value::as_array)
        .expect("messages is an array");
    assert!(
        !messages.is_empty(),
        "a failure response lists at least one message: {body}"
    );

    let mut seen = HashSet::new();
    for message in messages {
        let text = message.as_str().expect("every message is a string");
        assert!(!text.is_empty(), "a message is not empty: {body}");
        assert!(seen.insert(text), "message {text:?} appears twice: {body}");
    }
}

/// Checks the response to `go.plugin-settings.validate-configuration`: code 200 with a list of
/// `{"key", "message"}` objects, or code 400 with a failure body for an unreadable request.
pub fn assert_validation_response(response: &Response) {
    match response.code {
        200 => {
            let response_json: Value =
                serde_json::from_str(&response.body).expect("the response is JSON");
            let problems = response_json
                .as_array()
                .expect("a 200 validation response is a list");
            for problem in problems {
                let object = problem
                    .as_object()
                    .expect("each validation problem is an object");
                assert!(
                    object.get("key").is_some_and(Value::is_string),
                    "key: {problem}"
                );
                assert!(
                    object.get("message").is_some_and(Value::is_string),
                    "message: {problem}"
                );
            }
        }
        400 => assert_status_body(&response.body),
        other => panic!("unexpected code {other} for validate-configuration: {response:?}"),
    }
}

/// Rewrites every string under an `event_log_path` key so that it points inside a private scratch
/// folder. Settings validation probes the file system at that path (it creates and removes a file),
/// and applying the settings makes the plugin append to it: a fuzzer running as root must not do
/// that anywhere else. Inputs that are not JSON reach the plugin unchanged, because the plugin
/// rejects them before it looks at any path.
pub fn confine_event_log_paths(body: Option<&[u8]>) -> Option<Vec<u8>> {
    let bytes = body?;
    let Ok(mut value) = serde_json::from_slice::<Value>(bytes) else {
        return Some(bytes.to_vec());
    };
    if !rewrite_paths_under_key(&mut value, false) {
        return Some(bytes.to_vec());
    }
    Some(serde_json::to_vec(&value).expect("a Value serializes"))
}

/// Returns whether anything was rewritten.
fn rewrite_paths_under_key(value: &mut Value, inside_path_key: bool) -> bool {
    match value {
        Value::String(text) if inside_path_key => {
            *text = confined_path(text);
            true
        }
        Value::Array(items) => {
            let mut rewritten = false;
            for item in items {
                rewritten |= rewrite_paths_under_key(item, inside_path_key);
            }
            rewritten
        }
        Value::Object(object) => {
            let mut rewritten = false;
            for (key, item) in object.iter_mut() {
                rewritten |=
                    rewrite_paths_under_key(item, inside_path_key || key == "event_log_path");
            }
            rewritten
        }
        _ => false,
    }
}

/// Maps an absolute path to the same path below the scratch folder. Relative paths stay as they
/// are: the validator rejects them before touching the file system.
fn confined_path(text: &str) -> String {
    let path = Path::new(text);
    if !path.is_absolute() {
        return text.to_string();
    }
    let mut confined = scratch_folder().to_path_buf();
    for component in path.components() {
        if let Component::Normal(name) = component {
            confined.push(name);
        }
    }
    confined.to_string_lossy().into_owned()
}

fn scratch_folder() -> &'static Path {
    static FOLDER: OnceLock<PathBuf> = OnceLock::new();
    FOLDER.get_or_init(|| {
        let folder = std::env::temp_dir().join(format!("herald-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&folder).expect("the scratch folder can be created");
        folder
    })
}
