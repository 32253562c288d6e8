//! Property tests of `Plugin::handle`: arbitrary bytes and JSON never make it panic and always get
//! a well-formed response, valid bodies built from random field values are accepted and reach the
//! event log unchanged, and repeated requests get identical responses.
//!
//! Chat message templates: parsing never panics and every problem points at a character of the
//! text, parsed templates write back their text, and rendering replaces every placeholder.
//!
//! Also checks that the committed benchmark bodies match their generator and are accepted.

#[path = "../benches/bodies.rs"]
mod bodies;
mod delivery_support;

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use herald::delivery::payload;
use herald::delivery::placeholders::{self, stage_value, STAGE_PLACEHOLDERS};
use herald::delivery::rules::Glob;
use herald::delivery::template::{Segment, Template, MAX_TEMPLATE_CHARS};
use herald::delivery::EventKind;
use herald::event::{StageEvent, StageResult, StageState};
use herald::plugin::{Plugin, Response};
use proptest::prelude::*;
use serde_json::{json, Value};

const STAGE_STATES: [&str; 6] = [
    "Building",
    "Failing",
    "Passed",
    "Failed",
    "Cancelled",
    "Unknown",
];
const STAGE_RESULTS: [&str; 4] = ["Passed", "Failed", "Cancelled", "Unknown"];
const API_VERSIONS: [&str; 4] = ["1.0", "2.0", "3.0", "4.0"];

/// Requests whose body the plugin reads, and the one that changes its settings. The settings
/// request only ever gets keys without underscores here, so it never sets `event_log_path`.
const BODY_REQUESTS: [&str; 4] = [
    "stage-status",
    "agent-status",
    "go.plugin-settings.validate-configuration",
    "go.plugin-settings.plugin-settings-changed",
];

// ---------------------------------------------------------------------------------------------
// Answer checks

/// Checks that `response` is a well-formed response to `request_name`, as GoCD reads it.
fn assert_well_formed(request_name: &str, response: &Response) {
    match request_name {
        "stage-status" | "agent-status" => {
            assert_eq!(response.code, 200, "{request_name}: {response:?}");
            assert_status_body(&response.body);
        }
        "go.plugin-settings.validate-configuration" => match response.code {
            200 => assert_validation_list(&response.body),
            400 => assert_status_body(&response.body),
            other => panic!("validate-configuration returned code {other}: {response:?}"),
        },
        "go.plugin-settings.plugin-settings-changed" => match response.code {
            200 => assert_eq!(response.body, "{}"),
            400 => assert_status_body(&response.body),
            other => panic!("plugin-settings-changed returned code {other}: {response:?}"),
        },
        _ => {
            assert_eq!(
                response.code, 400,
                "unknown request {request_name:?}: {response:?}"
            );
            assert_status_body(&response.body);
        }
    }
}

/// Checks `{"status": "success"}` or `{"status": "failure", "messages": [distinct strings]}`.
fn assert_status_body(body: &str) {
    let response_json: Value = serde_json::from_str(body).expect("the response is JSON");
    let object = response_json
        .as_object()
        .expect("the response is an object");

    match object.get("status").and_then(Value::as_str) {
        Some("success") => assert_eq!(object.len(), 1, "success carries only status: {body}"),
        Some("failure") => {
            assert_eq!(
                object.len(),
                2,
                "failure carries status and messages: {body}"
            );
            let messages = object["messages"].as_array().expect("messages is an array");
            assert!(!messages.is_empty(), "failure lists a message: {body}");

            let mut seen = HashSet::new();
            for message in messages {
                let text = message.as_str().expect("each message is a string");
                assert!(!text.trim().is_empty(), "message is blank: {body}");
                assert!(seen.insert(text), "message {text:?} repeated: {body}");
            }
        }
        _ => panic!("status is neither success nor failure: {body}"),
    }
}

fn assert_validation_list(body: &str) {
    let response_json: Value = serde_json::from_str(body).expect("the response is JSON");
    for problem in response_json
        .as_array()
        .expect("a 200 validation response is a list")
    {
        assert!(problem["key"].is_string(), "key is a string: {problem}");
        assert!(
            problem["message"].is_string(),
            "message is a string: {problem}"
        );
    }
}

fn status_of(response: &Response) -> String {
    let response_json: Value = serde_json::from_str(&response.body).expect("the response is JSON");
    response_json["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// Strategies

fn request_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(BODY_REQUESTS.to_vec()).prop_map(String::from),
        1 => "\\PC{0,40}",
    ]
}

fn api_version() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(API_VERSIONS.to_vec()).prop_map(String::from),
        1 => "\\PC{0,8}",
    ]
}

/// Object keys: GoCD's own field names (so parsers get past the first checks) and random ones.
/// None contains an underscore, so no value can become the `event_log_path` setting.
fn json_key() -> impl Strategy<Value = String> {
    let known = [
        "pipeline",
        "name",
        "counter",
        "label",
        "group",
        "build-cause",
        "material",
        "type",
        "git-configuration",
        "fingerprint",
        "changed",
        "modifications",
        "revision",
        "modified-time",
        "data",
        "stage",
        "approval-type",
        "approved-by",
        "previous-stage-name",
        "previous-stage-counter",
        "state",
        "result",
        "create-time",
        "last-transition-time",
        "jobs",
        "schedule-time",
        "assign-time",
        "complete-time",
        "agent-uuid",
        "pipeline-name",
        "pipeline-counter",
        "stage-name",
        "stage-counter",
        "stage-state",
        "stage-result",
        "plugin-settings",
        "value",
        "uuid",
    ];
    prop_oneof![
        3 => proptest::sample::select(known.to_vec()).prop_map(String::from),
        1 => "[a-z-]{0,12}",
    ]
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |number| number.is_finite())
            .prop_map(Value::from),
        "\\PC{0,24}".prop_map(Value::from),
        proptest::sample::select(STAGE_STATES.to_vec()).prop_map(Value::from),
        gocd_time_text().prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(6, 96, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(json_key(), inner, 0..8)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Instants between 2000 and 2100, to the millisecond, as GoCD's dates carry them.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (946_684_800_000i64..4_102_444_800_000)
        .prop_map(|millis| Utc.timestamp_millis_opt(millis).single().expect("in range"))
}

fn gocd_time_text() -> impl Strategy<Value = String> {
    instant().prop_map(|time| time.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string())
}

/// Any text without control characters; names GoCD sends are narrower, so this is a superset.
fn text() -> impl Strategy<Value = String> {
    "\\PC{1,30}"
}

fn optional_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(text())
}

fn counter() -> impl Strategy<Value = u64> {
    prop_oneof![1u64..1_000, 1u64..=i64::MAX as u64]
}

// ---------------------------------------------------------------------------------------------
// No panic, well-formed responses, identical responses

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_get_valid_response(
        request in request_name(),
        version in api_version(),
        body in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..512)),
    ) {
        let plugin = Plugin::new();
        let response = plugin.handle(&request, &version, body.as_deref());
        assert_well_formed(&request, &response);
    }

    #[test]
    fn arbitrary_json_gets_stable_response(
        request in request_name(),
        version in api_version(),
        value in json_value(),
    ) {
        let body = serde_json::to_vec(&value).expect("serializable");
        let plugin = Plugin::new();

        let first = plugin.handle(&request, &version, Some(&body));
        assert_well_formed(&request, &first);

        let again = plugin.handle(&request, &version, Some(&body));
        prop_assert_eq!(&first, &again);
        let other_plugin = Plugin::new().handle(&request, &version, Some(&body));
        prop_assert_eq!(&first, &other_plugin);
    }

    #[test]
    fn mutated_body_gets_stable_response(
        scale in 1usize..6,
        version in proptest::sample::select(API_VERSIONS.to_vec()),
        path_choice in any::<proptest::sample::Index>(),
        replacement in json_value(),
    ) {
        let mut body = bodies::stage_status_body(scale);
        let paths = leaf_and_branch_paths(&body);
        let path = path_choice.get(&paths).clone();
        replace_at(&mut body, &path, replacement);
        let bytes = serde_json::to_vec(&body).expect("serializable");

        let plugin = Plugin::new();
        let first = plugin.handle("stage-status", version, Some(&bytes));
        assert_well_formed("stage-status", &first);
        prop_assert_eq!(first, plugin.handle("stage-status", version, Some(&bytes)));
    }

    #[test]
    fn truncated_body_is_rejected(scale in 1usize..6, cut in any::<proptest::sample::Index>()) {
        let body = serde_json::to_vec(&bodies::stage_status_body(scale)).expect("serializable");
        let truncated = &body[..cut.index(body.len())];

        let response = Plugin::new().handle("stage-status", "4.0", Some(truncated));
        assert_well_formed("stage-status", &response);
        prop_assert_eq!(status_of(&response), "failure");
    }
}

/// Lists the paths (object keys and array indexes) of every value below the root.
fn leaf_and_branch_paths(root: &Value) -> Vec<Vec<PathStep>> {
    let mut paths = Vec::new();
    let mut stack = vec![(Vec::new(), root)];
    while let Some((path, value)) = stack.pop() {
        match value {
            Value::Object(object) => {
                for (key, child) in object {
                    let mut child_path = path.clone();
                    child_path.push(PathStep::Key(key.clone()));
                    stack.push((child_path, child));
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    let mut child_path = path.clone();
                    child_path.push(PathStep::Index(index));
                    stack.push((child_path, child));
                }
            }
            _ => {}
        }
        if !path.is_empty() {
            paths.push(path);
        }
    }
    paths
}

#[derive(Clone, Debug)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn replace_at(root: &mut Value, path: &[PathStep], replacement: Value) {
    let mut target = root;
    for step in path {
        target = match step {
            PathStep::Key(key) => &mut target[key.as_str()],
            PathStep::Index(index) => &mut target[*index],
        };
    }
    *target = replacement;
}

// ---------------------------------------------------------------------------------------------
// Valid bodies are accepted and round-trip into the event log

/// A plugin whose event log is a fresh file in a private temporary folder.
struct LoggingPlugin {
    plugin: Plugin,
    log_path: PathBuf,
    _folder: TempFolder,
}

impl LoggingPlugin {
    fn new() -> LoggingPlugin {
        let folder = TempFolder::new();
        let log_path = folder.path().join("events.log");
        let plugin = Plugin::new();

        let settings = json!({ "event_log_path": log_path.to_str().expect("UTF-8 path") });
        let response = plugin.handle(
            "go.plugin-settings.plugin-settings-changed",
            "4.0",
            Some(settings.to_string().as_bytes()),
        );
        assert_eq!(response.code, 200, "settings applied: {response:?}");

        LoggingPlugin {
            plugin,
            log_path,
            _folder: folder,
        }
    }

    /// Returns the `event` of the last line in the event log, typed.
    fn last_stage_event(&self) -> StageEvent<'static> {
        let text = fs::read_to_string(&self.log_path).expect("the event log exists");
        let line = text.lines().last().expect("the event log has a line");
        let line: Value = serde_json::from_str(line).expect("each line is JSON");
        assert_eq!(line["kind"], "stage-status", "line kind: {line}");
        serde_json::from_value(line["event"].clone()).expect("the event is a StageEvent")
    }
}

struct TempFolder(PathBuf);

impl TempFolder {
    fn new() -> TempFolder {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "herald-properties-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&path).expect("temporary folder created");
        TempFolder(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn stage_state(name: &str) -> StageState {
    serde_json::from_value(json!(name)).expect("a stage state name")
}

fn stage_result(name: &str) -> StageResult {
    serde_json::from_value(json!(name)).expect("a stage result name")
}

#[derive(Clone, Debug)]
struct FlatFields {
    pipeline_name: String,
    pipeline_counter: u64,
    stage_name: String,
    stage_counter: u64,
    state: &'static str,
    result: &'static str,
    create_time: DateTime<Utc>,
}

fn flat_fields() -> impl Strategy<Value = FlatFields> {
    (
        text(),
        counter(),
        text(),
        counter(),
        proptest::sample::select(STAGE_STATES.to_vec()),
        proptest::sample::select(STAGE_RESULTS.to_vec()),
        instant(),
    )
        .prop_map(
            |(
                pipeline_name,
                pipeline_counter,
                stage_name,
                stage_counter,
                state,
                result,
                create_time,
            )| FlatFields {
                pipeline_name,
                pipeline_counter,
                stage_name,
                stage_counter,
                state,
                result,
                create_time,
            },
        )
}

#[derive(Clone, Debug)]
struct JobFields {
    name: String,
    state: &'static str,
    result: &'static str,
    schedule_time: DateTime<Utc>,
    assign_time: Option<DateTime<Utc>>,
    complete_time: Option<DateTime<Utc>>,
    agent_uuid: Option<String>,
}

fn job_fields() -> impl Strategy<Value = JobFields> {
    (
        text(),
        proptest::sample::select(vec!["Scheduled", "Assigned", "Building", "Completed"]),
        proptest::sample::select(STAGE_RESULTS.to_vec()),
        instant(),
        proptest::option::of(instant()),
        proptest::option::of(instant()),
        optional_text(),
    )
        .prop_map(
            |(name, state, result, schedule_time, assign_time, complete_time, agent_uuid)| {
                JobFields {
                    name,
                    state,
                    result,
                    schedule_time,
                    assign_time,
                    complete_time,
                    agent_uuid,
                }
            },
        )
}

#[derive(Clone, Debug)]
struct ModificationFields {
    revision: String,
    modified_time: Option<DateTime<Utc>>,
    data: BTreeMap<String, Option<String>>,
}

#[derive(Clone, Debug)]
struct MaterialFields {
    fingerprint: String,
    url: String,
    changed: bool,
    modifications: Vec<ModificationFields>,
}

fn material_fields() -> impl Strategy<Value = MaterialFields> {
    let modification = (
        text(),
        proptest::option::of(instant()),
        proptest::collection::btree_map("[A-Z_]{1,12}", optional_text(), 0..4),
    )
        .prop_map(|(revision, modified_time, data)| ModificationFields {
            revision,
            modified_time,
            data,
        });
    (
        "[0-9a-f]{64}",
        text(),
        any::<bool>(),
        proptest::collection::vec(modification, 0..4),
    )
        .prop_map(
            |(fingerprint, url, changed, modifications)| MaterialFields {
                fingerprint,
                url,
                changed,
                modifications,
            },
        )
}

#[derive(Clone, Debug)]
struct NestedFields {
    pipeline_name: String,
    pipeline_counter: u64,
    label: Option<String>,
    group: Option<String>,
    stage_name: String,
    stage_counter: u64,
    approval_type: &'static str,
    approved_by: Option<String>,
    previous_stage: Option<(String, u64)>,
    state: &'static str,
    result: &'static str,
    create_time: DateTime<Utc>,
    last_transition_time: Option<DateTime<Utc>>,
    jobs: Vec<JobFields>,
    materials: Vec<MaterialFields>,
}

fn nested_fields() -> impl Strategy<Value = NestedFields> {
    let pipeline = (text(), counter(), optional_text(), optional_text());
    let stage = (
        text(),
        counter(),
        proptest::sample::select(vec!["success", "manual"]),
        optional_text(),
        proptest::option::of((text(), counter())),
        proptest::sample::select(STAGE_STATES.to_vec()),
        proptest::sample::select(STAGE_RESULTS.to_vec()),
        instant(),
        proptest::option::of(instant()),
    );
    let children = (
        proptest::collection::vec(job_fields(), 0..5),
        proptest::collection::vec(material_fields(), 0..4),
    );
    (pipeline, stage, children).prop_map(
        |(
            (pipeline_name, pipeline_counter, label, group),
            (
                stage_name,
                stage_counter,
                approval_type,
                approved_by,
                previous_stage,
                state,
                result,
                create_time,
                last_transition_time,
            ),
            (jobs, materials),
        )| NestedFields {
            pipeline_name,
            pipeline_counter,
            label,
            group,
            stage_name,
            stage_counter,
            approval_type,
            approved_by,
            previous_stage,
            state,
            result,
            create_time,
            last_transition_time,
            jobs,
            materials,
        },
    )
}

fn gocd_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

fn optional_gocd_time(time: Option<DateTime<Utc>>) -> String {
    time.map(gocd_time).unwrap_or_default()
}

/// Builds an API 4.0 body from the fields, with nulls and `""` dates where GoCD sends them.
fn nested_body(fields: &NestedFields) -> Value {
    let jobs: Vec<Value> = fields
        .jobs
        .iter()
        .map(|job| {
            json!({
                "name": job.name,
                "schedule-time": gocd_time(job.schedule_time),
                "assign-time": optional_gocd_time(job.assign_time),
                "complete-time": optional_gocd_time(job.complete_time),
                "state": job.state,
                "result": job.result,
                "agent-uuid": job.agent_uuid,
            })
        })
        .collect();
    let build_cause: Vec<Value> = fields
        .materials
        .iter()
        .map(|material| {
            let modifications: Vec<Value> = material
                .modifications
                .iter()
                .map(|modification| {
                    json!({
                        "revision": modification.revision,
                        "modified-time": optional_gocd_time(modification.modified_time),
                        "data": modification.data,
                    })
                })
                .collect();
            json!({
                "material": {
                    "type": "git",
                    "git-configuration": { "url": material.url, "branch": "main", "shallow-clone": false },
                    "fingerprint": material.fingerprint,
                },
                "changed": material.changed,
                "modifications": modifications,
            })
        })
        .collect();
    let (previous_name, previous_counter) = match &fields.previous_stage {
        Some((name, counter)) => (Some(name.clone()), *counter),
        None => (None, 0),
    };

    json!({
        "pipeline": {
            "name": fields.pipeline_name,
            "counter": fields.pipeline_counter.to_string(),
            "label": fields.label,
            "group": fields.group,
            "build-cause": build_cause,
            "stage": {
                "name": fields.stage_name,
                "counter": fields.stage_counter.to_string(),
                "approval-type": fields.approval_type,
                "approved-by": fields.approved_by,
                "previous-stage-name": previous_name,
                "previous-stage-counter": previous_counter,
                "state": fields.state,
                "result": fields.result,
                "create-time": gocd_time(fields.create_time),
                "last-transition-time": optional_gocd_time(fields.last_transition_time),
                "jobs": jobs,
            }
        }
    })
}

fn assert_nested_round_trip(fields: &NestedFields, event: &StageEvent) {
    assert_eq!(event.pipeline.name, fields.pipeline_name);
    assert_eq!(event.pipeline.counter, fields.pipeline_counter);
    assert_eq!(event.pipeline.label.as_deref(), fields.label.as_deref());
    assert_eq!(event.pipeline.group.as_deref(), fields.group.as_deref());

    assert_eq!(event.stage.name, fields.stage_name);
    assert_eq!(event.stage.counter, fields.stage_counter);
    assert_eq!(event.stage.state, stage_state(fields.state));
    assert_eq!(event.stage.result, stage_result(fields.result));
    assert_eq!(
        event.stage.approval_type.as_deref(),
        Some(fields.approval_type)
    );
    assert_eq!(
        event.stage.approved_by.as_deref(),
        fields.approved_by.as_deref()
    );
    assert_eq!(
        event.stage.previous_stage_name.as_deref(),
        fields
            .previous_stage
            .as_ref()
            .map(|(name, _)| name.as_str())
    );
    assert_eq!(
        event.stage.previous_stage_counter.unwrap_or(0),
        fields
            .previous_stage
            .as_ref()
            .map_or(0, |(_, counter)| *counter)
    );
    assert_eq!(event.stage.create_time, Some(fields.create_time));
    assert_eq!(
        event.stage.last_transition_time,
        fields.last_transition_time
    );

    assert_eq!(event.jobs.len(), fields.jobs.len());
    for (job, expected) in event.jobs.iter().zip(&fields.jobs) {
        assert_eq!(job.name, expected.name);
        assert_eq!(job.state, expected.state);
        assert_eq!(job.result, stage_result(expected.result));
        assert_eq!(job.schedule_time, Some(expected.schedule_time));
        assert_eq!(job.assign_time, expected.assign_time);
        assert_eq!(job.complete_time, expected.complete_time);
        assert_eq!(job.agent_uuid.as_deref(), expected.agent_uuid.as_deref());
    }

    assert_eq!(event.build_cause.len(), fields.materials.len());
    for (material, expected) in event.build_cause.iter().zip(&fields.materials) {
        assert_eq!(material.material_type, "git");
        assert_eq!(material.configuration["url"], json!(expected.url));
        assert_eq!(
            material.fingerprint.as_deref(),
            Some(expected.fingerprint.as_str())
        );
        assert_eq!(material.changed, expected.changed);
        assert_eq!(material.modifications.len(), expected.modifications.len());
        for (modification, expected) in material.modifications.iter().zip(&expected.modifications) {
            assert_eq!(modification.revision, expected.revision);
            assert_eq!(modification.modified_time, expected.modified_time);
            let data: BTreeMap<&str, Option<&str>> = modification
                .data
                .iter()
                .map(|(key, value)| (key.as_ref(), value.as_deref()))
                .collect();
            let expected_data: BTreeMap<&str, Option<&str>> = expected
                .data
                .iter()
                .map(|(key, value)| (key.as_str(), value.as_deref()))
                .collect();
            assert_eq!(data, expected_data);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn flat_body_round_trips(fields in flat_fields(), version in proptest::sample::select(API_VERSIONS.to_vec())) {
        let body = json!({
            "pipeline-name": fields.pipeline_name,
            "pipeline-counter": fields.pipeline_counter,
            "stage-name": fields.stage_name,
            "stage-counter": fields.stage_counter.to_string(),
            "stage-state": fields.state,
            "stage-result": fields.result,
            "create-time": fields.create_time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        });
        let logging = LoggingPlugin::new();

        let response = logging.plugin.handle("stage-status", version, Some(body.to_string().as_bytes()));
        prop_assert_eq!(&response.body, r#"{"status":"success"}"#, "body {}", body);

        let event = logging.last_stage_event();
        prop_assert_eq!(&event.pipeline.name, &fields.pipeline_name);
        prop_assert_eq!(event.pipeline.counter, fields.pipeline_counter);
        prop_assert_eq!(&event.stage.name, &fields.stage_name);
        prop_assert_eq!(event.stage.counter, fields.stage_counter);
        prop_assert_eq!(event.stage.state, stage_state(fields.state));
        prop_assert_eq!(event.stage.result, stage_result(fields.result));
        prop_assert_eq!(event.stage.create_time, Some(fields.create_time));
        prop_assert!(event.jobs.is_empty());
        prop_assert!(event.build_cause.is_empty());
    }

    #[test]
    fn nested_body_round_trips(fields in nested_fields()) {
        let body = nested_body(&fields);
        let logging = LoggingPlugin::new();

        let response = logging.plugin.handle("stage-status", "4.0", Some(body.to_string().as_bytes()));
        prop_assert_eq!(&response.body, r#"{"status":"success"}"#, "body {}", body);

        let event = logging.last_stage_event();
        assert_nested_round_trip(&fields, &event);
    }
}

// ---------------------------------------------------------------------------------------------
// Rule globs

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn glob_matches_its_own_text(text in "\\PC{0,20}") {
        prop_assert!(Glob::new(&text).matches(&text), "{:?}", text);
    }

    #[test]
    fn glob_star_matches_everything(text in "\\PC{0,20}") {
        prop_assert!(Glob::new("*").matches(&text), "{:?}", text);
    }

    #[test]
    fn glob_question_marks_match_each_char(text in "\\PC{1,20}") {
        let pattern = "?".repeat(text.chars().count());
        prop_assert!(Glob::new(&pattern).matches(&text), "{} against {:?}", pattern, text);
    }

    #[test]
    fn glob_ignores_ascii_case(text in "[ -~]{0,20}") {
        prop_assert!(Glob::new(&text.to_ascii_uppercase()).matches(&text), "{:?}", text);
    }
}

// ---------------------------------------------------------------------------------------------
// Chat message templates

/// Template text rich in braces, line breaks and placeholder names, so that every parser branch
/// is reached often.
fn template_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => "\\PC{0,6}",
        2 => proptest::sample::select(vec!["{", "}", "{{", "}}", "\n", "\r\n", "\r", "{}"])
            .prop_map(String::from),
        2 => proptest::sample::select(STAGE_PLACEHOLDERS.to_vec())
            .prop_map(|name| format!("{{{name}}}")),
        1 => "[a-z_ ]{0,10}".prop_map(|name| format!("{{{name}}}")),
    ];
    proptest::collection::vec(piece, 0..30).prop_map(|pieces| pieces.concat())
}

/// Text without braces or control characters (so without line breaks), for literal text and
/// the names in the sample events.
fn brace_free_text() -> impl Strategy<Value = String> {
    "[^{}\\p{Cc}]{1,12}"
}

/// Returns the character at a 1-based line and column, counting lines at `\n` as the parser does.
fn char_at(text: &str, line: usize, column: usize) -> Option<char> {
    // `split_inclusive` keeps each line's `\n`, because a problem can point at a line break: the
    // length limit points at the first character past it, whatever that character is.
    text.split_inclusive('\n')
        .nth(line.checked_sub(1)?)?
        .chars()
        .nth(column.checked_sub(1)?)
}

/// Writes segments back as template text: braces in text doubled, placeholders as `{name}`.
fn template_source(template: &Template) -> String {
    let mut source = String::new();
    for segment in template.segments() {
        match segment {
            Segment::Text(text) => source.push_str(&text.replace('{', "{{").replace('}', "}}")),
            Segment::Placeholder(name) => source.push_str(&format!("{{{name}}}")),
        }
    }
    source
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn template_problems_point_into_text(text in prop_oneof![template_text(), any::<String>()]) {
        let Err(errors) = Template::parse(&text, STAGE_PLACEHOLDERS) else {
            return Ok(());
        };
        prop_assert!(!errors.is_empty());
        let mut previous = (0, 0);
        for error in &errors {
            let found = char_at(&text, error.line, error.column);
            prop_assert!(found.is_some(), "{} is outside {:?}", error, text);
            if error.message.starts_with("lone }") {
                prop_assert_eq!(found, Some('}'), "{}", error);
            } else if !error.message.starts_with("the template has") {
                prop_assert_eq!(found, Some('{'), "{}", error);
            }
            prop_assert!((error.line, error.column) > previous, "{:?} not in text order", errors);
            previous = (error.line, error.column);
        }
    }

    #[test]
    fn parsed_template_writes_back_its_text(text in template_text()) {
        if let Ok(template) = Template::parse(&text, STAGE_PLACEHOLDERS) {
            prop_assert_eq!(template_source(&template), text.replace("\r\n", "\n"));
        }
    }

    #[test]
    fn doubled_braces_render_original_text(text in prop_oneof![template_text(), any::<String>()]) {
        let escaped = text.replace('{', "{{").replace('}', "}}");
        prop_assume!(escaped.chars().count() <= MAX_TEMPLATE_CHARS);
        let template = Template::parse(&escaped, STAGE_PLACEHOLDERS);
        prop_assert!(template.is_ok(), "{:?}: {:?}", escaped, template);
        let rendered = template.unwrap().render(|name| panic!("no placeholder expected, got {name}"));
        prop_assert_eq!(rendered, text.replace("\r\n", "\n"));
    }

    #[test]
    fn rendering_replaces_every_placeholder(
        pieces in proptest::collection::vec(
            prop_oneof![
                brace_free_text().prop_map(Ok),
                proptest::sample::select(STAGE_PLACEHOLDERS.to_vec()).prop_map(Err),
            ],
            0..20,
        ),
        pipeline in brace_free_text(),
        stage in brace_free_text(),
        state in proptest::sample::select(STAGE_STATES.to_vec()),
        site_url in proptest::option::of(Just("http://127.0.0.1:8153/go")),
    ) {
        // Ok is literal text, Err a placeholder name.
        let text: String = pieces
            .iter()
            .map(|piece| match piece {
                Ok(literal) => literal.clone(),
                Err(name) => format!("{{{name}}}"),
            })
            .collect();
        let event = delivery_support::stage_event(&pipeline, 4, &stage, 1, stage_state(state));
        let kinds = [EventKind::Failed, EventKind::Fixed];

        let template = Template::parse(&text, STAGE_PLACEHOLDERS);
        prop_assert!(template.is_ok(), "{:?}: {:?}", text, template);
        let template = template.unwrap();
        let rendered = template.render(|name| {
            stage_value(name, &event, &kinds, site_url).expect("a known name has a value")
        });

        let expected: String = pieces
            .iter()
            .map(|piece| match piece {
                Ok(literal) => literal.clone(),
                Err(name) => stage_value(name, &event, &kinds, site_url).unwrap(),
            })
            .collect();
        prop_assert_eq!(&rendered, &expected);
        // Neither the literal text nor the event's values have braces, so a brace in the
        // output would be a placeholder left unreplaced.
        prop_assert!(!rendered.contains(['{', '}']), "{:?}", rendered);

        let body: Value = serde_json::from_str(
            &placeholders::stage_chat_body(&template, &event, &kinds, site_url),
        ).expect("the chat body is JSON");
        if rendered.trim().is_empty() {
            // Chat services reject blank messages, so the built-in one is sent instead.
            let builtin: Value =
                serde_json::from_str(&payload::stage_chat_body(&event, &kinds, site_url)).unwrap();
            prop_assert_eq!(body, builtin);
        } else {
            prop_assert_eq!(body, json!({ "text": rendered }));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Benchmark bodies

fn bench_file(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bench")
        .join(name);
    fs::read(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

#[test]
fn bench_bodies_match_generator() {
    let flat = bench_file("flat.json");
    assert_eq!(
        flat,
        bodies::FLAT_BODY.as_bytes(),
        "flat.json differs from FLAT_BODY"
    );

    for (file_name, target_bytes) in bodies::SIZES {
        let committed: Value =
            serde_json::from_slice(&bench_file(file_name)).expect("committed body is JSON");
        let generated: Value =
            serde_json::from_str(&bodies::body_near(target_bytes)).expect("generated body is JSON");
        assert!(
            committed == generated,
            "{file_name} differs from the generator: run `cargo run --example generate-bench-bodies`"
        );
    }
}

#[test]
fn bench_bodies_are_accepted() {
    let plugin = Plugin::new();
    let cases = [
        ("1.0", "flat.json"),
        ("4.0", "api-4.0-2k.json"),
        ("4.0", "api-4.0-20k.json"),
        ("4.0", "api-4.0-200k.json"),
    ];
    for (version, file_name) in cases {
        let response = plugin.handle("stage-status", version, Some(&bench_file(file_name)));
        assert_eq!(response.code, 200, "{file_name}");
        assert_eq!(response.body, r#"{"status":"success"}"#, "{file_name}");
    }
}

#[test]
fn bench_body_sizes_are_near_targets() {
    for (file_name, target_bytes) in bodies::SIZES {
        let size = bench_file(file_name).len();
        assert!(
            size * 10 >= target_bytes * 8 && size * 10 <= target_bytes * 12,
            "{file_name} is {size} bytes, more than 20% away from {target_bytes}"
        );
    }
}

#[test]
fn bench_body_has_every_material_type() {
    let body: Value = serde_json::from_slice(&bench_file("api-4.0-20k.json")).expect("JSON");
    let types: HashSet<&str> = body["pipeline"]["build-cause"]
        .as_array()
        .expect("build-cause is an array")
        .iter()
        .map(|cause| {
            cause["material"]["type"]
                .as_str()
                .expect("type is a string")
        })
        .collect();
    for expected in [
        "git",
        "mercurial",
        "svn",
        "perforce",
        "tfs",
        "pipeline",
        "package",
        "scm",
    ] {
        assert!(
            types.contains(expected),
            "no {expected} material in {types:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Regressions: inputs that the battery found

/// Runs `request` on another thread and returns its response, or `None` when it is still blocked
/// after `HANG_LIMIT`. `unblock` runs in that case so that the blocked thread can end.
fn response_unless_blocked(
    request: impl FnOnce() -> Response + Send + 'static,
    unblock: impl FnOnce(),
) -> Option<Response> {
    // A hang detector, not a performance limit: a normal response takes milliseconds.
    const HANG_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

    let (sender, receiver) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let _ = sender.send(request());
    });
    match receiver.recv_timeout(HANG_LIMIT) {
        Ok(response) => {
            worker.join().expect("the request thread ends");
            Some(response)
        }
        Err(_) => {
            unblock();
            None
        }
    }
}

/// Creates a named pipe (FIFO) at `path` with the mkfifo tool.
fn make_fifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {} failed", path.display());
}

/// Opens the FIFO for reading and drops it, which releases a writer blocked in `open`.
fn release_fifo_writer(path: &Path) {
    use std::os::unix::fs::OpenOptionsExt;

    // O_NONBLOCK on Linux, so that opening the read end does not wait for a writer either.
    const O_NONBLOCK: i32 = 0o4000;
    let _ = fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open(path);
}

#[test]
fn event_log_fifo_validation_returns() {
    let folder = TempFolder::new();
    let fifo = folder.path().join("events.fifo");
    make_fifo(&fifo);

    let body = json!({ "plugin-settings": { "event_log_path": { "value": fifo.to_str().expect("UTF-8") } } });
    let response = response_unless_blocked(
        move || {
            Plugin::new().handle(
                "go.plugin-settings.validate-configuration",
                "4.0",
                Some(body.to_string().as_bytes()),
            )
        },
        || release_fifo_writer(&fifo),
    );

    let response =
        response.expect("validating an event log path that is a FIFO blocks the settings page");
    assert_eq!(response.code, 200, "{response:?}");
    let problems: Value = serde_json::from_str(&response.body).expect("JSON");
    assert_eq!(
        problems.as_array().map(Vec::len),
        Some(1),
        "one problem: {problems}"
    );
    assert_eq!(problems[0]["key"], "event_log_path", "{problems}");
}

#[test]
fn glob_star_before_literal_star() {
    // A `*` in the pattern first matched a literal `*` in the text and never backtracked.
    assert!(Glob::new("*").matches("*0"));
    assert!(Glob::new("deploy-*").matches("deploy-*x"));
}

#[test]
fn glob_question_mark_dotted_capital_i() {
    // `İ` (U+0130) lowercases to two chars, `i` and U+0307, so one `?` no longer matched it.
    assert!(Glob::new("?").matches("İ"));
    assert!(Glob::new("build-?").matches("build-İ"));
}

#[test]
fn event_log_fifo_append_returns() {
    let folder = TempFolder::new();
    let path = folder.path().join("events.log");
    let plugin = std::sync::Arc::new(Plugin::new());

    let settings = json!({ "event_log_path": path.to_str().expect("UTF-8") });
    let applied = plugin.handle(
        "go.plugin-settings.plugin-settings-changed",
        "4.0",
        Some(settings.to_string().as_bytes()),
    );
    assert_eq!(applied.code, 200, "{applied:?}");

    // The path passed validation as a new file; a FIFO appears there afterwards, as when a log
    // shipper reads the event log through a named pipe that it has not opened yet.
    make_fifo(&path);
    let notifying = std::sync::Arc::clone(&plugin);
    let response = response_unless_blocked(
        move || notifying.handle("stage-status", "1.0", Some(bodies::FLAT_BODY.as_bytes())),
        || release_fifo_writer(&path),
    );

    let response = response.expect("appending to an event log that is a FIFO blocks stage-status");
    assert_eq!(response.code, 200, "{response:?}");
}
