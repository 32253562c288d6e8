//! The typed stage event that every accepted `stage-status` body becomes.
//!
//! The flat body and the nested bodies of API 1.0 to 4.0 all parse into [`StageEvent`]. Fields a
//! form does not carry are `None` or empty. Serialized with serde, this is also the schema of the
//! event-log lines and of the webhook payload's `event` object.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One stage-status notification: a stage of a pipeline run changed state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageEvent {
    pub pipeline: PipelineRun,
    pub stage: StageRun,
    pub jobs: Vec<Job>,
    pub build_cause: Vec<MaterialRevision>,
    /// Body format and GoCD API version that the event was parsed from.
    pub source: EventSource,
}

/// Identity of one pipeline run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PipelineRun {
    pub name: String,
    pub counter: u64,
    /// Pipeline label (API 2.0 and later).
    pub label: Option<String>,
    /// Pipeline group, which GoCD may send as null.
    pub group: Option<String>,
}

/// One run of a stage and its state at the time of the notification.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageRun {
    pub name: String,
    pub counter: u64,
    pub state: StageState,
    pub result: StageResult,
    /// `success` (automatic) or `manual`.
    pub approval_type: Option<String>,
    /// `changes`, `timer` or the name of the user who triggered the stage.
    pub approved_by: Option<String>,
    /// Upstream stage of the same pipeline run (API 4.0), not the previous run of this stage.
    pub previous_stage_name: Option<String>,
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
pub struct Job {
    pub name: String,
    /// Job state as GoCD sends it (`Scheduled`, `Assigned`, `Building`, `Completed`, ...).
    pub state: String,
    pub result: StageResult,
    pub schedule_time: Option<DateTime<Utc>>,
    /// API 2.0 and later.
    pub assign_time: Option<DateTime<Utc>>,
    pub complete_time: Option<DateTime<Utc>>,
    pub agent_uuid: Option<String>,
}

/// One material of the build cause, with the modifications that triggered the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MaterialRevision {
    /// `git`, `mercurial`, `svn`, `perforce`, `tfs`, `pipeline`, `package`, `scm`, ...
    pub material_type: String,
    /// The `<type>-configuration` object as GoCD sent it (URLs arrive with credentials masked).
    pub configuration: serde_json::Map<String, serde_json::Value>,
    /// Plugin that provides the material, for `scm` and `package` materials.
    pub plugin_id: Option<String>,
    /// API 4.0 and later.
    pub fingerprint: Option<String>,
    pub changed: bool,
    pub modifications: Vec<Modification>,
}

/// One revision of a material.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Modification {
    pub revision: String,
    pub modified_time: Option<DateTime<Utc>>,
    /// Material-specific data of the revision; GoCD may send null values.
    pub data: BTreeMap<String, Option<String>>,
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
    Nested { api_version: String },
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

impl StageEvent {
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
