use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::*;

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn parse(body: &Value, version: &str) -> Result<StageEvent<'static>, Vec<String>> {
    let bytes = body.to_string().into_bytes();
    parse_stage_status(Some(&bytes), version, Tz::UTC)
        .map(StageEvent::into_owned)
        .map_err(|problems| problems.iter().map(ToString::to_string).collect())
}

/// Returns the messages of a rejected body, and fails the test when the body was accepted.
fn problem_texts(result: &Result<StageEvent<'_>, Vec<Problem>>) -> Vec<String> {
    result
        .as_ref()
        .expect_err("the body is rejected")
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// Parses body bytes sent with API 4.0 and returns the messages of the rejection.
fn problems_of(body: &[u8]) -> Vec<String> {
    problem_texts(&parse_stage_status(Some(body), "4.0", Tz::UTC))
}

fn flat_example() -> Value {
    fixture("stage-status/flat-example.json")
}

#[test]
fn flat_example_becomes_event() {
    let event = parse(&flat_example(), "4.0").unwrap();
    assert_eq!(event.pipeline.name, "build");
    assert_eq!(event.pipeline.counter, 1);
    assert_eq!(event.pipeline.label, None);
    assert_eq!(event.stage.name, "compile");
    assert_eq!(event.stage.counter, 1);
    assert_eq!(event.stage.state, StageState::Passed);
    assert_eq!(event.stage.result, StageResult::Passed);
    assert_eq!(
        event.stage.create_time,
        Some(utc("2011-07-14T19:43:37.100Z"))
    );
    assert!(event.jobs.is_empty());
    assert_eq!(event.source, EventSource::Flat);
}

#[test]
fn flat_reads_every_enum_value() {
    for state in [
        "Building",
        "Failing",
        "Passed",
        "Failed",
        "Cancelled",
        "Unknown",
    ] {
        for result in ["Passed", "Failed", "Cancelled", "Unknown"] {
            let mut body = flat_example();
            body["stage-state"] = json!(state);
            body["stage-result"] = json!(result);
            let event = parse(&body, "1.0").unwrap();
            assert_eq!(event.stage.state.as_str(), state);
            assert_eq!(event.stage.result.as_str(), result);
        }
    }
}

#[test]
fn flat_enum_is_case_sensitive() {
    let mut body = flat_example();
    body["stage-result"] = json!("PASSED");
    assert_eq!(
        parse(&body, "4.0").unwrap_err(),
        vec!["stage-result: expected one of Passed, Failed, Cancelled, Unknown, found \"PASSED\""]
    );
}

#[test]
fn flat_counter_must_be_integer() {
    let mut body = flat_example();
    body["pipeline-counter"] = json!(1.5);
    assert_eq!(
        parse(&body, "4.0").unwrap_err(),
        vec!["pipeline-counter: expected a positive integer, found the number 1.5"]
    );
    body["pipeline-counter"] = json!(-3);
    assert_eq!(
        parse(&body, "4.0").unwrap_err(),
        vec!["pipeline-counter: expected a positive integer, found the number -3"]
    );
}

#[test]
fn flat_stage_counter_must_be_digits() {
    for counter in ["", "+1", "1.0", " 1", "99999999999999999999999"] {
        let mut body = flat_example();
        body["stage-counter"] = json!(counter);
        assert_eq!(
            parse(&body, "4.0").unwrap_err(),
            vec![format!(
                "stage-counter: expected a positive counter written as a string of digits, such as \"1\", found {}",
                Value::from(counter)
            )],
            "{counter:?}"
        );
    }
}

#[test]
fn flat_missing_field_names_type() {
    let mut body = flat_example();
    body.as_object_mut().unwrap().remove("stage-state");
    assert_eq!(
        parse(&body, "4.0").unwrap_err(),
        vec!["stage-state: missing, expected one of Building, Failing, Passed, Failed, Cancelled, Unknown"]
    );
}

#[test]
fn api_4_body_becomes_event() {
    let event = parse(&fixture("stage-status/api-4.0-passed.json"), "4.0").unwrap();
    assert_eq!(event.pipeline.name, "déploiement");
    assert_eq!(event.pipeline.counter, 12);
    assert_eq!(event.pipeline.label.as_deref(), Some("12-🚀"));
    assert_eq!(event.pipeline.group.as_deref(), Some("production"));
    assert_eq!(event.stage.name, "构建");
    assert_eq!(event.stage.previous_stage_name.as_deref(), Some("compile"));
    assert_eq!(event.stage.previous_stage_counter, Some(1));
    assert_eq!(event.stage.approved_by.as_deref(), Some("changes"));
    assert_eq!(
        event.stage.create_time,
        Some(utc("2026-03-23T17:21:03.412Z"))
    );
    assert_eq!(
        event.stage.last_transition_time,
        Some(utc("2026-03-23T17:27:58Z"))
    );
    assert_eq!(
        event.source,
        EventSource::Nested {
            api_version: "4.0".into()
        }
    );

    assert_eq!(event.jobs.len(), 3);
    assert_eq!(event.jobs[1].name, "intégration-🧪");
    assert_eq!(
        event.jobs[1].assign_time,
        Some(utc("2026-03-23T17:21:10.002Z"))
    );

    let types: Vec<&str> = event
        .build_cause
        .iter()
        .map(|revision| revision.material_type.as_ref())
        .collect();
    assert_eq!(types, vec!["git", "pipeline", "scm", "package"]);
    assert_eq!(event.build_cause[0].configuration["branch"], "main");
    assert_eq!(event.build_cause[0].modifications.len(), 2);
    assert!(event.build_cause[0].fingerprint.is_some());
    assert_eq!(event.build_cause[1].configuration["stage-name"], "package");
    let scm = &event.build_cause[2];
    assert_eq!(scm.plugin_id.as_deref(), Some("github.pr"));
    assert_eq!(
        scm.modifications[0].data["PR_AUTHOR"].as_deref(),
        Some("Zoë Łukasiewicz")
    );
    assert_eq!(scm.modifications[0].data["PR_LABELS"], None);
}

#[test]
fn api_4_unknown_keys_are_ignored() {
    let with_unknown = parse(&fixture("stage-status/api-4.0-unknown-keys.json"), "4.0").unwrap();
    let plain = parse(&fixture("stage-status/api-4.0-passed.json"), "4.0").unwrap();
    assert_eq!(with_unknown, plain);
}

#[test]
fn api_3_empty_dates_and_nulls_become_none() {
    let event = parse(&fixture("stage-status/api-3.0-cancelled.json"), "3.0").unwrap();
    let job = &event.jobs[1];
    assert_eq!(job.assign_time, None);
    assert_eq!(job.complete_time, None);
    assert_eq!(job.agent_uuid, None);
    assert_eq!(event.stage.previous_stage_name, None);
    assert_eq!(event.stage.previous_stage_counter, None);
    assert_eq!(event.build_cause[0].fingerprint, None);
    assert_eq!(event.pipeline.group.as_deref(), Some("移动端"));
}

#[test]
fn api_2_dates_are_local_time_of_zone() {
    let body = fixture("stage-status/api-2.0-failed.json")
        .to_string()
        .into_bytes();
    let in_utc = parse_stage_status(Some(&body), "2.0", Tz::UTC).unwrap();
    let in_new_york = parse_stage_status(Some(&body), "2.0", chrono_tz::America::New_York).unwrap();
    assert_eq!(
        in_utc.stage.create_time,
        Some(utc("2026-01-15T02:00:00.015Z"))
    );
    // 02:00 in New York in January (EST, UTC-5) is 07:00 UTC.
    assert_eq!(
        in_new_york.stage.create_time,
        Some(utc("2026-01-15T07:00:00.015Z"))
    );
    assert_eq!(in_utc.pipeline.group, None);
    assert_eq!(in_utc.jobs[2].assign_time, None);
}

#[test]
fn api_1_dst_overlap_takes_earlier_instant() {
    // New York set clocks back from 02:00 EDT to 01:00 EST on 2025-11-02, so 01:30 happened twice.
    let body = fixture("stage-status/api-1.0-building.json")
        .to_string()
        .into_bytes();
    let event = parse_stage_status(Some(&body), "1.0", chrono_tz::America::New_York).unwrap();
    let modified = event.build_cause[0].modifications[0].modified_time;
    assert_eq!(modified, Some(utc("2025-11-02T05:30:00Z")));
    assert_eq!(
        event.stage.create_time,
        Some(utc("2025-11-02T05:31:45.250Z"))
    );
    assert_eq!(event.stage.last_transition_time, None);
}

#[test]
fn api_1_needs_no_later_fields() {
    let event = parse(&fixture("stage-status/api-1.0-building.json"), "1.0").unwrap();
    assert_eq!(event.pipeline.label, None);
    assert_eq!(event.jobs[0].assign_time, None);
    assert_eq!(event.stage.state, StageState::Building);
}

#[test]
fn api_1_body_misses_fields_of_later_versions() {
    let problems = parse(&fixture("stage-status/api-1.0-building.json"), "4.0").unwrap_err();
    assert_eq!(
        problems,
        vec![
            "pipeline.label: missing, expected a string or null",
            "pipeline.build-cause[0].material.fingerprint: missing, expected a string",
            "pipeline.build-cause[0].modifications[0].modified-time: expected a date in the format \
             yyyy-MM-dd'T'HH:mm:ss.SSSZ (offset such as +0000), found \"2025-11-02T01:30:00.000Z\"",
            "pipeline.stage.previous-stage-name: missing, expected a string or null",
            "pipeline.stage.previous-stage-counter: missing, expected a whole number of 0 or more",
            "pipeline.stage.create-time: expected a date in the format yyyy-MM-dd'T'HH:mm:ss.SSSZ \
             (offset such as +0000), found \"2025-11-02T01:31:45.250Z\"",
            "pipeline.stage.jobs[0].schedule-time: expected a date in the format yyyy-MM-dd'T'HH:mm:ss.SSSZ \
             (offset such as +0000), found \"2025-11-02T01:31:45.250Z\"",
            "pipeline.stage.jobs[0].assign-time: missing, expected a string or null",
        ]
    );
}

#[test]
fn nested_structural_nulls_are_rejected() {
    let mut body = fixture("stage-status/api-4.0-passed.json");
    body["pipeline"]["stage"]["counter"] = json!(null);
    body["pipeline"]["stage"]["jobs"] = json!(null);
    body["pipeline"]["build-cause"][0]["changed"] = json!("true");
    assert_eq!(
        parse(&body, "4.0").unwrap_err(),
        vec![
            "pipeline.build-cause[0].changed: expected true or false, found \"true\"",
            "pipeline.stage.counter: expected a string, found null",
            "pipeline.stage.jobs: expected an array of objects, found null",
        ]
    );
}

#[test]
fn nested_pipeline_must_be_object() {
    assert_eq!(
        parse(&json!({ "pipeline": "build" }), "4.0").unwrap_err(),
        vec!["pipeline: expected an object, found \"build\""]
    );
}

#[test]
fn nested_descriptive_nulls_are_accepted() {
    let mut body = fixture("stage-status/api-4.0-passed.json");
    body["pipeline"]["label"] = json!(null);
    body["pipeline"]["stage"]["approved-by"] = json!(null);
    body["pipeline"]["stage"]["approval-type"] = json!(null);
    body["pipeline"]["stage"]["create-time"] = json!(null);
    body["pipeline"]["build-cause"][0]["modifications"][0]["data"] = json!(null);
    body["pipeline"]["build-cause"][1]["material"]["pipeline-configuration"] = json!(null);
    let event = parse(&body, "4.0").unwrap();
    assert_eq!(event.pipeline.label, None);
    assert_eq!(event.stage.approved_by, None);
    assert_eq!(event.stage.approval_type, None);
    assert_eq!(event.stage.create_time, None);
    assert!(event.build_cause[0].modifications[0].data.is_empty());
    assert!(event.build_cause[1].configuration.is_empty());
}

#[test]
fn nested_problems_are_all_reported() {
    let mut body = fixture("stage-status/api-4.0-passed.json");
    body["pipeline"]["stage"]["jobs"][0]["result"] = json!("Green");
    body["pipeline"]["stage"]["jobs"][2]["name"] = json!(7);
    body["pipeline"]["build-cause"][3]["modifications"][0]["revision"] = json!(null);
    assert_eq!(
        parse(&body, "4.0").unwrap_err(),
        vec![
            "pipeline.build-cause[3].modifications[0].revision: expected a string, found null",
            "pipeline.stage.jobs[0].result: expected one of Passed, Failed, Cancelled, Unknown, found \"Green\"",
            "pipeline.stage.jobs[2].name: expected a non-empty string, found the number 7",
        ]
    );
}

#[test]
fn event_round_trips_through_serde() {
    let event = parse(&fixture("stage-status/api-4.0-passed.json"), "4.0").unwrap();
    let line = serde_json::to_string(&event).unwrap();
    let back: StageEvent = serde_json::from_str(&line).unwrap();
    assert_eq!(back, event);
}

/// Parses `body` with the typed fast path first, as `parse_stage_status` does, and with the
/// `Value` walk alone, so tests can check that both give the same result.
fn parse_both_ways<'a>(
    body: &'a [u8],
    version: &str,
    zone: Tz,
) -> (
    Result<StageEvent<'a>, Vec<Problem>>,
    Result<StageEvent<'a>, Vec<Problem>>,
) {
    let text = std::str::from_utf8(body).unwrap();
    (
        parse_stage_status(Some(body), version, zone),
        parse_value_walk(text, version, zone),
    )
}

fn bench_body(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bench")
        .join(name);
    std::fs::read(path).unwrap()
}

const VERSIONS: [&str; 5] = ["1.0", "2.0", "3.0", "4.0", "5.0"];

#[test]
fn fast_path_accepts_bench_bodies() {
    for name in ["api-4.0-2k.json", "api-4.0-20k.json", "api-4.0-200k.json"] {
        let body = bench_body(name);
        let text = std::str::from_utf8(&body).unwrap();
        let fast = stage_typed::parse_nested(text, "4.0", Tz::UTC);
        assert!(fast.is_some(), "{name}: the fast path rejected the body");
        assert_eq!(
            fast.unwrap(),
            parse_value_walk(text, "4.0", Tz::UTC).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn fast_path_matches_value_walk_on_fixtures() {
    let zone: Tz = "Europe/Berlin".parse().unwrap();
    for name in [
        "api-1.0-building.json",
        "api-2.0-failed.json",
        "api-3.0-cancelled.json",
        "api-4.0-passed.json",
        "api-4.0-unknown-keys.json",
        "flat-example.json",
    ] {
        let body = fixture(&format!("stage-status/{name}")).to_string();
        for version in VERSIONS {
            let (fast_first, walk_only) = parse_both_ways(body.as_bytes(), version, zone);
            assert_eq!(fast_first, walk_only, "{name} as API {version}");
        }
    }
}

/// Returns every JSON pointer to a value inside `value`, objects and arrays included.
fn pointers(value: &Value, prefix: String, found: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            for (key, child) in object {
                let pointer = format!("{prefix}/{}", key.replace('~', "~0").replace('/', "~1"));
                found.push(pointer.clone());
                pointers(child, pointer, found);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                let pointer = format!("{prefix}/{index}");
                found.push(pointer.clone());
                pointers(child, pointer, found);
            }
        }
        _ => {}
    }
}

/// Values that each field of a body gets replaced with: every JSON type, empty and odd strings,
/// valid dates in other formats, counters at their limits, and an object turned into an array.
fn replacements(original: &Value) -> Vec<Value> {
    let mut values = vec![
        json!(null),
        json!(true),
        json!(0),
        json!(1),
        json!(-1),
        json!(1.0),
        json!(18446744073709551615u64),
        json!(""),
        json!("0"),
        json!("1"),
        json!("01"),
        json!("18446744073709551616"),
        json!("Passed"),
        json!("git"),
        json!("2026-03-23T17:27:58.000+0000"),
        json!("2026-03-23T17:27:58.000Z"),
        json!("2026-02-30T17:27:58.000+0000"),
        json!("2026-03-23T24:00:00.000+0000"),
        json!("2026-02-29T17:27:58.000Z"),
        json!([]),
        json!({}),
        json!({"url": "x"}),
    ];
    if let Value::Object(object) = original {
        values.push(Value::Array(object.values().cloned().collect()));
    }
    values
}

#[test]
fn fast_path_matches_value_walk_on_mutations() {
    for name in [
        "api-4.0-passed.json",
        "api-2.0-failed.json",
        "flat-example.json",
    ] {
        check_mutations_of(&fixture(&format!("stage-status/{name}")));
    }
}

/// Replaces or removes each value of `base` in turn, and checks that the fast path changes no
/// result.
fn check_mutations_of(base: &Value) {
    let zone: Tz = "Europe/Berlin".parse().unwrap();
    let mut all = Vec::new();
    pointers(base, String::new(), &mut all);

    let mut mutations: Vec<(String, Value)> = Vec::new();
    for pointer in &all {
        let original = base.pointer(pointer).unwrap().clone();
        for replacement in replacements(&original) {
            let mut body = base.clone();
            *body.pointer_mut(pointer).unwrap() = replacement.clone();
            mutations.push((format!("{pointer} = {replacement}"), body));
        }

        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let mut body = base.clone();
        match body.pointer_mut(parent).unwrap() {
            Value::Object(object) => {
                object.remove(&key.replace("~1", "/").replace("~0", "~"));
            }
            Value::Array(items) => {
                items.remove(key.parse::<usize>().unwrap());
            }
            _ => unreachable!("a parent is an object or an array"),
        }
        mutations.push((format!("{pointer} removed"), body));
    }

    for (name, body) in &mutations {
        let text = body.to_string();
        for version in VERSIONS {
            let (fast_first, walk_only) = parse_both_ways(text.as_bytes(), version, zone);
            assert_eq!(fast_first, walk_only, "{name} as API {version}");
        }
    }
}

#[test]
fn fast_path_matches_value_walk_on_raw_texts() {
    let base = fixture("stage-status/api-4.0-passed.json").to_string();
    let nested = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let texts = [
        // Duplicate keys, which both paths reject.
        base.replacen("{\"pipeline\":", "{\"pipeline\":1,\"pipeline\":", 1),
        base.replacen("\"PR_ID\":", "\"PR_ID\":null,\"PR_ID\":", 1),
        base.replacen("\"branch\":", "\"branch\":null,\"branch\":", 1),
        base.replacen("\"name\":", "\"name\":null,\"name\":", 1),
        base.replacen("\"type\":", "\"type\":1,\"type\":", 1),
        base.replacen(
            "\"fingerprint\":",
            "\"fingerprint\":null,\"fingerprint\":",
            1,
        ),
        // An unknown key nested deeper than serde_json's limit of 128.
        base.replacen(
            "{\"pipeline\":",
            &format!("{{\"deep\":{nested},\"pipeline\":"),
            1,
        ),
        base.replacen("\"type\":", &format!("\"deep\":{nested},\"type\":"), 1),
        // Escaped keys and values.
        base.replacen("\"name\":", "\"na\\u006de\":", 1),
        base.replace("+0000", "\\u002b0000"),
        // Trailing text after the object.
        format!("{base} x"),
        format!("{base}\n"),
    ];
    for text in &texts {
        for version in VERSIONS {
            let (fast_first, walk_only) = parse_both_ways(text.as_bytes(), version, Tz::UTC);
            assert_eq!(fast_first, walk_only, "{text} as API {version}");
        }
    }
}

#[test]
fn pipeline_key_detection() {
    assert!(starts_with_pipeline_key(r#"{"pipeline":{}}"#));
    assert!(starts_with_pipeline_key(" \n{ \"pipeline\" : {}}"));
    assert!(!starts_with_pipeline_key(r#"{"pipeline-name":"build"}"#));
    assert!(!starts_with_pipeline_key(
        r#"{"stage-name":"x","pipeline":{}}"#
    ));
    assert!(!starts_with_pipeline_key("[]"));
    assert!(!starts_with_pipeline_key(""));
}

#[test]
fn nested_body_with_pipeline_key_last_still_parses() {
    // A key before `pipeline` sends the body to the flat parser first, which rejects it; the
    // result must not depend on that order.
    let nested = fixture("stage-status/api-4.0-passed.json");
    let text = format!(
        "{{\"unexpected\": 1, \"pipeline\": {}}}",
        nested["pipeline"]
    );
    let ordered_text = nested.to_string();
    let ordered = parse_stage_status(Some(ordered_text.as_bytes()), "4.0", Tz::UTC);
    let reordered = parse_stage_status(Some(text.as_bytes()), "4.0", Tz::UTC);
    assert!(ordered.is_ok(), "{ordered:?}");
    assert_eq!(
        ordered.map(|event| event.pipeline.name),
        reordered.map(|event| event.pipeline.name)
    );
}

/// Writes `value` as JSON text, repeating the first key of the object at `pointer` with `null`
/// before its real value, so the real value is the one a `Value` would keep.
fn text_repeating_first_key(value: &Value, pointer: &str) -> String {
    fn write(value: &Value, current_pointer: &str, pointer: &str, out: &mut String) {
        match value {
            Value::Object(object) => {
                out.push('{');
                for (index, (key, child)) in object.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::from(key.as_str()).to_string());
                    if index == 0 && current_pointer == pointer {
                        out.push_str(":null,");
                        out.push_str(&Value::from(key.as_str()).to_string());
                    }
                    out.push(':');
                    let child_pointer = format!(
                        "{current_pointer}/{}",
                        key.replace('~', "~0").replace('/', "~1")
                    );
                    write(child, &child_pointer, pointer, out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (index, child) in items.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    write(child, &format!("{current_pointer}/{index}"), pointer, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(value, "", pointer, &mut out);
    out
}

/// Turns a JSON pointer such as `/pipeline/jobs/0` into a message path such as `pipeline.jobs[0]`.
fn message_path(value: &Value, pointer: &str) -> String {
    let mut path = String::new();
    let mut current = value;
    for step in pointer.split('/').skip(1) {
        match current {
            Value::Array(items) => {
                path.push_str(&format!("[{step}]"));
                current = &items[step.parse::<usize>().unwrap()];
            }
            _ => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(step);
                current = &current[step];
            }
        }
    }
    path
}

#[test]
fn duplicate_key_in_any_object_is_rejected() {
    let zone: Tz = "Europe/Berlin".parse().unwrap();
    for name in [
        "api-4.0-passed.json",
        "api-1.0-building.json",
        "flat-example.json",
    ] {
        let base = fixture(&format!("stage-status/{name}"));
        let mut objects = vec![String::new()];
        let mut all = Vec::new();
        pointers(&base, String::new(), &mut all);
        objects.extend(all.into_iter().filter(|pointer| {
            base.pointer(pointer)
                .unwrap()
                .as_object()
                .is_some_and(|object| !object.is_empty())
        }));

        for pointer in &objects {
            let object = base.pointer(pointer).unwrap().as_object().unwrap();
            let first_key = object.keys().next().unwrap();
            let expected = match message_path(&base, pointer) {
                path if path.is_empty() => format!("{first_key}: duplicate key"),
                path => format!("{path}.{first_key}: duplicate key"),
            };
            let text = text_repeating_first_key(&base, pointer);
            let version = if name.starts_with("api-1.0") {
                "1.0"
            } else {
                "4.0"
            };

            let (fast_first, walk_only) = parse_both_ways(text.as_bytes(), version, zone);
            let problems = problem_texts(&fast_first);
            assert_eq!(problems, vec![expected], "{name} at {pointer:?}");
            assert_eq!(fast_first, walk_only, "{name} at {pointer:?}");
        }
    }
}

#[test]
fn duplicate_key_order_does_not_matter() {
    let pipeline = fixture("stage-status/api-4.0-passed.json")["pipeline"].to_string();
    let number_first = format!("{{\"pipeline\": 5, \"pipeline\": {pipeline}}}");
    let number_last = format!("{{\"pipeline\": {pipeline}, \"pipeline\": 5}}");
    assert_eq!(
        problems_of(number_first.as_bytes()),
        vec!["pipeline: duplicate key"]
    );
    assert_eq!(
        problems_of(number_last.as_bytes()),
        vec![
            "pipeline: duplicate key",
            "pipeline: expected an object, found the number 5"
        ]
    );
}

#[test]
fn flat_duplicate_key_is_rejected() {
    let text = flat_example()
        .to_string()
        .replacen("{", "{\"pipeline-name\": 5, ", 1);
    assert_eq!(
        problems_of(text.as_bytes()),
        vec!["pipeline-name: duplicate key"]
    );
}

#[test]
fn duplicate_key_inside_configuration_is_rejected() {
    let base = fixture("stage-status/api-4.0-passed.json").to_string();
    let text = base.replacen("\"branch\":", "\"branch\":\"x\",\"branch\":", 1);
    assert_ne!(text, base);
    let (fast_first, walk_only) = parse_both_ways(text.as_bytes(), "4.0", Tz::UTC);
    let problems = problem_texts(&fast_first);
    assert_eq!(
        problems,
        vec!["pipeline.build-cause[0].material.git-configuration.branch: duplicate key"]
    );
    assert_eq!(fast_first, walk_only);
}

#[test]
fn duplicate_unknown_material_key_is_rejected() {
    let base = fixture("stage-status/api-4.0-passed.json").to_string();
    let text = base.replacen("\"type\":", "\"extra\":{\"a\":1},\"extra\":2,\"type\":", 1);
    let (fast_first, walk_only) = parse_both_ways(text.as_bytes(), "4.0", Tz::UTC);
    let problems = problem_texts(&fast_first);
    assert_eq!(
        problems,
        vec!["pipeline.build-cause[0].material.extra: duplicate key"]
    );
    assert_eq!(fast_first, walk_only);

    let nested_repeat = base.replacen("\"type\":", "\"extra\":{\"a\":1,\"a\":1},\"type\":", 1);
    let (fast_first, walk_only) = parse_both_ways(nested_repeat.as_bytes(), "4.0", Tz::UTC);
    assert_eq!(
        fast_first.as_ref().unwrap_err()[0].to_string(),
        "pipeline.build-cause[0].material.extra.a: duplicate key"
    );
    assert_eq!(fast_first, walk_only);
}

#[test]
fn empty_names_are_rejected() {
    let mut body = flat_example();
    body["pipeline-name"] = json!("");
    body["stage-name"] = json!("");
    assert_eq!(
        parse(&body, "4.0").unwrap_err(),
        vec![
            "pipeline-name: expected a non-empty string, found \"\"",
            "stage-name: expected a non-empty string, found \"\"",
        ]
    );

    let mut body = fixture("stage-status/api-4.0-passed.json");
    body["pipeline"]["name"] = json!("");
    body["pipeline"]["stage"]["name"] = json!("");
    body["pipeline"]["stage"]["jobs"][1]["name"] = json!("");
    assert_eq!(
        parse(&body, "4.0").unwrap_err(),
        vec![
            "pipeline.name: expected a non-empty string, found \"\"",
            "pipeline.stage.name: expected a non-empty string, found \"\"",
            "pipeline.stage.jobs[1].name: expected a non-empty string, found \"\"",
        ]
    );
}

#[test]
fn empty_name_is_rejected_by_both_paths() {
    let zone = Tz::UTC;
    for (name, pointer) in [
        ("flat-example.json", "/pipeline-name"),
        ("flat-example.json", "/stage-name"),
        ("api-4.0-passed.json", "/pipeline/name"),
        ("api-4.0-passed.json", "/pipeline/stage/name"),
        ("api-4.0-passed.json", "/pipeline/stage/jobs/0/name"),
    ] {
        let mut body = fixture(&format!("stage-status/{name}"));
        *body.pointer_mut(pointer).unwrap() = json!("");
        let text = body.to_string();
        let (fast_first, walk_only) = parse_both_ways(text.as_bytes(), "4.0", zone);
        assert!(fast_first.is_err(), "{name} {pointer}");
        assert_eq!(fast_first, walk_only, "{name} {pointer}");
    }
}

#[test]
fn impossible_dates_are_named() {
    let mut body = fixture("stage-status/api-4.0-passed.json");
    body["pipeline"]["stage"]["create-time"] = json!("2026-02-29T17:21:03.412+0000");
    body["pipeline"]["stage"]["jobs"][0]["schedule-time"] = json!("2026-03-23T24:00:00.000+0000");
    assert_eq!(
        parse(&body, "4.0").unwrap_err(),
        vec![
            "pipeline.stage.create-time: 2026-02-29 is not a date in the calendar, \
             found \"2026-02-29T17:21:03.412+0000\"",
            "pipeline.stage.jobs[0].schedule-time: 24:00:00 is not a time of day, \
             found \"2026-03-23T24:00:00.000+0000\"",
        ]
    );

    let mut body = flat_example();
    body["create-time"] = json!("2011-04-31T19:43:37.100Z");
    assert_eq!(
        parse(&body, "4.0").unwrap_err(),
        vec!["create-time: 2011-04-31 is not a date in the calendar, found \"2011-04-31T19:43:37.100Z\""]
    );
}

#[test]
fn byte_order_mark_is_named() {
    let mut body = vec![0xef, 0xbb, 0xbf];
    body.extend(flat_example().to_string().into_bytes());
    assert_eq!(
        problems_of(&body),
        vec![
            "body: starts with a byte-order mark (U+FEFF), which GoCD request bodies do not \
              carry, expected JSON without it"
        ]
    );
}

#[test]
fn unknown_keys_are_quoted_and_shortened() {
    let mut body = flat_example();
    let object = body.as_object_mut().unwrap();
    object.insert("line\nbreak".to_string(), json!(1));
    object.insert("\u{1b}[31mred".to_string(), json!(1));
    object.insert("right\u{202e}left".to_string(), json!(1));
    object.insert("k".repeat(3_000_000), json!(1));
    object.insert("plain_name-2".to_string(), json!(1));

    let allowed = FLAT_FIELDS.join(", ");
    let mut paths: Vec<String> = parse(&body, "4.0")
        .unwrap_err()
        .iter()
        .map(|message| {
            let (path, rest) = message.split_once(": unknown field").unwrap();
            assert_eq!(
                rest,
                format!(", the flat stage-status body allows only {allowed}")
            );
            path.to_string()
        })
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        vec![
            "\"\\u001b[31mred\"".to_string(),
            format!("\"{}\"... (3000000 characters)", "k".repeat(60)),
            "\"line\\nbreak\"".to_string(),
            "\"right\\u202eleft\"".to_string(),
            "plain_name-2".to_string(),
        ]
    );
}

#[test]
fn thousands_of_unknown_keys_give_short_answer() {
    let mut body = flat_example();
    let object = body.as_object_mut().unwrap();
    for index in 0..5000 {
        object.insert(format!("extra-{index:04}"), json!(index));
    }
    let bytes = body.to_string().into_bytes();
    let problems = parse_stage_status(Some(&bytes), "4.0", Tz::UTC).unwrap_err();
    assert_eq!(problems.len(), 5000);

    let answer: Value =
        serde_json::from_str(&super::super::answer::failure_for(&problems)).unwrap();
    let listed = answer["messages"].as_array().unwrap();
    assert_eq!(listed.len(), super::super::answer::MAX_MESSAGES + 1);
    assert!(
        listed[0]
            .as_str()
            .unwrap()
            .starts_with("extra-0000: unknown field"),
        "{}",
        listed[0]
    );
    assert_eq!(listed.last().unwrap(), "and 4980 more problems");
}
