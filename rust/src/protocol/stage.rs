//! Parsing of `stage-status` bodies into [`StageEvent`].
//!
//! Two forms exist, distinguished by shape. A body with a `pipeline` key is the nested form that
//! released GoCD servers send. Any other object is the flat form of the original design, which is
//! validated exactly: every field is required and no other field is allowed.
//!
//! In both forms a key repeated in any object of the body is a problem, and names (pipeline,
//! stage and job) must not be empty.

use std::borrow::Cow;

use chrono_tz::Tz;

use super::body::{decode_text, parse_object};
use super::fields::{Fields, Presence};
use super::stage_typed;
use super::time::DateFormat;
use super::{ApiVersion, Problem};
use crate::event::{
    EventSource, Job, MaterialRevision, Modification, PipelineRun, StageEvent, StageResult,
    StageRun, StageState,
};

/// Fields of the flat body, all required, in the order messages list them.
pub const FLAT_FIELDS: [&str; 7] = [
    "pipeline-name",
    "pipeline-counter",
    "stage-name",
    "stage-counter",
    "stage-state",
    "stage-result",
    "create-time",
];

/// Parses a `stage-status` body sent with `api_version`.
///
/// `legacy_zone` is the zone in which API 1.0 and 2.0 dates are local times. On failure, returns
/// every problem found. Valid bodies take a typed fast path. Any other body is decoded to a
/// `Value` and walked field by field, so that every problem gets listed.
pub fn parse_stage_status<'a>(
    body: Option<&'a [u8]>,
    api_version: &str,
    legacy_zone: Tz,
) -> Result<StageEvent<'a>, Vec<Problem>> {
    let text = decode_text(body).map_err(|problem| vec![problem])?;
    // Both fast parsers reject the other form, so the order only decides how much work a body
    // of the second form wastes before it parses.
    let fast = if starts_with_pipeline_key(text) {
        stage_typed::parse_nested(text, api_version, legacy_zone)
            .or_else(|| stage_typed::parse_flat(text))
    } else {
        stage_typed::parse_flat(text)
            .or_else(|| stage_typed::parse_nested(text, api_version, legacy_zone))
    };
    if let Some(event) = fast {
        return Ok(event);
    }
    parse_value_walk(text, api_version, legacy_zone)
}

/// Returns true when the first key of the body is `pipeline`, as in the nested form GoCD sends.
fn starts_with_pipeline_key(text: &str) -> bool {
    text.trim_start()
        .strip_prefix('{')
        .is_some_and(|rest| rest.trim_start().starts_with("\"pipeline\""))
}

/// Parses body text through a `Value`, reading each field and recording every problem.
fn parse_value_walk(
    text: &str,
    api_version: &str,
    legacy_zone: Tz,
) -> Result<StageEvent<'static>, Vec<Problem>> {
    let decoded = parse_object(text).map_err(|problem| vec![problem])?;
    let root = Fields::new(&decoded.object, "");
    // Repeated keys come first, and the fields are read with the last value of each.
    let mut problems = decoded.duplicate_keys;
    if decoded.object.contains_key("pipeline") {
        match ApiVersion::parse_or_problem(api_version, &ApiVersion::ALL) {
            Ok(version) => parse_nested(&root, version, legacy_zone, problems),
            Err(problem) => {
                problems.push(problem);
                Err(problems)
            }
        }
    } else {
        parse_flat(&root, problems)
    }
}

/// Reads the flat form, adding to the `problems` found while decoding.
fn parse_flat(
    root: &Fields,
    mut problems: Vec<Problem>,
) -> Result<StageEvent<'static>, Vec<Problem>> {
    let pipeline_name = root.name("pipeline-name", &mut problems);
    let pipeline_counter = root
        .integer("pipeline-counter", 1, Presence::Required, &mut problems)
        .flatten();
    let stage_name = root.name("stage-name", &mut problems);
    let stage_counter = root.counter_string("stage-counter", &mut problems);
    let state = root.one_of::<StageState>("stage-state", &mut problems);
    let result = root.one_of::<StageResult>("stage-result", &mut problems);
    let create_time = root.date("create-time", DateFormat::UtcZ, &mut problems);

    for key in root.keys() {
        if !FLAT_FIELDS.contains(&key.as_str()) {
            problems.push(Problem::new(
                root.path_of(key),
                format!(
                    "unknown field, the flat stage-status body allows only {}",
                    FLAT_FIELDS.join(", ")
                ),
            ));
        }
    }

    let (
        Some(pipeline_name),
        Some(pipeline_counter),
        Some(stage_name),
        Some(stage_counter),
        Some(state),
        Some(result),
        Some(create_time),
    ) = (
        pipeline_name,
        pipeline_counter,
        stage_name,
        stage_counter,
        state,
        result,
        create_time,
    )
    else {
        return Err(problems);
    };
    if !problems.is_empty() {
        return Err(problems);
    }

    Ok(StageEvent {
        pipeline: PipelineRun {
            name: pipeline_name.into(),
            counter: pipeline_counter,
            label: None,
            group: None,
        },
        stage: StageRun {
            name: stage_name.into(),
            counter: stage_counter,
            state,
            result,
            approval_type: None,
            approved_by: None,
            previous_stage_name: None,
            previous_stage_counter: None,
            create_time: Some(create_time),
            last_transition_time: None,
        },
        jobs: Vec::new(),
        build_cause: Vec::new(),
        source: EventSource::Flat,
    })
}

/// Reads of the nested form share the API version and the date format it implies.
struct Nested {
    version: ApiVersion,
    dates: DateFormat,
}

/// Reads the nested form, adding to the `problems` found while decoding.
fn parse_nested(
    root: &Fields,
    version: ApiVersion,
    legacy_zone: Tz,
    mut problems: Vec<Problem>,
) -> Result<StageEvent<'static>, Vec<Problem>> {
    let dates = if version >= ApiVersion::V3 {
        DateFormat::Offset
    } else {
        DateFormat::LegacyLocal(legacy_zone)
    };
    let nested = Nested { version, dates };

    let Some(pipeline) = root.object("pipeline", &mut problems) else {
        return Err(problems);
    };
    let name = pipeline.name("name", &mut problems);
    let counter = pipeline.counter_string("counter", &mut problems);
    let label = pipeline.nullable_string(
        "label",
        Presence::required_if(version >= ApiVersion::V2),
        &mut problems,
    );
    let group = pipeline.nullable_string("group", Presence::Required, &mut problems);
    let build_cause = pipeline
        .objects("build-cause", &mut problems)
        .and_then(|entries| {
            collect_all(
                entries
                    .iter()
                    .map(|entry| nested.material_revision(entry, &mut problems)),
            )
        });
    let stage = pipeline.object("stage", &mut problems);
    let stage_and_jobs = stage.and_then(|stage| nested.stage(&stage, &mut problems));

    let (
        Some(name),
        Some(counter),
        Some(label),
        Some(group),
        Some(build_cause),
        Some((stage, jobs)),
    ) = (name, counter, label, group, build_cause, stage_and_jobs)
    else {
        return Err(problems);
    };
    if !problems.is_empty() {
        return Err(problems);
    }

    Ok(StageEvent {
        pipeline: PipelineRun {
            name: name.into(),
            counter,
            label: label.map(Cow::Owned),
            group: group.map(Cow::Owned),
        },
        stage,
        jobs,
        build_cause,
        source: EventSource::Nested {
            api_version: Cow::Borrowed(version.as_str()),
        },
    })
}

impl Nested {
    fn stage(
        &self,
        stage: &Fields,
        problems: &mut Vec<Problem>,
    ) -> Option<(StageRun<'static>, Vec<Job<'static>>)> {
        let from_v4 = Presence::required_if(self.version >= ApiVersion::V4);
        let name = stage.name("name", problems);
        let counter = stage.counter_string("counter", problems);
        let approval_type = stage.nullable_string("approval-type", Presence::Required, problems);
        let approved_by = stage.nullable_string("approved-by", Presence::Required, problems);
        let previous_stage_name = stage.nullable_string("previous-stage-name", from_v4, problems);
        // GoCD sends 0 when the stage has no upstream stage in the pipeline run.
        let previous_stage_counter = stage
            .integer("previous-stage-counter", 0, from_v4, problems)
            .map(|counter| counter.filter(|counter| *counter > 0));
        let state = stage.one_of::<StageState>("state", problems);
        let result = stage.one_of::<StageResult>("result", problems);
        let create_time =
            stage.optional_date("create-time", self.dates, Presence::Required, problems);
        let last_transition_time = stage.optional_date(
            "last-transition-time",
            self.dates,
            Presence::Required,
            problems,
        );
        let jobs = stage
            .objects("jobs", problems)
            .and_then(|jobs| collect_all(jobs.iter().map(|job| self.job(job, problems))));

        Some((
            StageRun {
                name: name?.into(),
                counter: counter?,
                state: state?,
                result: result?,
                approval_type: approval_type?.map(Cow::Owned),
                approved_by: approved_by?.map(Cow::Owned),
                previous_stage_name: previous_stage_name?.map(Cow::Owned),
                previous_stage_counter: previous_stage_counter?,
                create_time: create_time?,
                last_transition_time: last_transition_time?,
            },
            jobs?,
        ))
    }

    fn job(&self, job: &Fields, problems: &mut Vec<Problem>) -> Option<Job<'static>> {
        let name = job.name("name", problems);
        let schedule_time =
            job.optional_date("schedule-time", self.dates, Presence::Required, problems);
        let assign_time_presence = Presence::required_if(self.version >= ApiVersion::V2);
        let assign_time =
            job.optional_date("assign-time", self.dates, assign_time_presence, problems);
        let complete_time =
            job.optional_date("complete-time", self.dates, Presence::Required, problems);
        let state = job.string("state", problems);
        let result = job.one_of::<StageResult>("result", problems);
        let agent_uuid = job.nullable_string("agent-uuid", Presence::Required, problems);

        Some(Job {
            name: name?.into(),
            state: state?.into(),
            result: result?,
            schedule_time: schedule_time?,
            assign_time: assign_time?,
            complete_time: complete_time?,
            agent_uuid: agent_uuid?.map(Cow::Owned),
        })
    }

    fn material_revision(
        &self,
        entry: &Fields,
        problems: &mut Vec<Problem>,
    ) -> Option<MaterialRevision<'static>> {
        let material = entry.object("material", problems);
        let material_fields = material.and_then(|material| self.material(&material, problems));
        let changed = entry.boolean("changed", problems);
        let modifications = entry
            .objects("modifications", problems)
            .and_then(|modifications| {
                collect_all(
                    modifications
                        .iter()
                        .map(|entry| self.modification(entry, problems)),
                )
            });

        let (material_type, configuration, plugin_id, fingerprint) = material_fields?;
        Some(MaterialRevision {
            material_type: material_type.into(),
            configuration,
            plugin_id: plugin_id.map(Cow::Owned),
            fingerprint: fingerprint.map(Cow::Owned),
            changed: changed?,
            modifications: modifications?,
        })
    }

    /// Reads the material's type, its `<type>-configuration` object, plugin id and fingerprint.
    #[allow(clippy::type_complexity)]
    fn material(
        &self,
        material: &Fields,
        problems: &mut Vec<Problem>,
    ) -> Option<(
        String,
        serde_json::Map<String, serde_json::Value>,
        Option<String>,
        Option<String>,
    )> {
        let material_type = material.string("type", problems);
        let configuration = match &material_type {
            Some(material_type) => {
                material.nullable_object(&format!("{material_type}-configuration"), problems)
            }
            None => None,
        };
        let plugin_id = material.nullable_string("plugin-id", Presence::Optional, problems);
        let fingerprint = if self.version >= ApiVersion::V4 {
            material.string("fingerprint", problems).map(Some)
        } else {
            material.nullable_string("fingerprint", Presence::Optional, problems)
        };
        Some((material_type?, configuration?, plugin_id?, fingerprint?))
    }

    fn modification(
        &self,
        modification: &Fields,
        problems: &mut Vec<Problem>,
    ) -> Option<Modification<'static>> {
        let revision = modification.string("revision", problems);
        let modified_time =
            modification.optional_date("modified-time", self.dates, Presence::Required, problems);
        let data = modification
            .nullable_object("data", problems)
            .and_then(|data| {
                let fields = Fields::new(&data, &modification.path_of("data"));
                let values: Vec<(String, Option<Option<String>>)> = data
                    .keys()
                    .map(|key| {
                        (
                            key.clone(),
                            fields.nullable_string(key, Presence::Required, problems),
                        )
                    })
                    .collect();
                values
                    .into_iter()
                    .map(|(key, value)| value.map(|value| (Cow::Owned(key), value.map(Cow::Owned))))
                    .collect::<Option<_>>()
            });

        Some(Modification {
            revision: revision?.into(),
            modified_time: modified_time?,
            data: data?,
        })
    }
}

/// Collects parsed elements, consuming the whole iterator so that every element gets checked.
fn collect_all<T>(elements: impl Iterator<Item = Option<T>>) -> Option<Vec<T>> {
    let parsed: Vec<Option<T>> = elements.collect();
    parsed.into_iter().collect()
}

#[cfg(test)]
#[path = "stage_tests.rs"]
mod tests;
