//! The typed stage event that every accepted `stage-status` body becomes.
//!
//! The flat body and the nested bodies of API 1.0 to 4.0 all parse into [`StageEvent`]. Fields a
//! form does not carry are `None` or empty. Serialized with serde, this is also the schema of the
//! event-log lines and of the webhook payload's `event` object.
//!
//! Text fields are `Cow<'a, str>`, because the fast parser borrows every string that GoCD sent
//! without escape sequences from the request body. A valid notification then allocates little
//! besides its lists. Events deserialized with serde own their text.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One stage-status notification: a stage of a pipeline run changed state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageEvent<'a> {
    pub pipeline: PipelineRun<'a>,
    pub stage: StageRun<'a>,
    pub jobs: Vec<Job<'a>>,
    pub build_cause: Vec<MaterialRevision<'a>>,
    /// Body format and GoCD API version that the event was parsed from.
    pub source: EventSource,
}

/// Identity of one pipeline run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PipelineRun<'a> {
    pub name: Cow<'a, str>,
    pub counter: u64,
    /// Pipeline label (API 2.0 and later).
    pub label: Option<Cow<'a, str>>,
    /// Pipeline group, which GoCD may send as null.
    pub group: Option<Cow<'a, str>>,
}

/// One run of a stage and its state at the time of the notification.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageRun<'a> {
    pub name: Cow<'a, str>,
    pub counter: u64,
    pub state: StageState,
    pub result: StageResult,
    /// `success` (automatic) or `manual`.
    pub approval_type: Option<Cow<'a, str>>,
    /// `changes`, `timer` or the name of the user who triggered the stage.
    pub approved_by: Option<Cow<'a, str>>,
    /// Upstream stage of the same pipeline run (API 4.0), not the previous run of this stage.
    pub previous_stage_name: Option<Cow<'a, str>>,
    pub previous_stage_counter: Option<u64>,
    pub create_time: Option<DateTime<Utc>>,
    pub last_transition_time: Option<DateTime<Utc>>,
}

/// Stage state as GoCD names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StageState {
    Building,
    Failing,
    Passed,
    Failed,
    Cancelled,
    Unknown,
}

/// Stage result as GoCD names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StageResult {
    Passed,
    Failed,
    Cancelled,
    Unknown,
}

/// One job of the stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job<'a> {
    pub name: Cow<'a, str>,
    /// Job state as GoCD sends it (`Scheduled`, `Assigned`, `Building`, `Completed`, ...).
    pub state: Cow<'a, str>,
    pub result: StageResult,
    pub schedule_time: Option<DateTime<Utc>>,
    /// API 2.0 and later.
    pub assign_time: Option<DateTime<Utc>>,
    pub complete_time: Option<DateTime<Utc>>,
    pub agent_uuid: Option<Cow<'a, str>>,
}

/// One material of the build cause, with the modifications that triggered the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MaterialRevision<'a> {
    /// `git`, `mercurial`, `svn`, `perforce`, `tfs`, `pipeline`, `package`, `scm`, ...
    pub material_type: Cow<'a, str>,
    /// The `<type>-configuration` object as GoCD sent it (URLs arrive with credentials masked).
    pub configuration: serde_json::Map<String, serde_json::Value>,
    /// Plugin that provides the material, for `scm` and `package` materials.
    pub plugin_id: Option<Cow<'a, str>>,
    /// API 4.0 and later.
    pub fingerprint: Option<Cow<'a, str>>,
    pub changed: bool,
    pub modifications: Vec<Modification<'a>>,
}

/// One revision of a material.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Modification<'a> {
    pub revision: Cow<'a, str>,
    pub modified_time: Option<DateTime<Utc>>,
    /// Material-specific data of the revision; GoCD may send null values.
    pub data: BTreeMap<Cow<'a, str>, Option<Cow<'a, str>>>,
}

/// One agent-status notification (API 3.0 and later): an agent changed state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentEvent {
    pub uuid: String,
    pub host_name: Option<String>,
    pub is_elastic: bool,
    pub ip_address: Option<String>,
    pub operating_system: Option<String>,
    /// Free disk space as GoCD formats it, such as `12.3 GB` or `Unknown`.
    pub free_space: Option<String>,
    /// `Pending`, `Enabled` or `Disabled`, kept as text so that new GoCD states pass through.
    pub agent_config_state: String,
    /// `Idle`, `Building`, `LostContact`, `Missing`, ... as GoCD sends it.
    pub agent_state: String,
    /// `Idle`, `Building`, `Cancelled`, ... as GoCD sends it.
    pub build_state: String,
    pub transition_time: Option<DateTime<Utc>>,
    /// GoCD API version that the event was parsed from.
    pub api_version: String,
}

/// Body format that an event was parsed from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "kebab-case")]
pub enum EventSource {
    /// The flat body of the original notification design.
    Flat,
    /// The nested body that released GoCD servers send, with the negotiated API version.
    Nested { api_version: Cow<'static, str> },
}

impl StageState {
    /// Returns the name GoCD uses on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            StageState::Building => "Building",
            StageState::Failing => "Failing",
            StageState::Passed => "Passed",
            StageState::Failed => "Failed",
            StageState::Cancelled => "Cancelled",
            StageState::Unknown => "Unknown",
        }
    }
}

impl StageResult {
    /// Returns the name GoCD uses on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            StageResult::Passed => "Passed",
            StageResult::Failed => "Failed",
            StageResult::Cancelled => "Cancelled",
            StageResult::Unknown => "Unknown",
        }
    }
}

impl fmt::Display for StageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for StageResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl StageEvent<'_> {
    /// Returns the id that stays the same for every delivery of this notification, so receivers
    /// can drop duplicates: pipeline, pipeline counter, stage, stage counter and stage state.
    pub fn event_id(&self) -> String {
        format!(
            "{}/{}/{}/{}/{}",
            self.pipeline.name,
            self.pipeline.counter,
            self.stage.name,
            self.stage.counter,
            self.stage.state
        )
    }
}

/// Copies borrowed text, so the value no longer borrows from the request body.
fn owned(text: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(text.into_owned())
}

fn owned_option(text: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
    text.map(owned)
}

impl StageEvent<'_> {
    /// Returns the event with every string copied out of the request body.
    pub fn into_owned(self) -> StageEvent<'static> {
        StageEvent {
            pipeline: PipelineRun {
                name: owned(self.pipeline.name),
                counter: self.pipeline.counter,
                label: owned_option(self.pipeline.label),
                group: owned_option(self.pipeline.group),
            },
            stage: self.stage.into_owned(),
            jobs: self.jobs.into_iter().map(Job::into_owned).collect(),
            build_cause: self
                .build_cause
                .into_iter()
                .map(MaterialRevision::into_owned)
                .collect(),
            source: self.source,
        }
    }
}

impl StageRun<'_> {
    fn into_owned(self) -> StageRun<'static> {
        StageRun {
            name: owned(self.name),
            counter: self.counter,
            state: self.state,
            result: self.result,
            approval_type: owned_option(self.approval_type),
            approved_by: owned_option(self.approved_by),
            previous_stage_name: owned_option(self.previous_stage_name),
            previous_stage_counter: self.previous_stage_counter,
            create_time: self.create_time,
            last_transition_time: self.last_transition_time,
        }
    }
}

impl Job<'_> {
    fn into_owned(self) -> Job<'static> {
        Job {
            name: owned(self.name),
            state: owned(self.state),
            result: self.result,
            schedule_time: self.schedule_time,
            assign_time: self.assign_time,
            complete_time: self.complete_time,
            agent_uuid: owned_option(self.agent_uuid),
        }
    }
}

impl MaterialRevision<'_> {
    fn into_owned(self) -> MaterialRevision<'static> {
        MaterialRevision {
            material_type: owned(self.material_type),
            configuration: self.configuration,
            plugin_id: owned_option(self.plugin_id),
            fingerprint: owned_option(self.fingerprint),
            changed: self.changed,
            modifications: self
                .modifications
                .into_iter()
                .map(|modification| Modification {
                    revision: owned(modification.revision),
                    modified_time: modification.modified_time,
                    data: modification
                        .data
                        .into_iter()
                        .map(|(key, value)| (owned(key), owned_option(value)))
                        .collect(),
                })
                .collect(),
        }
    }
}
