//! Fast path for `stage-status` bodies: serde deserializes the text straight into typed structs
//! that borrow dates, counters and enum names from the body, with no `Value` tree.
//!
//! The fast path only ever accepts. It returns `None` as soon as anything differs from a valid
//! body (a wrong type, a missing field, a bad date, a duplicate or unknown key), and the caller
//! then walks a `Value` to list every problem. It accepts a body only when the `Value` walk would
//! accept it too and build the same [`StageEvent`]; a unit test compares both on the fixtures.
//!
//! Unknown keys are rejected here, not ignored, for two reasons. serde skips ignored values
//! without serde_json's nesting limit of 128, which the `Value` walk enforces. And a body with
//! keys Herald does not read is rare enough to take the slow path.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::duplicate_keys::UniqueValue;
use super::fields::{parse_counter, WireEnum};
use super::time::DateFormat;
use super::ApiVersion;
use crate::event::{
    EventSource, Job, MaterialRevision, Modification, PipelineRun, StageEvent, StageResult,
    StageRun, StageState,
};

/// Parses a nested body, or returns `None` when the slow path has to decide.
pub(crate) fn parse_nested<'a>(
    text: &'a str,
    api_version: &str,
    legacy_zone: Tz,
) -> Option<StageEvent<'a>> {
    let version = ApiVersion::parse(api_version)?;
    let Object(body) = serde_json::from_str::<Object<Body>>(text).ok()?;
    let dates = if version >= ApiVersion::V3 {
        DateFormat::Offset
    } else {
        DateFormat::LegacyLocal(legacy_zone)
    };
    let reader = Reader { version, dates };
    reader.event(body.pipeline.0)
}

/// Parses a flat body, or returns `None` when the slow path has to decide.
pub(crate) fn parse_flat(text: &str) -> Option<StageEvent<'_>> {
    let Object(flat) = serde_json::from_str::<Object<FlatWire>>(text).ok()?;
    let pipeline_counter = Some(flat.pipeline_counter).filter(|counter| *counter >= 1)?;

    Some(StageEvent {
        pipeline: PipelineRun {
            name: name(flat.pipeline_name)?,
            counter: pipeline_counter,
            label: None,
            group: None,
        },
        stage: StageRun {
            name: name(flat.stage_name)?,
            counter: parse_counter(&flat.stage_counter.0)?,
            state: StageState::from_wire_name(&flat.stage_state.0)?,
            result: StageResult::from_wire_name(&flat.stage_result.0)?,
            approval_type: None,
            approved_by: None,
            previous_stage_name: None,
            previous_stage_counter: None,
            create_time: Some(DateFormat::UtcZ.parse(&flat.create_time.0).ok()?),
            last_transition_time: None,
        },
        jobs: Vec::new(),
        build_cause: Vec::new(),
        source: EventSource::Flat,
    })
}

/// A string that borrows from the body unless it contains escape sequences.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text.to_string())))
            }
        }

        deserializer.deserialize_str(TextVisitor)
    }
}

/// Unwraps an optional [`Text`].
fn text(value: Option<Text<'_>>) -> Option<Cow<'_, str>> {
    value.map(|text| text.0)
}

/// Unwraps a pipeline, stage or job name, or returns `None` when it is empty.
fn name(value: Text<'_>) -> Option<Cow<'_, str>> {
    Some(value.0).filter(|name| !name.is_empty())
}

/// The `data` object of a modification: string keys with string or null values. A repeated key
/// fails the deserialization.
struct Data<'a>(BTreeMap<Cow<'a, str>, Option<Cow<'a, str>>>);

impl<'de: 'a, 'a> Deserialize<'de> for Data<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DataVisitor;

        impl<'de> Visitor<'de> for DataVisitor {
            type Value = Data<'de>;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("an object of strings")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Data<'de>, A::Error> {
                let mut data = BTreeMap::new();
                while let Some((key, value)) = map.next_entry::<Text, Option<Text>>()? {
                    if data.insert(key.0, text(value)).is_some() {
                        return Err(de::Error::custom("duplicate data key"));
                    }
                }
                Ok(Data(data))
            }
        }

        deserializer.deserialize_map(DataVisitor)
    }
}

/// A value that must be a JSON object. Derived structs alone would also accept an array of the
/// field values in order, which the slow path rejects.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = Object<T>;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("an object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Object<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Object)
            }
        }

        deserializer.deserialize_map(ObjectVisitor(PhantomData))
    }
}

/// A field whose absence must be distinguished from `null`. Declared with `#[serde(default)]`, so
/// an absent key gives `Absent` instead of serde's missing-field rule for `Option`.
#[derive(Default)]
enum Field<T> {
    #[default]
    Absent,
    Present(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Field::Present)
    }
}

impl<T> Field<T> {
    fn required(self) -> Option<T> {
        match self {
            Field::Absent => None,
            Field::Present(value) => Some(value),
        }
    }
}

impl<T> Field<Option<T>> {
    /// Returns the value of a nullable field: required fields must be present, optional ones
    /// read as `None` when absent.
    fn nullable(self, required: bool) -> Option<Option<T>> {
        match self {
            Field::Absent if required => None,
            Field::Absent => Some(None),
            Field::Present(value) => Some(value),
        }
    }
}

/// The flat body: exactly these fields, all required.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct FlatWire<'a> {
    #[serde(borrow)]
    pipeline_name: Text<'a>,
    pipeline_counter: u64,
    #[serde(borrow)]
    stage_name: Text<'a>,
    #[serde(borrow)]
    stage_counter: Text<'a>,
    #[serde(borrow)]
    stage_state: Text<'a>,
    #[serde(borrow)]
    stage_result: Text<'a>,
    #[serde(borrow)]
    create_time: Text<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body<'a> {
    #[serde(borrow)]
    pipeline: Object<PipelineWire<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct PipelineWire<'a> {
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    counter: Text<'a>,
    #[serde(default, borrow)]
    label: Field<Option<Text<'a>>>,
    #[serde(default, borrow)]
    group: Field<Option<Text<'a>>>,
    #[serde(borrow)]
    build_cause: Vec<Object<MaterialRevisionWire<'a>>>,
    #[serde(borrow)]
    stage: Object<StageWire<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct StageWire<'a> {
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    counter: Text<'a>,
    #[serde(default, borrow)]
    approval_type: Field<Option<Text<'a>>>,
    #[serde(default, borrow)]
    approved_by: Field<Option<Text<'a>>>,
    #[serde(default, borrow)]
    previous_stage_name: Field<Option<Text<'a>>>,
    #[serde(default)]
    previous_stage_counter: Field<u64>,
    #[serde(borrow)]
    state: Text<'a>,
    #[serde(borrow)]
    result: Text<'a>,
    #[serde(default, borrow)]
    create_time: Field<Option<Text<'a>>>,
    #[serde(default, borrow)]
    last_transition_time: Field<Option<Text<'a>>>,
    #[serde(borrow)]
    jobs: Vec<Object<JobWire<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct JobWire<'a> {
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(default, borrow)]
    schedule_time: Field<Option<Text<'a>>>,
    #[serde(default, borrow)]
    assign_time: Field<Option<Text<'a>>>,
    #[serde(default, borrow)]
    complete_time: Field<Option<Text<'a>>>,
    #[serde(borrow)]
    state: Text<'a>,
    #[serde(borrow)]
    result: Text<'a>,
    #[serde(default, borrow)]
    agent_uuid: Field<Option<Text<'a>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MaterialRevisionWire<'a> {
    #[serde(borrow)]
    material: MaterialWire<'a>,
    changed: bool,
    #[serde(borrow)]
    modifications: Vec<Object<ModificationWire<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct ModificationWire<'a> {
    #[serde(borrow)]
    revision: Text<'a>,
    #[serde(default, borrow)]
    modified_time: Field<Option<Text<'a>>>,
    /// Absent and null both mean no data.
    #[serde(default, borrow)]
    data: Option<Data<'a>>,
}

/// A material as GoCD sends it: `type`, the `<type>-configuration` object, `plugin-id` and
/// `fingerprint`. Other keys are read as JSON values (so the nesting limit applies) and dropped,
/// which is what the slow path does with them. A key repeated in the material or in any object
/// inside it fails the deserialization.
struct MaterialWire<'a> {
    material_type: Cow<'a, str>,
    /// Every `*-configuration` key with its value, because the type may come after them.
    configurations: Vec<(Cow<'a, str>, Value)>,
    plugin_id: Option<Cow<'a, str>>,
    fingerprint: Field<Option<Cow<'a, str>>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for MaterialWire<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MaterialVisitor;

        impl<'de> Visitor<'de> for MaterialVisitor {
            type Value = MaterialWire<'de>;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a material object")
            }

            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<MaterialWire<'de>, A::Error> {
                let mut material_type = None;
                let mut configurations: Vec<(Cow<'de, str>, Value)> = Vec::new();
                let mut plugin_id = None;
                let mut fingerprint = Field::Absent;
                let mut other_keys: Vec<Cow<'de, str>> = Vec::new();

                while let Some(key) = map.next_key::<Text>()? {
                    let key = key.0;
                    match key.as_ref() {
                        "type" if material_type.is_none() => {
                            material_type = Some(map.next_value::<Text>()?.0);
                        }
                        "plugin-id" if plugin_id.is_none() => {
                            plugin_id = Some(map.next_value::<Option<Text>>()?.map(|id| id.0));
                        }
                        "fingerprint" if matches!(fingerprint, Field::Absent) => {
                            let value = map.next_value::<Option<Text>>()?;
                            fingerprint = Field::Present(value.map(|text| text.0));
                        }
                        "type" | "plugin-id" | "fingerprint" => {
                            return Err(de::Error::custom("duplicate material key"));
                        }
                        name if name.ends_with("-configuration") => {
                            if configurations.iter().any(|(known, _)| known == name) {
                                return Err(de::Error::custom("duplicate material key"));
                            }
                            let UniqueValue(value) = map.next_value()?;
                            configurations.push((key, value));
                        }
                        _ => {
                            if other_keys.contains(&key) {
                                return Err(de::Error::custom("duplicate material key"));
                            }
                            map.next_value::<UniqueValue>()?;
                            other_keys.push(key);
                        }
                    }
                }

                Ok(MaterialWire {
                    material_type: material_type.ok_or_else(|| de::Error::missing_field("type"))?,
                    configurations,
                    plugin_id: plugin_id.flatten(),
                    fingerprint,
                })
            }
        }

        deserializer.deserialize_map(MaterialVisitor)
    }
}

/// Conversions from the wire structs, with the API version and the date format it implies.
struct Reader {
    version: ApiVersion,
    dates: DateFormat,
}

impl Reader {
    fn event<'a>(&self, pipeline: PipelineWire<'a>) -> Option<StageEvent<'a>> {
        let label = text(pipeline.label.nullable(self.version >= ApiVersion::V2)?);
        let build_cause = pipeline
            .build_cause
            .into_iter()
            .map(|Object(revision)| self.material_revision(revision))
            .collect::<Option<Vec<_>>>()?;
        let (stage, jobs) = self.stage(pipeline.stage.0)?;

        Some(StageEvent {
            pipeline: PipelineRun {
                name: name(pipeline.name)?,
                counter: parse_counter(&pipeline.counter.0)?,
                label,
                group: text(pipeline.group.required()?),
            },
            stage,
            jobs,
            build_cause,
            source: EventSource::Nested {
                api_version: Cow::Borrowed(self.version.as_str()),
            },
        })
    }

    fn stage<'a>(&self, stage: StageWire<'a>) -> Option<(StageRun<'a>, Vec<Job<'a>>)> {
        let from_v4 = self.version >= ApiVersion::V4;
        // GoCD sends 0 when the stage has no upstream stage in the pipeline run.
        let previous_stage_counter = match stage.previous_stage_counter {
            Field::Absent if from_v4 => return None,
            Field::Absent => None,
            Field::Present(counter) => Some(counter).filter(|counter| *counter > 0),
        };
        let jobs = stage
            .jobs
            .into_iter()
            .map(|Object(job)| self.job(job))
            .collect::<Option<Vec<_>>>()?;

        let run = StageRun {
            name: name(stage.name)?,
            counter: parse_counter(&stage.counter.0)?,
            state: StageState::from_wire_name(&stage.state.0)?,
            result: StageResult::from_wire_name(&stage.result.0)?,
            approval_type: text(stage.approval_type.required()?),
            approved_by: text(stage.approved_by.required()?),
            previous_stage_name: text(stage.previous_stage_name.nullable(from_v4)?),
            previous_stage_counter,
            create_time: self.date(stage.create_time, true)?,
            last_transition_time: self.date(stage.last_transition_time, true)?,
        };
        Some((run, jobs))
    }

    fn job<'a>(&self, job: JobWire<'a>) -> Option<Job<'a>> {
        Some(Job {
            name: name(job.name)?,
            state: job.state.0,
            result: StageResult::from_wire_name(&job.result.0)?,
            schedule_time: self.date(job.schedule_time, true)?,
            assign_time: self.date(job.assign_time, self.version >= ApiVersion::V2)?,
            complete_time: self.date(job.complete_time, true)?,
            agent_uuid: text(job.agent_uuid.required()?),
        })
    }

    fn material_revision<'a>(
        &self,
        revision: MaterialRevisionWire<'a>,
    ) -> Option<MaterialRevision<'a>> {
        let material = revision.material;
        let fingerprint = if self.version >= ApiVersion::V4 {
            Some(material.fingerprint.required()??)
        } else {
            material.fingerprint.nullable(false)?
        };
        let configuration = configuration_of(&material.material_type, material.configurations)?;
        let modifications = revision
            .modifications
            .into_iter()
            .map(|Object(modification)| self.modification(modification))
            .collect::<Option<Vec<_>>>()?;

        Some(MaterialRevision {
            material_type: material.material_type,
            configuration,
            plugin_id: material.plugin_id,
            fingerprint,
            changed: revision.changed,
            modifications,
        })
    }

    fn modification<'a>(&self, modification: ModificationWire<'a>) -> Option<Modification<'a>> {
        Some(Modification {
            revision: modification.revision.0,
            modified_time: self.date(modification.modified_time, true)?,
            data: modification.data.map(|data| data.0).unwrap_or_default(),
        })
    }

    /// Reads a date that GoCD sends as `""` or null when it is not set.
    fn date(&self, field: Field<Option<Text>>, required: bool) -> Option<Option<DateTime<Utc>>> {
        match field.nullable(required)? {
            None => Some(None),
            Some(text) if text.0.is_empty() => Some(None),
            Some(text) => self.dates.parse(&text.0).ok().map(Some),
        }
    }
}

/// Picks the `<type>-configuration` object; absent or null give an empty object.
fn configuration_of(
    material_type: &str,
    configurations: Vec<(Cow<'_, str>, Value)>,
) -> Option<Map<String, Value>> {
    let value = configurations
        .into_iter()
        .find(|(name, _)| name.strip_suffix("-configuration") == Some(material_type))
        .map(|(_, value)| value);
    match value {
        None | Some(Value::Null) => Some(Map::new()),
        Some(Value::Object(object)) => Some(object),
        Some(_) => None,
    }
}
