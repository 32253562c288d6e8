//! Parsing of `agent-status` bodies (API 3.0 and later) into [`AgentEvent`].

use super::body::decode_object;
use super::fields::{Fields, Presence};
use super::time::DateFormat;
use super::{ApiVersion, Problem};
use crate::event::AgentEvent;

/// API versions in which GoCD sends `agent-status`.
pub const AGENT_STATUS_VERSIONS: [ApiVersion; 2] = [ApiVersion::V3, ApiVersion::V4];

/// Parses an `agent-status` body; unknown keys are ignored. On failure, returns every problem found.
pub fn parse_agent_status(
    body: Option<&[u8]>,
    api_version: &str,
) -> Result<AgentEvent, Vec<Problem>> {
    let object = decode_object(body).map_err(|problem| vec![problem])?;
    let version = ApiVersion::parse_or_problem(api_version, &AGENT_STATUS_VERSIONS)
        .map_err(|problem| vec![problem])?;
    let agent = Fields::new(&object, "");
    let mut problems = Vec::new();

    let uuid = agent.string("uuid", &mut problems);
    let host_name = agent.nullable_string("host_name", Presence::Required, &mut problems);
    let is_elastic = agent.boolean("is_elastic", &mut problems);
    let ip_address = agent.nullable_string("ip_address", Presence::Required, &mut problems);
    let operating_system =
        agent.nullable_string("operating_system", Presence::Required, &mut problems);
    let free_space = agent.nullable_string("free_space", Presence::Required, &mut problems);
    let agent_config_state = agent.string("agent_config_state", &mut problems);
    let agent_state = agent.string("agent_state", &mut problems);
    let build_state = agent.string("build_state", &mut problems);
    let transition_time = agent.optional_date(
        "transition_time",
        DateFormat::Offset,
        Presence::Required,
        &mut problems,
    );

    let event = (|| {
        Some(AgentEvent {
            uuid: uuid?,
            host_name: host_name?,
            is_elastic: is_elastic?,
            ip_address: ip_address?,
            operating_system: operating_system?,
            free_space: free_space?,
            agent_config_state: agent_config_state?,
            agent_state: agent_state?,
            build_state: build_state?,
            transition_time: transition_time?,
            api_version: version.as_str().to_string(),
        })
    })();
    match event {
        Some(event) if problems.is_empty() => Ok(event),
        _ => Err(problems),
    }
}
