//! Runs every case of tests/fixtures/cases.json through `Plugin::handle` and compares the whole
//! response (code and JSON body) with the expected one. The Java tests read the same manifest.

use std::fs;
use std::path::{Path, PathBuf};

use herald::plugin::Plugin;
use serde_json::{json, Value};

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn load_cases() -> Vec<Value> {
    let manifest = fixtures_root().join("cases.json");
    let text = fs::read(&manifest)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", manifest.display()));
    serde_json::from_slice(&text)
        .unwrap_or_else(|error| panic!("{} is not valid JSON: {error}", manifest.display()))
}

/// Sends one case to a fresh plugin, so that no case depends on the settings another one applied.
fn answer_case(case: &Value) -> Value {
    let request = case["request"].as_str().expect("request is a string");
    let api_version = case["api-version"]
        .as_str()
        .expect("api-version is a string");
    let body = case["body-file"].as_str().map(|file| {
        let path = fixtures_root().join(file);
        fs::read(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
    });

    let response = Plugin::new().handle(request, api_version, body.as_deref());
    let body: Value = serde_json::from_str(&response.body)
        .unwrap_or_else(|error| panic!("response body {:?} is not JSON: {error}", response.body));
    json!({ "code": response.code, "body": body })
}

#[test]
fn fixture_cases_get_expected_answers() {
    let cases = load_cases();
    let mut mismatches = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().expect("name is a string");
        let actual = answer_case(case);
        if actual != case["expected"] {
            mismatches.push(format!(
                "{name}:\n  expected {}\n  actual   {actual}",
                case["expected"]
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n")
    );
}

#[test]
fn fixture_case_names_are_unique() {
    let cases = load_cases();
    let mut names: Vec<&str> = cases
        .iter()
        .map(|case| case["name"].as_str().expect("name is a string"))
        .collect();
    names.sort_unstable();
    let count = names.len();
    names.dedup();
    assert_eq!(names.len(), count, "duplicate case names in cases.json");
}

#[test]
fn fixture_failure_messages_are_unique() {
    for case in load_cases() {
        if let Some(messages) = case["expected"]["body"]["messages"].as_array() {
            let mut unique = messages.clone();
            unique.dedup();
            assert_eq!(&unique, messages, "case {}", case["name"]);
        }
    }
}

#[test]
fn fixture_body_files_exist() {
    for case in load_cases() {
        if let Some(file) = case["body-file"].as_str() {
            assert!(
                fixtures_root().join(file).is_file(),
                "case {}: {file} is missing",
                case["name"]
            );
        }
    }
}
